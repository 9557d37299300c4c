"""Winback's code location and command line.

Every Winback process (the `winback` command, the Dagster code server that workspace.yaml points
at, Dagster's run and step workers) imports this package first, so process-wide warning filters
live here.

pyspark (the engines extra) warns at import that it "does not yet fully support pandas >= 3.0.0"
(pyspark.sql.pandas.utils, FutureWarning), and Great Expectations imports pyspark on import
whenever it is installed (great_expectations.compatibility.pyspark), so every run printed it on
stderr though the pipeline never uses pyspark's pandas API; the pinned pyspark/pandas pair is the
one tests/integration/test_pipeline_on_spark.py runs the pipeline with. Only that warning,
raised from pyspark's modules, is ignored; every other warning still reaches stderr.
"""

import warnings

warnings.filterwarnings(
    "ignore",
    message=r"PySpark does not yet fully support pandas",
    category=FutureWarning,
    module=r"pyspark\.",
)

"""The dbt layer gives the same marts on Spark as on DuckDB (tests/engine_parity.py says how they
are compared; PostgreSQL: test_engine_parity_postgres.py).

The costliest module of the suite (a JVM and one `dbt build` on a local Spark session), so
tests/conftest.py starts it first. The build happens once, in the module's fixture, and three
tests read it: pytest-xdist hands a worker a further module as soon as two or fewer of its tests
are left, so with three the next module is sent when the build is done rather than queued behind
it for minutes while the other worker may run out of work.

Needs the engines extra (pyspark, dbt-spark) and Java; locally a missing one skips the tests
with the reason, under CI=true they fail.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator

import pytest
from engine_parity import (
    copy_sources,
    dbt_build,
    differences,
    duckdb_fingerprints,
    mart_fingerprints,
    mart_tables,
    unavailable,
)

from orchestration.lib.engines import SparkEngine
from orchestration.lib.settings import EngineSettings, SparkSettings

pytestmark = [pytest.mark.integration, pytest.mark.pipeline_runs(12)]  # Spark: minutes


@pytest.fixture(scope="module")
def spark_build(fixture_run, tmp_path_factory) -> Iterator[tuple[list[str], dict, dict]]:
    """The sources of the shared DuckDB run copied into a Spark warehouse and `dbt build` on
    it: what failed, the DuckDB marts' fingerprints and the Spark marts'."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        unavailable("no Java (openjdk-17-jre-headless) for Spark")
    if (importlib.util.find_spec("pyspark") is None
            or importlib.util.find_spec("dbt.adapters.spark") is None):
        unavailable("pyspark or dbt-spark is not installed (make test EXTRAS=dev,engines)")
    tmp = tmp_path_factory.mktemp("spark_parity")
    expected = duckdb_fingerprints(fixture_run.warehouse)
    spark = SparkSettings(tmp / "spark")
    engine = SparkEngine(spark)
    try:
        with pytest.MonkeyPatch.context() as monkeypatch:
            copy_sources(fixture_run.warehouse, engine)
            failed = dbt_build(EngineSettings("spark", spark=spark), tmp, monkeypatch)
            actual = mart_fingerprints(engine) if not failed else {}
        yield failed, expected, actual
    finally:
        engine.spark.stop()


def test_dbt_build_on_spark_passes_every_model_data_test_unit_test_and_contract(spark_build):
    failed, _, _ = spark_build
    assert failed == []


def test_every_spark_mart_has_the_duckdb_row_count(spark_build):
    failed, expected, actual = spark_build
    assert not failed, "dbt build failed on Spark: see the first test"
    assert len(expected) == len(mart_tables()) and sum(f["rows"] for f in expected.values()) > 0
    assert {t: f["rows"] for t, f in actual.items()} == {t: f["rows"] for t, f in expected.items()}


def test_every_spark_mart_has_the_duckdb_columns_and_values(spark_build):
    _, expected, actual = spark_build
    assert differences(expected, actual) == []

"""The whole daily job on Spark (WINBACK_ENGINE=spark, a local session) writes the same export
files, byte for byte, as the DuckDB run of the same landing data and as-of date, and builds the
same marts, also when it runs again on the Spark warehouse it left; the dbt unit tests pass on
that warehouse.

The DuckDB side is the shared fixture run (tests/fixture_run.py); the Spark side runs the same
hand-made landing fixture on a Spark warehouse (tables and Derby metastore) under a temporary
folder, under the same Dagster run id, which every export's manifest.json records as
`source_run`. dbt runs as dagster-dbt's subprocess with a JVM of its own; the copies around it
run in child processes whose JVM has exited before dbt's starts (orchestration/defs/dbt/
engine_copy.py), as the Great Expectations gate does (orchestration/defs/quality/in_spark.py),
and the marts are read at the end in one more such child. The production dbt
steps run models, data tests and contracts, not the unit tests: the last test runs those.

The costliest module of the suite, so tests/conftest.py starts it first (pipeline_runs). The
runs happen once, in the module's fixture, and four tests read them: pytest-xdist hands a
worker a further module as soon as two or fewer of its tests are left, so the next module goes
out when the runs are done rather than queued behind them.

Needs the engines extra (pyspark, dbt-spark) and Java; locally a missing one skips the tests
with the reason, under CI=true they fail.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from daily_run import run_daily
from engine_parity import (
    dbt_unit_tests,
    differences,
    duckdb_fingerprints,
    export_sha256,
    mart_tables,
    spark_mart_fingerprints,
    spark_settings,
    unavailable,
)
from landing_fixture import AS_OF, write_landing

from orchestration.lib.settings import EngineSettings

pytestmark = [pytest.mark.integration, pytest.mark.pipeline_runs(14)]  # Spark: minutes


@dataclass
class SparkRuns:
    root: Path
    exports: list[dict[str, str]]  # the export files' sha256 after each run
    steps: list[tuple[set[str], set[str]]]  # each run's (succeeded, skipped) step keys
    gates: list[dict]  # each run's Great Expectations check evaluations, by check name
    marts: dict[str, dict]  # the marts' fingerprints in the Spark warehouse after the last run


@pytest.fixture(scope="module")
def spark_runs(fixture_run, tmp_path_factory) -> Iterator[SparkRuns]:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        unavailable("no Java (openjdk-17-jre-headless) for Spark")
    if (importlib.util.find_spec("pyspark") is None
            or importlib.util.find_spec("dbt.adapters.spark") is None):
        unavailable("pyspark or dbt-spark is not installed (make test EXTRAS=dev,engines)")
    root = tmp_path_factory.mktemp("pipeline_on_spark")
    write_landing(root / "landing")
    exports, steps, gates = [], [], []
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("WINBACK_ENGINE", "spark")
        monkeypatch.setenv("WINBACK_SPARK_WAREHOUSE", str(root / "spark"))
        # The same run id: each export's manifest.json records the run that wrote it. Twice: the
        # second run finds dbt's incremental marts and their contracts built on Spark.
        for _ in range(2):
            result = run_daily(root, AS_OF, run_id=fixture_run.result.run_id)
            exports.append(export_sha256(root / "exports"))
            steps.append(({e.step_key for e in result.all_events if e.is_step_success},
                          {e.step_key for e in result.all_events if e.is_step_skipped}))
            gates.append({e.asset_check_key.name: e for e in result.get_asset_check_evaluations()
                          if e.asset_check_key.name.startswith("gx_")})
    yield SparkRuns(root, exports, steps, gates, spark_mart_fingerprints(root / "spark"))


def test_both_spark_runs_run_every_step_of_the_duckdb_run(fixture_run, spark_runs):
    """A step skipped on the second run (its inputs not produced) would leave the first run's
    files in place, and the export comparison below would pass without the second run."""
    duckdb_steps = {e.step_key for e in fixture_run.result.all_events if e.is_step_success}
    assert {"winback_dbt_models", "winback_dbt_models_after_statistics"} <= duckdb_steps
    assert spark_runs.steps == [(duckdb_steps, set()), (duckdb_steps, set())]


def test_the_great_expectations_gate_validated_in_spark(fixture_run, spark_runs):
    """Both suites ran through GX's Spark datasource (in_spark.py) with the DuckDB run's
    verdicts and row counts; the second run found every row passed and unchanged in the gate's
    state in the Spark warehouse."""
    duckdb_gates = {e.asset_check_key.name: e
                    for e in fixture_run.result.get_asset_check_evaluations()
                    if e.asset_check_key.name.startswith("gx_")}
    first, second = spark_runs.gates
    assert set(first) == set(second) == set(duckdb_gates) \
        == {"gx_contact_hygiene", "gx_sync_audience_members"}
    for name, duckdb_gate in duckdb_gates.items():
        assert duckdb_gate.metadata["gx_datasource"].value == "pandas"
        assert first[name].passed and second[name].passed
        assert first[name].metadata["gx_datasource"].value == "spark"
        assert first[name].metadata["rows_validated"].value \
            == duckdb_gate.metadata["rows_validated"].value > 0
        assert second[name].metadata["rows_validated"].value == 0
        assert second[name].metadata["rows_skipped_unchanged"].value \
            == first[name].metadata["rows_validated"].value


def test_both_spark_runs_write_the_duckdb_runs_export_files_byte_for_byte(
        fixture_run, spark_runs):
    expected = export_sha256(fixture_run.root / "exports")
    assert len(expected) > 10
    assert spark_runs.exports == [expected, expected]


def test_dbt_built_every_mart_on_spark_with_the_duckdb_rows_and_values(fixture_run, spark_runs):
    expected = duckdb_fingerprints(fixture_run.warehouse)
    assert len(expected) == len(mart_tables()) and sum(f["rows"] for f in expected.values()) > 0
    assert differences(expected, spark_runs.marts) == []


def test_the_dbt_unit_tests_pass_on_spark(spark_runs, tmp_path):
    spark = EngineSettings("spark", spark=spark_settings(spark_runs.root / "spark"))
    passed, failed = dbt_unit_tests(spark, tmp_path)
    assert failed == [] and passed > 0

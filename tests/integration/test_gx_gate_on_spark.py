"""The Great Expectations gate on Spark (WINBACK_ENGINE=spark) validates in the engine, through
GX's Spark datasource in a child process, and decides as the DuckDB gate does on the same table.

The fixture run's contacts.contact_hygiene (tests/fixture_run.py) is written to a Spark
warehouse of its own by the pipeline's copy child (engine_copy.push_sources); the DuckDB gate
runs on a copy of the fixture run's warehouse (its gate state cleared). Both validate the whole
table (first run), then the same dirty rows (an address with a no-break space, an invalid address
marked contactable; Spark's Parquet tables have no UPDATE, so the dirty table is written to
Spark again): same verdicts, counts and failing customer ids, only the changed rows validated
again, the gate's state kept in the Spark warehouse; and `winback docs`'s Data Docs, built in
Spark from the dirty table, show the failure and no address. This test process starts no JVM: the
copies and the gate each run in a child whose JVM has exited when it returns. Needs the engines
extra and Java; locally a missing one skips the test with the reason, under CI=true it fails.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import shutil

import pytest
from engine_parity import spark_settings, unavailable
from gx_gate_case import KEY, SUITE, TABLE, failures, gate_case

from orchestration.defs.quality import gx
from orchestration.lib.settings import EngineSettings, load_settings
from orchestration.lib.warehouse import open_warehouse

pytestmark = pytest.mark.integration


def test_the_gate_on_spark_validates_in_the_engine_like_the_duckdb_gate(fixture_run, tmp_path):
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        unavailable("no Java (openjdk-17-jre-headless) for Spark")
    if importlib.util.find_spec("pyspark") is None:
        unavailable("pyspark is not installed (make test EXTRAS=dev,engines)")
    from orchestration.defs.dbt.engine_copy import push_sources
    from orchestration.defs.quality.in_spark import (
        build_data_docs_in_spark_child,
        validate_changed_rows_in_spark_child,
    )

    case = gate_case(fixture_run, tmp_path)
    with open_warehouse(case.warehouse) as con:
        rows = con.execute(f"select count(*) from {TABLE}").fetchone()[0]
        emails = [row[0] for row in con.execute(
            f"select email_normalized from {TABLE} where email_normalized is not null")
            .fetchall()]
    spark = spark_settings(tmp_path / "spark")
    settings = dataclasses.replace(
        load_settings(environ={}, overrides={"WINBACK_WAREHOUSE": str(case.warehouse)}),
        engine=EngineSettings("spark", spark=spark))

    def on_spark():
        return validate_changed_rows_in_spark_child(spark, SUITE, TABLE, KEY, max_rows=10_000)

    assert push_sources(settings, [("contacts", "contact_hygiene")]) == rows
    clean_duckdb, clean_spark = case.on_duckdb(), on_spark()
    with open_warehouse(case.warehouse) as con:
        for statement in case.dirty():
            con.execute(statement)
    push_sources(settings, [("contacts", "contact_hygiene")])
    dirty_duckdb, dirty_spark = case.on_duckdb(), on_spark()
    suites = tmp_path / "expectations"
    suites.mkdir()
    (suites / "contact_hygiene.json").write_text(
        (gx.EXPECTATIONS_DIR / "contact_hygiene.json").read_text())
    index = build_data_docs_in_spark_child(spark, tmp_path / "docs", suites)

    assert rows > 10
    assert clean_spark.datasource == "spark" and clean_duckdb.datasource == "pandas"
    assert clean_spark.outcome.success and clean_spark.full_validation
    assert clean_spark.outcome == clean_duckdb.outcome
    assert clean_spark.outcome.rows == rows

    assert not dirty_spark.outcome.success and not dirty_spark.full_validation
    assert dirty_spark.outcome == dirty_duckdb.outcome
    assert dirty_spark.outcome.rows == 2
    assert dirty_spark.rows_skipped_unchanged == dirty_duckdb.rows_skipped_unchanged == rows - 2
    assert failures(dirty_spark.outcome) == case.expected_failures()

    pages = [p for p in (tmp_path / "docs").rglob("*") if p.suffix in {".html", ".json", ".js"}]
    assert index == tmp_path / "docs" / "index.html" and index.is_file()
    assert "contact_hygiene.html" in {p.name for p in pages}
    text = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in pages)
    assert "Failed" in text or "failed" in text
    assert len(emails) > 5 and [e for e in emails if e in text] == []

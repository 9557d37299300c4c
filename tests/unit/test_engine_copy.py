"""What crosses between PostgreSQL and the local DuckDB file around the dbt steps
(orchestration/defs/dbt/engine_copy.py), the dbt environment of an engine, and the DuckDB side of
the engine interface's streamed writes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import os
from decimal import Decimal

import pyarrow as pa
import pytest

from orchestration.defs.dbt.args import dbt_engine_environment
from orchestration.defs.dbt.engine_copy import (
    EngineCopyError,
    built_relations,
    push_sources,
    step_sources,
)
from orchestration.lib.engines import DuckDBEngine
from orchestration.lib.settings import (
    DBT_PROJECT_DIR,
    EngineSettings,
    PostgresSettings,
    SparkSettings,
    load_settings,
)


def _manifest() -> dict:
    return json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text())


def test_the_first_dbt_step_gets_every_source_but_the_predictions_which_the_second_gets():
    manifest = _manifest()
    first = step_sources(manifest, after_statistics=False)
    second = step_sources(manifest, after_statistics=True)
    every = {(s["schema"], s["identifier"]) for s in manifest["sources"].values()}
    assert set(first) | set(second) == every and not set(first) & set(second)
    assert ("raw", "orders") in first and ("hygiene", "email_checks") in first
    assert second and {schema for schema, _ in second} == {"predictions"}


def test_the_tables_dbt_built_are_copied_back_but_not_its_views():
    nodes = [
        {"schema": "activity", "name": "customer_activity", "config": {"materialized": "table"}},
        {"schema": "inactivity", "name": "customer_status_changes",
         "config": {"materialized": "incremental"}},
        {"schema": "staging", "name": "stg_shop__orders", "config": {"materialized": "view"}},
        {"schema": "intermediate", "name": "int_x", "config": {"materialized": "ephemeral"}},
        {"schema": "main", "name": "country_codes", "alias": "countries",
         "config": {"materialized": "seed"}},
    ]
    assert built_relations(nodes) == [("activity", "customer_activity"),
                                      ("inactivity", "customer_status_changes"),
                                      ("main", "countries")]


def test_a_postgres_dbt_invocation_sees_the_target_and_password_only_while_it_starts(
        monkeypatch):
    monkeypatch.delenv("DBT_ENV_SECRET_WINBACK_POSTGRES_PASSWORD", raising=False)
    monkeypatch.setenv("WINBACK_ENGINE", "postgres")
    engine = EngineSettings("postgres", postgres=PostgresSettings(
        host="db", port=5432, user="ana", database="shop", password="s3cret"))
    with dbt_engine_environment(engine):
        assert os.environ["DBT_ENV_SECRET_WINBACK_POSTGRES_PASSWORD"] == "s3cret"
        assert os.environ["WINBACK_ENGINE"] == "postgres"
    assert "DBT_ENV_SECRET_WINBACK_POSTGRES_PASSWORD" not in os.environ
    assert os.environ["WINBACK_ENGINE"] == "postgres"


def test_duckdb_writes_a_table_from_a_stream_of_batches(tmp_path):
    schema = pa.schema([("customer_id", pa.string()), ("orders", pa.int64())])
    batches = (pa.record_batch([[f"c{i}" for i in range(start, start + 3)], [1, 2, 3]],
                               schema=schema) for start in (0, 3, 6))
    engine = DuckDBEngine(tmp_path / "wh.duckdb")
    try:
        rows = engine.write_table("activity", "t",
                                  pa.RecordBatchReader.from_batches(schema, batches))
        assert rows == 9
        assert engine.read_batches("select count(*) as n, sum(orders) as s from activity.t"
                                   ).read_all().to_pylist() == [{"n": 9, "s": 18}]
    finally:
        engine.close()


def test_postgres_reads_back_exact_values_and_types_through_copy():
    """The copy back (COPY ... TO STDOUT parsed by Arrow): nulls stay nulls and empty strings
    empty, quotes and line breaks survive, timestamps keep their instant, numerics their scale,
    floats their last bit; batches hold at most batch_rows rows; no row still gives the schema."""
    from engine_parity import new_postgres_database

    from orchestration.lib.engines import PostgresEngine

    with new_postgres_database() as database:
        engine = PostgresEngine(database)
        try:
            engine.execute(
                "create table t (id int, name text, ok boolean, seen timestamptz, day date, "
                "at timestamp, amount numeric(18, 2), ratio numeric, score double precision, "
                "n bigint)")
            engine.execute(
                "insert into t values "
                "(1, '', true, '2026-06-30 10:00:00.123456+02', '2026-06-30', "
                "'2026-06-30 08:00:00', 1.50, 0.123456789, 0.1, 9007199254740993), "
                "(2, null, false, null, null, null, null, null, 'NaN', null), "
                "(3, 'a,\"b\"' || chr(10) || 'c', null, '1999-12-31 23:59:59+00', "
                "'1999-12-31', '1999-12-31 23:59:59.5', -0.01, -7, 1e-300, -1)")
            reader = engine.read_batches("select * from t order by id", batch_rows=2)
            batches = list(reader)
            assert [b.num_rows for b in batches] == [2, 1]
            assert reader.schema.field("seen").type == pa.timestamp("us", tz="UTC")
            assert reader.schema.field("amount").type == pa.decimal128(18, 2)
            rows = pa.Table.from_batches(batches, reader.schema).to_pylist()
            assert rows[0]["name"] == "" and rows[1]["name"] is None
            assert rows[2]["name"] == 'a,"b"\nc'
            assert [r["ok"] for r in rows] == [True, False, None]
            assert rows[0]["seen"] == dt.datetime(2026, 6, 30, 8, 0, 0, 123456, tzinfo=dt.UTC)
            assert rows[2]["at"] == dt.datetime(1999, 12, 31, 23, 59, 59, 500000)
            assert rows[0]["day"] == dt.date(2026, 6, 30) and rows[1]["day"] is None
            assert [r["amount"] for r in rows] == [Decimal("1.50"), None, Decimal("-0.01")]
            assert rows[0]["ratio"] == Decimal("0.123456789")
            assert rows[0]["score"] == 0.1 and rows[2]["score"] == 1e-300
            assert math.isnan(rows[1]["score"])
            assert [r["n"] for r in rows] == [9007199254740993, None, -1]
            empty = engine.read_batches("select id, name from t where id < 0")
            assert empty.schema.names == ["id", "name"] and empty.read_all().num_rows == 0
        finally:
            engine.close()


def test_postgres_read_left_half_read_or_failing_leaves_the_connection_usable():
    from engine_parity import new_postgres_database

    from orchestration.lib.engines import PostgresEngine

    with new_postgres_database() as database:
        engine = PostgresEngine(database)
        try:
            engine.execute("create table big as select g as id, repeat('x', 200) as pad "
                           "from generate_series(1, 200000) g")
            reader = engine.read_batches("select * from big", batch_rows=1000)
            assert reader.read_next_batch().num_rows == 1000
            reader.close()  # a reader left half-read must not hold the connection
            try:
                engine.read_batches("select 1 / (id - 150000) as x from big").read_all()
            except Exception as error:  # noqa: BLE001
                assert "division by zero" in str(error)
            else:
                raise AssertionError("a failing COPY must raise, not return part of the rows")
            assert engine.tables("public") == ["big"]
        finally:
            engine.close()


def test_a_failed_spark_copy_child_names_the_step_and_no_value(tmp_path):
    """On Spark the copy runs in a child process (its JVM must be gone before dbt's starts): a
    child that fails raises in the run with its exit code, and the run does not hang."""
    settings = load_settings(environ={}, overrides={
        "WINBACK_WAREHOUSE": str(tmp_path / "missing" / "warehouse.duckdb")})
    settings = dataclasses.replace(settings, engine=EngineSettings(
        "spark", spark=SparkSettings(tmp_path / "spark")))
    (tmp_path / "missing" / "warehouse.duckdb").parent.mkdir()
    (tmp_path / "missing" / "warehouse.duckdb").write_text("ana@example.com is not a database")
    with pytest.raises(EngineCopyError) as failed:
        push_sources(settings, [("raw", "orders")])
    message = str(failed.value)
    assert message.startswith("the Spark push of 1 tables failed (child process exit code 1)")
    assert "ana@example.com" not in message
    assert not (tmp_path / "spark" / "metastore_db").exists()

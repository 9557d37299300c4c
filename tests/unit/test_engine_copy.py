"""What crosses between PostgreSQL and the local DuckDB file around the dbt steps
(orchestration/defs/dbt/engine_copy.py), the dbt environment of an engine, and the DuckDB side of
the engine interface's streamed writes."""

from __future__ import annotations

import json
import os

import pyarrow as pa

from orchestration.defs.dbt.args import dbt_engine_environment
from orchestration.defs.dbt.engine_copy import built_relations, step_sources
from orchestration.lib.engines import DuckDBEngine
from orchestration.lib.settings import DBT_PROJECT_DIR, EngineSettings, PostgresSettings


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

"""The dbt layer gives the same marts on PostgreSQL as on DuckDB (tests/engine_parity.py says how
they are compared; Spark: test_engine_parity_spark.py, a module of its own so that the two run on
different pytest-xdist workers).

Needs the engines extra (dbt-postgres) and WINBACK_TEST_POSTGRES_URL, a role that may create
databases; locally a missing one skips the test with the reason, under CI=true it fails.
"""

from __future__ import annotations

import importlib.util
import os
import uuid
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

from orchestration.lib.engines import PostgresEngine
from orchestration.lib.settings import EngineSettings, PostgresSettings, load_settings

pytestmark = [pytest.mark.integration, pytest.mark.pipeline_runs(3)]


def postgres_settings() -> PostgresSettings:
    url = os.environ.get("WINBACK_TEST_POSTGRES_URL")
    if not url:
        unavailable("WINBACK_TEST_POSTGRES_URL is unset")
    if importlib.util.find_spec("dbt.adapters.postgres") is None:
        unavailable("dbt-postgres is not installed (make test EXTRAS=dev,engines)")
    env = load_settings(environ={"WINBACK_ENGINE": "postgres",
                                 "WINBACK_POSTGRES_URL": url}).engine
    assert env.postgres is not None
    return env.postgres


@pytest.fixture
def postgres_database() -> Iterator[PostgresSettings]:
    """A database of its own (tests may run in parallel), dropped afterwards. Its collation is
    ICU's en-US, as production databases' usually are a language's, not the server's C: a model
    whose results depend on how strings sort shows up here."""
    import psycopg2

    server = postgres_settings()
    name = f"winback_parity_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(**server.dsn())
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"create database {name} template template0 "
                    "locale_provider icu icu_locale 'en-US'")
    try:
        yield PostgresSettings(host=server.host, port=server.port, user=server.user,
                               database=name, password=server.password)
    finally:
        with admin.cursor() as cur:
            cur.execute(f"drop database if exists {name} with (force)")
        admin.close()


def test_postgres_builds_the_same_marts_as_duckdb(fixture_run, postgres_database, tmp_path,
                                                  monkeypatch):
    expected = duckdb_fingerprints(fixture_run.warehouse)
    engine = PostgresEngine(postgres_database)
    try:
        copy_sources(fixture_run.warehouse, engine)
        failed = dbt_build(EngineSettings("postgres", postgres=postgres_database), tmp_path,
                           monkeypatch)
        actual = mart_fingerprints(engine)
    finally:
        engine.close()
    assert failed == []
    assert len(expected) == len(mart_tables()) and sum(f["rows"] for f in expected.values()) > 0
    assert differences(expected, actual) == []

"""The dbt layer gives the same marts on PostgreSQL as on DuckDB (tests/engine_parity.py says how
they are compared; on Spark the whole pipeline's module, test_pipeline_on_spark.py, compares the
marts and runs the unit tests).

Needs the engines extra (dbt-postgres) and WINBACK_TEST_POSTGRES_URL, a role that may create
databases; locally a missing one skips the test with the reason, under CI=true it fails.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from engine_parity import (
    copy_sources,
    dbt_build,
    differences,
    duckdb_fingerprints,
    mart_fingerprints,
    mart_tables,
    new_postgres_database,
)

from orchestration.lib.engines import PostgresEngine
from orchestration.lib.settings import EngineSettings, PostgresSettings

pytestmark = [pytest.mark.integration, pytest.mark.pipeline_runs(3)]


@pytest.fixture
def postgres_database() -> Iterator[PostgresSettings]:
    with new_postgres_database() as database:
        yield database


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

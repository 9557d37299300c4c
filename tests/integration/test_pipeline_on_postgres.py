"""The whole daily job on PostgreSQL (WINBACK_ENGINE=postgres) writes the same export files, byte
for byte, as the DuckDB run of the same landing data and as-of date, and builds the same marts,
also when it runs again on the database it left.

The DuckDB side is the shared fixture run (tests/fixture_run.py); the PostgreSQL side runs the
same hand-made landing fixture in a database of its own (tests/engine_parity.py, ICU en-US
collation) under the same Dagster run id, which every export's manifest.json records as
`source_run` (two runs with different ids differ in that one line of each manifest only).
Needs the engines extra (dbt-postgres) and WINBACK_TEST_POSTGRES_URL; locally a missing one
skips the test with the reason, under CI=true it fails.
"""

from __future__ import annotations

import pytest
from daily_run import run_daily
from engine_parity import (
    differences,
    duckdb_fingerprints,
    export_sha256,
    mart_fingerprints,
    new_postgres_database,
)
from landing_fixture import AS_OF, write_landing

from orchestration.lib.engines import PostgresEngine

pytestmark = [pytest.mark.integration, pytest.mark.pipeline_runs(3)]


def test_the_pipeline_on_postgres_writes_the_duckdb_runs_export_files(
        fixture_run, tmp_path, monkeypatch):
    with new_postgres_database() as database:
        monkeypatch.delenv("WINBACK_POSTGRES_URL", raising=False)
        for name, value in {"WINBACK_ENGINE": "postgres", "WINBACK_POSTGRES_HOST": database.host,
                            "WINBACK_POSTGRES_PORT": str(database.port),
                            "WINBACK_POSTGRES_USER": database.user,
                            "WINBACK_POSTGRES_PASSWORD": database.password,
                            "WINBACK_POSTGRES_DATABASE": database.database}.items():
            monkeypatch.setenv(name, value)
        write_landing(tmp_path / "landing")
        # The same run id: each export's manifest.json records the run that wrote it. Twice: the
        # second run finds dbt's incremental marts built (a contract type that differed from the
        # model's failed them then) and must write the same files again.
        gates = []
        for _ in range(2):
            result = run_daily(tmp_path, AS_OF, run_id=fixture_run.result.run_id)
            gates.append({e.asset_check_key.name: e for e in result.get_asset_check_evaluations()
                          if e.asset_check_key.name.startswith("gx_")})
        engine = PostgresEngine(database)
        try:
            # dbt built in PostgreSQL: its marts are there, not only in the local file.
            on_postgres = mart_fingerprints(engine)
        finally:
            engine.close()

    # The Great Expectations gate validated in PostgreSQL: every row on the first run, none
    # again on the second (all passed and unchanged).
    first, second = (gate["gx_contact_hygiene"] for gate in gates)
    assert first.passed and second.passed
    assert first.metadata["gx_datasource"].value == "postgres"
    assert first.metadata["rows_validated"].value > 10
    assert second.metadata["rows_validated"].value == 0
    assert second.metadata["rows_skipped_unchanged"].value \
        == first.metadata["rows_validated"].value
    assert gates[0]["gx_sync_audience_members"].passed
    expected = export_sha256(fixture_run.root / "exports")
    assert len(expected) > 10
    assert export_sha256(tmp_path / "exports") == expected
    assert differences(duckdb_fingerprints(fixture_run.warehouse), on_postgres) == []

"""The Great Expectations gate on PostgreSQL (WINBACK_ENGINE=postgres) validates in the engine,
through GX's PostgreSQL datasource, and decides as the DuckDB gate does on the same table.

The fixture run's contacts.contact_hygiene (tests/fixture_run.py) is copied into a PostgreSQL
database of its own (tests/engine_parity.py); the DuckDB gate runs on a copy of the fixture
run's warehouse (its gate state cleared). Both validate the whole table (first run), then the
same dirty rows (an address with a no-break space, an invalid address marked contactable): same
verdicts, counts and failing customer ids, only the changed rows validated again, and on
PostgreSQL no dataframe handed to GX. Needs the engines extra and WINBACK_TEST_POSTGRES_URL;
locally a missing one skips the test with the reason, under CI=true it fails.
"""

from __future__ import annotations

import pytest
from engine_parity import new_postgres_database
from gx_gate_case import KEY, SUITE, TABLE, failures, gate_case

from orchestration.defs.quality import gx
from orchestration.lib.engines import DuckDBEngine, PostgresEngine, copy_query
from orchestration.lib.warehouse import open_warehouse

pytestmark = pytest.mark.integration


def test_the_gate_on_postgres_validates_in_the_engine_like_the_duckdb_gate(
        fixture_run, tmp_path, monkeypatch):
    case = gate_case(fixture_run, tmp_path)

    def no_dataframe(self, data):
        raise AssertionError("the PostgreSQL gate handed GX a dataframe")

    with new_postgres_database() as database:
        from orchestration.defs.quality.in_engine import validate_changed_rows_in_postgres

        local = DuckDBEngine(case.warehouse, read_only=True)
        engine = PostgresEngine(database)
        try:
            copied = copy_query(local, f"select * from {TABLE}", engine, "contacts",
                                "contact_hygiene")
        finally:
            local.close()

        def on_postgres():
            with monkeypatch.context() as patch:
                patch.setattr(gx.DataframeBatches, "batch", no_dataframe)
                return validate_changed_rows_in_postgres(
                    database, SUITE, TABLE, KEY, max_rows=10_000)

        try:
            clean_duckdb, clean_postgres = case.on_duckdb(), on_postgres()
            for statement in case.dirty():
                engine.execute(statement)
                with open_warehouse(case.warehouse) as con:
                    con.execute(statement)
            dirty_duckdb, dirty_postgres = case.on_duckdb(), on_postgres()
            # The gate's state is in the engine: every row but the two failing ones passed.
            passed = next(engine.read_batches(
                "select count(*) as n from quality.gx_passed_rows "
                "where suite = 'contact_hygiene'")).column(0)[0].as_py()
        finally:
            engine.close()

    assert copied > 10
    assert clean_postgres.datasource == "postgres" and clean_duckdb.datasource == "pandas"
    assert clean_postgres.outcome.success and clean_postgres.full_validation
    assert clean_postgres.outcome == clean_duckdb.outcome
    assert clean_postgres.outcome.rows == copied

    assert not dirty_postgres.outcome.success
    assert dirty_postgres.outcome == dirty_duckdb.outcome
    assert dirty_postgres.outcome.rows == 2
    assert dirty_postgres.rows_skipped_unchanged == dirty_duckdb.rows_skipped_unchanged \
        == copied - 2
    assert failures(dirty_postgres.outcome) == case.expected_failures()
    assert passed == copied - 2


def test_data_docs_on_postgres_validate_the_engines_tables(fixture_run, tmp_path):
    """Data Docs of the engine's contacts.contact_hygiene with a dirty row: built in the
    database (no dataframe), the failure shown, no personal value and no password in the site."""
    from orchestration.defs.quality.gx import build_data_docs

    suites = tmp_path / "expectations"
    suites.mkdir()
    (suites / "contact_hygiene.json").write_text(
        (gx.EXPECTATIONS_DIR / "contact_hygiene.json").read_text())
    with new_postgres_database() as database:
        local = DuckDBEngine(fixture_run.warehouse, read_only=True)
        engine = PostgresEngine(database)
        try:
            copy_query(local, f"select * from {TABLE}", engine, "contacts", "contact_hygiene")
            emails = [value.as_py() for batch in local.read_batches(
                f"select email_normalized from {TABLE} where email_normalized is not null")
                for value in batch.column(0)]
            first = next(engine.read_batches(
                f"select min(customer_id) from {TABLE} where is_contactable_email"
            )).column(0)[0].as_py()
            engine.execute(f"update {TABLE} set is_email_valid = false "
                           f"where customer_id = '{first}'")
        finally:
            local.close()
            engine.close()
        # No DuckDB file to read a dataframe from: the rows are validated in PostgreSQL.
        index = build_data_docs(tmp_path / "absent.duckdb", tmp_path / "docs", suites,
                                postgres=database)

    pages = [p for p in (tmp_path / "docs").rglob("*") if p.suffix in {".html", ".json", ".js"}]
    assert index.is_file() and "contact_hygiene.html" in {p.name for p in pages}
    text = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in pages)
    assert "Failed" in text or "failed" in text
    assert len(emails) > 5 and [e for e in emails if e in text] == []
    assert gx.postgres_url(database) not in text and f":{database.password}@" not in text

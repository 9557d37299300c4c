"""The Great Expectations gate on PostgreSQL (WINBACK_ENGINE=postgres) validates in the engine,
through GX's PostgreSQL datasource, and decides as the DuckDB gate does on the same table.

The fixture run's contacts.contact_hygiene (tests/fixture_run.py) is copied into a PostgreSQL
database of its own (tests/engine_parity.py); the DuckDB gate runs on a copy of the fixture
run's warehouse (its gate state cleared). Both validate the whole table (first run), then the
same dirty rows (an address that is not one, an invalid address marked contactable): same
verdicts, counts and failing customer ids, only the changed rows validated again, and on
PostgreSQL no dataframe handed to GX. Needs the engines extra and WINBACK_TEST_POSTGRES_URL;
locally a missing one skips the test with the reason, under CI=true it fails.
"""

from __future__ import annotations

import shutil

import pytest
from engine_parity import new_postgres_database

from orchestration.defs.quality import gx
from orchestration.defs.quality.bounded import validate_changed_rows
from orchestration.defs.quality.gx import load_suite
from orchestration.lib.engines import DuckDBEngine, PostgresEngine, copy_query
from orchestration.lib.warehouse import open_warehouse

pytestmark = pytest.mark.integration

TABLE = "contacts.contact_hygiene"
SUITE = load_suite("contact_hygiene")


def _dirty(first: str, second: str) -> list[str]:
    """Two rows the suite must catch, as SQL both engines run."""
    return [
        f"update {TABLE} set email_normalized = 'not an email' where customer_id = '{first}'",
        f"update {TABLE} set is_email_valid = false where customer_id = '{second}'",
    ]


def test_the_gate_on_postgres_validates_in_the_engine_like_the_duckdb_gate(
        fixture_run, tmp_path, monkeypatch):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(fixture_run.warehouse, warehouse)
    with open_warehouse(warehouse) as con:
        # The fixture run's gate passed every row: both sides start from a first run.
        con.execute("delete from quality.gx_suites")
        first, second = (row[0] for row in con.execute(
            f"select customer_id from {TABLE} where is_contactable_email "
            f"order by customer_id limit 2").fetchall())

    def on_duckdb():
        with open_warehouse(warehouse) as con:
            return validate_changed_rows(con, SUITE, TABLE, "customer_id", max_rows=10_000)

    def no_dataframe(self, data):
        raise AssertionError("the PostgreSQL gate handed GX a dataframe")

    with new_postgres_database() as database:
        from orchestration.defs.quality.in_engine import validate_changed_rows_in_postgres

        local = DuckDBEngine(warehouse, read_only=True)
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
                    database, SUITE, TABLE, "customer_id", max_rows=10_000)

        try:
            clean_duckdb, clean_postgres = on_duckdb(), on_postgres()
            for statement in _dirty(first, second):
                engine.execute(statement)
                with open_warehouse(warehouse) as con:
                    con.execute(statement)
            dirty_duckdb, dirty_postgres = on_duckdb(), on_postgres()
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
    failed = {(f.expectation, f.column): (f.unexpected_count, f.unexpected_keys)
              for f in dirty_postgres.outcome.failed}
    assert failed == {
        ("expect_column_values_to_match_regex", "email_normalized"): (1, [first]),
        ("expect_column_pair_values_to_be_in_set", "is_contactable_email,is_email_valid"):
            (1, [second]),
    }
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

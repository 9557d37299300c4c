"""The SQL source: incremental on updated_at (>= plus dedupe), crash-safe batches, SQL lineage.

Runs against SQLite always and against a real PostgreSQL server when WINBACK_TEST_POSTGRES_URL
is set (.ci/run starts one; under CI=true the PostgreSQL tests must not skip).
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from decimal import Decimal

import duckdb
import pytest
import sqlalchemy as sa

import orchestration.defs.ingest.sql_source as sql_source
from orchestration.defs.ingest.sql_source import load_sql_source
from orchestration.lib.contracts import CONTRACTS
from orchestration.lib.landing import IngestError
from orchestration.lib.settings import SettingsError, SqlSourceSettings, load_settings

LOADED_AT = dt.datetime(2026, 6, 30, 12, tzinfo=dt.UTC)
T0 = dt.datetime(2026, 6, 1, 9, tzinfo=dt.UTC)
ORDERS = CONTRACTS["orders"]
_TABLES: dict[str, sa.Table] = {}
LINEAGE_FREE = "order_id, customer_id, ordered_at, status, currency, amount, updated_at"


def _postgres_url() -> str:
    url = os.environ.get("WINBACK_TEST_POSTGRES_URL")
    if url:
        return url
    if os.environ.get("CI") == "true":
        pytest.fail("CI=true but WINBACK_TEST_POSTGRES_URL is unset: .ci/run must start PostgreSQL")
    pytest.skip("PostgreSQL test skipped: set WINBACK_TEST_POSTGRES_URL (see .ci/run) to run it")


@pytest.fixture(params=["sqlite", "postgresql"])
def source_db(request, tmp_path):
    """(engine, table name) of an empty orders table in SQLite or PostgreSQL."""
    url = f"sqlite:///{tmp_path / 'shop.db'}" if request.param == "sqlite" else _postgres_url()
    engine = sa.create_engine(url)
    table = f"orders_{uuid.uuid4().hex[:8]}"
    _TABLES[table] = sa.Table(
        table,
        sa.MetaData(),
        sa.Column("order_id", sa.String),
        sa.Column("customer_id", sa.String),
        sa.Column("ordered_at", sa.DateTime(timezone=True)),
        sa.Column("status", sa.String),
        sa.Column("currency", sa.String),
        sa.Column("amount", sa.Numeric(18, 2)),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
        sa.Column("internal_note", sa.String),
    )
    _TABLES[table].create(engine)
    yield engine, table
    with engine.begin() as con:
        con.execute(sa.text(f"DROP TABLE {table}"))
    engine.dispose()


def _insert(engine, table, *orders):
    rows = [
        {"order_id": o, "customer_id": c, "ordered_at": T0, "status": s, "currency": "GBP",
         "amount": Decimal(a), "updated_at": u, "internal_note": "x"}
        for o, c, s, a, u in orders
    ]
    with engine.begin() as con:
        con.execute(_TABLES[table].insert(), rows)


def _source(engine, table, batch_rows=1000, query=""):
    return SqlSourceSettings(
        entity="orders", url=engine.url.render_as_string(hide_password=False), table=table,
        query=query, batch_rows=batch_rows,
    )


def _load(con, source):
    return load_sql_source(con, ORDERS, source, max_reject_share=1.0, loaded_at=LOADED_AT)


def _warehouse():
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con


def _orders(con):
    return con.execute(
        f"SELECT {LINEAGE_FREE}, _source_file, _source_row FROM raw.orders ORDER BY _source_row"
    ).fetchall()


def _at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def test_source_rows_land_in_raw_orders_typed_with_sql_lineage(source_db):
    engine, table = source_db
    _insert(engine, table, ("O1", "C1", "paid", "10.50", _at(1)), ("O2", "C2", "PAID", "3", _at(2)))
    con = _warehouse()
    report = _load(con, _source(engine, table))
    assert (report.rows_read, report.loaded, report.already_loaded) == (2, 2, 0)
    assert report.extra_columns == ("internal_note",)
    rows = _orders(con)
    assert [r[0] for r in rows] == ["O1", "O2"]
    assert rows[0][2] == T0 and rows[0][5] == Decimal("10.50") and rows[1][3] == "paid"
    assert [r[7:] for r in rows] == [(f"sql:{table}", 1), (f"sql:{table}", 2)]


def test_rows_at_the_watermark_are_reread_and_deduplicated_so_ties_are_neither_lost_nor_doubled(
    source_db,
):
    engine, table = source_db
    _insert(engine, table, ("O1", "C1", "paid", "1", _at(1)), ("O2", "C1", "paid", "2", _at(5)))
    con = _warehouse()
    source = _source(engine, table)
    _load(con, source)
    # Committed in the source after the first read, with the same updated_at as the watermark:
    # a `>` cursor would miss O3. A later change of O1 is a new version.
    _insert(engine, table, ("O3", "C2", "paid", "3", _at(5)), ("O1", "C1", "refunded", "1", _at(9)))
    report = _load(con, source)
    assert (report.rows_read, report.already_loaded, report.loaded) == (3, 1, 2)
    assert report.duplicate_keys == 1  # O1's second version
    assert [(r[0], r[3]) for r in _orders(con)] == [
        ("O1", "paid"), ("O2", "paid"), ("O3", "paid"), ("O1", "refunded")]
    assert _load(con, source).loaded == 0  # nothing new: nothing appended


def test_a_crash_between_batches_loses_and_doubles_nothing(source_db, monkeypatch):
    engine, table = source_db
    # Five rows share one updated_at, so the crash lands inside a run of cursor ties.
    _insert(engine, table, *[(f"O{n}", "C1", "paid", str(n), _at(3 if n < 6 else n))
                             for n in range(1, 10)])
    source = _source(engine, table, batch_rows=2)
    uninterrupted = _warehouse()
    _load(uninterrupted, source)

    real_load_batch = sql_source._load_batch
    calls = []

    def crash_after_two_batches(*args, **kwargs):
        if len(calls) == 2:
            raise KeyboardInterrupt("simulated crash between batches")
        calls.append(1)
        return real_load_batch(*args, **kwargs)

    crashed = _warehouse()
    monkeypatch.setattr(sql_source, "_load_batch", crash_after_two_batches)
    with pytest.raises(KeyboardInterrupt):
        _load(crashed, source)
    assert crashed.execute("SELECT count(*) FROM raw.orders").fetchone()[0] == 4
    monkeypatch.setattr(sql_source, "_load_batch", real_load_batch)
    report = _load(crashed, source)
    assert report.already_loaded == 4  # every row at the committed watermark, read again
    assert _orders(crashed) == _orders(uninterrupted)


def test_a_failure_inside_a_batch_commits_none_of_its_rows_nor_its_watermark(
    source_db, monkeypatch
):
    engine, table = source_db
    _insert(engine, table, *[(f"O{n}", "C1", "paid", str(n), _at(n)) for n in range(1, 6)])
    source = _source(engine, table, batch_rows=2)
    con = _warehouse()
    real_count = sql_source.count_duplicate_keys
    calls = []

    def fail_in_second_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("simulated failure after the batch's rows were inserted")
        return real_count(*args, **kwargs)

    monkeypatch.setattr(sql_source, "count_duplicate_keys", fail_in_second_batch)
    with pytest.raises(RuntimeError):
        _load(con, source)
    assert [r[0] for r in _orders(con)] == ["O1", "O2"]
    assert con.execute("SELECT rows_seen, batches FROM raw.ingest_watermarks").fetchone() == (2, 1)
    monkeypatch.setattr(sql_source, "count_duplicate_keys", real_count)
    _load(con, source)
    assert [r[0] for r in _orders(con)] == ["O1", "O2", "O3", "O4", "O5"]


def test_bad_source_rows_and_rows_without_a_cursor_are_quarantined_once(source_db):
    engine, table = source_db
    _insert(engine, table, ("O1", "C1", "paid", "1", _at(1)),
            ("O2", "C1", "teleported", "1", _at(2)), ("O3", "C1", "paid", "1", None))
    con = _warehouse()
    source = _source(engine, table)
    report = _load(con, source)
    assert (report.rows_read, report.loaded) == (3, 1)
    assert report.quarantined == {"invalid_value:status": 1, "missing_cursor:updated_at": 1}
    again = _load(con, source)
    assert (again.rows_read, again.already_loaded, again.loaded) == (2, 2, 0)
    assert con.execute("SELECT count(*) FROM raw.quarantine").fetchone()[0] == 2


def test_a_query_can_rename_source_columns_onto_the_contract(source_db):
    engine, table = source_db
    _insert(engine, table, ("O1", "C1", "paid", "1", _at(1)))
    legacy = f"legacy_{table}"
    with engine.begin() as con:
        con.execute(sa.text(f"CREATE VIEW {legacy} AS SELECT order_id AS id, customer_id, "
                            f"ordered_at, status, currency, amount, updated_at FROM {table}"))
    con = _warehouse()
    try:
        with pytest.raises(IngestError, match=r"\['order_id'\] missing from the source"):
            _load(con, _source(engine, legacy))
        query = (f"SELECT id AS order_id, customer_id, ordered_at, status, currency, amount, "
                 f"updated_at FROM {legacy}")
        assert _load(con, _source(engine, legacy, query=query)).loaded == 1
        assert _orders(con)[0][7] == "sql:query"
    finally:
        with engine.begin() as source_con:
            source_con.execute(sa.text(f"DROP VIEW {legacy}"))


def test_a_source_error_names_the_source_but_not_its_url(tmp_path):
    source = SqlSourceSettings("orders", f"sqlite:///{tmp_path / 'absent' / 'x.db'}", "orders",
                               "", 10)
    with pytest.raises(IngestError) as info:
        _load(_warehouse(), source)
    assert "sql:orders" in str(info.value)
    assert "absent" not in str(info.value)


def test_sql_sources_are_configured_per_entity_from_environment_variables():
    settings = load_settings(environ={
        "WINBACK_ORDERS_SQL_URL": "postgresql://u:secret@db/shop",
        "WINBACK_ORDERS_SQL_TABLE": "sales.orders",
        "WINBACK_CUSTOMERS_SQL_URL": "sqlite:///crm.db",
        "WINBACK_CUSTOMERS_SQL_QUERY": "SELECT id AS customer_id, updated_at FROM people;",
        "WINBACK_SQL_BATCH_ROWS": "500",
    })
    orders, customers = settings.sql_source("orders"), settings.sql_source("customers")
    assert (orders.table, orders.label, orders.batch_rows) == (
        "sales.orders", "sql:sales.orders", 500)
    assert customers.query == "SELECT id AS customer_id, updated_at FROM people"
    assert customers.label == "sql:query"
    assert load_settings(environ={}).sql_sources == ()
    with pytest.raises(SettingsError, match="WINBACK_SQL_BATCH_ROWS"):
        load_settings(environ={"WINBACK_SQL_BATCH_ROWS": "lots"})


def test_customers_can_come_from_a_sql_source_too(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'crm.db'}")
    with engine.begin() as con:
        con.execute(sa.text("CREATE TABLE people (id TEXT, mail TEXT, changed TEXT)"))
        con.execute(sa.text("INSERT INTO people VALUES ('C1', 'a@example.com', '2026-01-01'), "
                            "('C2', NULL, '2026-01-02')"))
    source = SqlSourceSettings(
        "customers", str(engine.url), "people",
        "SELECT id AS customer_id, mail AS email, changed AS updated_at FROM people", 100)
    warehouse = _warehouse()
    report = load_sql_source(warehouse, CONTRACTS["customers"], source, loaded_at=LOADED_AT)
    assert (report.loaded, report.watermark) == (2, "2026-01-02")
    assert warehouse.execute(
        "SELECT customer_id, email, updated_at, _source_file FROM raw.customers ORDER BY 1"
    ).fetchall() == [("C1", "a@example.com", dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "sql:query"),
                     ("C2", None, dt.datetime(2026, 1, 2, tzinfo=dt.UTC), "sql:query")]

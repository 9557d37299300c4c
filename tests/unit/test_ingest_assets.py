"""The ingest assets on their own (no dbt): metadata that reconciles, a SQL source beside files."""

import sqlite3

import dagster as dg
import duckdb
import pytest
from metadata_tables import table_counts, table_rows

from orchestration.defs.ingest.assets import ingest_assets
from orchestration.defs.resources import WinbackConfig
from orchestration.lib.landing import IngestError
from orchestration.lib.warehouse import WarehouseLockedError

ORDERS = "order_id,customer_id,ordered_at,status,currency,amount,updated_at\n"


def _assets(*entities):
    keys = {dg.AssetKey(["raw", e]) for e in entities}
    return [a for a in ingest_assets if a.key in keys]


def _materialize(tmp_path, *entities):
    result = dg.materialize(
        _assets(*entities),
        resources={"winback": WinbackConfig(landing_dir=str(tmp_path / "landing"),
                                            warehouse=str(tmp_path / "wh.duckdb"))},
    )
    assert result.success
    materializations = [
        e.event_specific_data.materialization for e in result.get_asset_materialization_events()
    ]
    return {m.asset_key.path[-1]: m.metadata for m in materializations}


@pytest.fixture
def landing(tmp_path, monkeypatch):
    monkeypatch.setenv("WINBACK_MAX_REJECT_SHARE", "0.5")
    (tmp_path / "landing" / "customers").mkdir(parents=True)
    (tmp_path / "landing" / "customers" / "c.csv").write_text("customer_id\nC1\n")
    (tmp_path / "landing" / "orders").mkdir()
    (tmp_path / "landing" / "orders" / "o.csv").write_text(
        ORDERS + "O1,C1,2024-03-01,paid,GBP,1,\nO2,C2,2024-03-01,paid,GBP,oops,\n"
        "O1,C1,2024-03-01,shipped,GBP,1,2024-03-02\n")
    return tmp_path


def test_orders_metadata_reconciles_and_counts_duplicates_and_unknown_customers(landing):
    metadata = _materialize(landing, "customers", "orders")["orders"]
    assert metadata["rows_read"].value == 3
    assert metadata["rows_loaded"].value + metadata["rows_quarantined"].value == 3
    assert table_counts(metadata["quarantined_by_reason"]) == {"bad_decimal:amount": 1}
    assert metadata["duplicate_keys"].value == 1
    assert metadata["orders_for_unknown_customers"].value == 0  # O2 was quarantined
    again = _materialize(landing, "customers", "orders")["orders"]
    assert again["rows_read"].value == 0
    assert again["dagster/row_count"].value == 2
    assert table_rows(again["files_skipped_already_loaded"]) == [
        {"file": "orders/o.csv", "loaded_as": "orders/o.csv"}]


def test_orders_of_unknown_customers_are_counted_until_their_customer_arrives(landing):
    # Day 1: C2 and C3 are unknown. Day 2: C2 arrives; a new order of known C1 and one of C4,
    # unknown, and a version of O5 naming C1 (an order with one unlinked version counts).
    orders, customers = landing / "landing" / "orders", landing / "landing" / "customers"
    (orders / "o.csv").write_text(ORDERS + "O2,C2,2024-03-01,paid,GBP,1,\n"
                                  "O3,C3,2024-03-01,paid,GBP,1,\nO5,C3,2024-03-01,paid,GBP,1,\n")
    assert _materialize(landing, "customers", "orders")["orders"][
        "orders_for_unknown_customers"].value == 3
    (customers / "late.csv").write_text("customer_id\nC2\n")
    (orders / "day2.csv").write_text(ORDERS + "O6,C1,2024-03-02,paid,GBP,1,\n"
                                     "O7,C4,2024-03-02,paid,GBP,1,\n"
                                     "O5,C1,2024-03-01,paid,GBP,1,2024-03-02\n")
    assert _materialize(landing, "customers", "orders")["orders"][
        "orders_for_unknown_customers"].value == 3  # O3, O5 (its first version), O7
    (customers / "later.csv").write_text("customer_id\nC3\nC4\n")
    assert _materialize(landing, "customers", "orders")["orders"][
        "orders_for_unknown_customers"].value == 0


def test_a_configured_sql_source_appends_its_orders_beside_the_files(landing, monkeypatch):
    db = landing / "shop.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE shop_orders (order_id, customer_id, ordered_at, status, "
                    "currency, amount, updated_at)")
        con.execute("INSERT INTO shop_orders VALUES ('S1', 'C9', '2024-04-01 10:00:00', 'paid', "
                    "'EUR', '7.50', '2024-04-01 10:00:00')")
    monkeypatch.setenv("WINBACK_ORDERS_SQL_URL", f"sqlite:///{db}")
    monkeypatch.setenv("WINBACK_ORDERS_SQL_TABLE", "shop_orders")
    metadata = _materialize(landing, "customers", "orders")["orders"]
    assert metadata["sql_source"].value == {
        "source": "sql:shop_orders", "rows_fetched": 1, "already_loaded": 0, "loaded": 1,
        "batches": 1, "watermark": "2024-04-01 10:00:00"}
    assert metadata["rows_read"].value == 4
    assert metadata["orders_for_unknown_customers"].value == 1  # S1's customer C9
    with duckdb.connect(str(landing / "wh.duckdb"), read_only=True) as con:
        assert con.execute(
            "SELECT _source_file, _source_row, amount::VARCHAR FROM raw.orders "
            "WHERE order_id = 'S1'").fetchall() == [("sql:shop_orders", 1, "7.50")]
    assert _materialize(landing, "customers", "orders")["orders"]["sql_source"].value[
        "already_loaded"] == 1


def _counting_load(monkeypatch, error, times):
    """Make the file load raise `error` the first `times` calls; returns the call log."""
    from orchestration.defs.ingest import assets

    calls = []
    real = assets.load_entity

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) <= times:
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(assets, "load_entity", flaky)
    return calls


def _customers_with_retries(tmp_path):
    from orchestration.defs.ingest.assets import build_ingest_asset
    from orchestration.lib.contracts import CONTRACTS

    asset = build_ingest_asset(CONTRACTS["customers"], dg.RetryPolicy(max_retries=2, delay=0))
    return dg.materialize(
        [asset], raise_on_error=False,
        resources={"winback": WinbackConfig(landing_dir=str(tmp_path / "landing"),
                                            warehouse=str(tmp_path / "wh.duckdb"))},
    )


def test_ingest_reads_are_retried_with_exponential_backoff():
    from orchestration.defs.ingest.assets import INGEST_RETRY

    assert {a.op.retry_policy for a in ingest_assets} == {INGEST_RETRY}
    assert INGEST_RETRY.max_retries == 3 and INGEST_RETRY.backoff == dg.Backoff.EXPONENTIAL


def test_a_read_that_fails_once_is_retried_and_loads_the_file_exactly_once(landing, monkeypatch):
    calls = _counting_load(monkeypatch, OSError("Stale file handle"), times=1)
    result = _customers_with_retries(landing)
    assert result.success and len(calls) == 2
    metadata = result.asset_materializations_for_node("raw__customers")[0].metadata
    assert metadata["rows_loaded"].value == 1 and metadata["dagster/row_count"].value == 1


@pytest.mark.parametrize("error", [
    IngestError("customers/c.csv: header lacks customer_id"),
    WarehouseLockedError("The warehouse wh.duckdb is in use by another process"),
])
def test_bad_input_and_a_warehouse_held_by_another_program_are_not_retried(landing, monkeypatch,
                                                                            error):
    calls = _counting_load(monkeypatch, error, times=5)
    result = _customers_with_retries(landing)
    assert not result.success and len(calls) == 1
    failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error
    assert failure.message == f"dagster._core.definitions.events.Failure: {error}\n"

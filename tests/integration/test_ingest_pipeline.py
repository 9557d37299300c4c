"""Ingestion cases that need the whole graph: duplicate order ids resolved downstream, orders for
unknown customers kept but never exported (and linked when the customer arrives), late orders
recomputing statuses, and a re-delivered drop changing nothing. Two runs: the first drop, then
a next day with new files and the first drop's files delivered again under other names."""

import csv
import json
import shutil

import duckdb
import pytest
from daily_run import run_daily
from landing_fixture import AS_OF, write_landing
from metadata_tables import table_rows

pytestmark = [pytest.mark.integration, pytest.mark.pipeline_runs(2)]
ORDERS_HEADER = "order_id,customer_id,ordered_at,status,currency,amount,updated_at\n"
EXPORT = f"winback_inactive_email/generic_csv/{AS_OF}/winback_inactive_email.csv"


def _run(tmp_path):
    return run_daily(tmp_path, AS_OF)


def _query(tmp_path, sql):
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def _exported(tmp_path):
    with (tmp_path / "exports" / EXPORT).open(encoding="utf-8", newline="") as handle:
        return [row["customer_id"] for row in csv.DictReader(handle)]


def _metadata(result, entity):
    return result.asset_materializations_for_node(f"raw__{entity}")[0].metadata


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("ingest_pipeline")
    landing = write_landing(tmp_path / "landing")
    orders = landing / "orders"
    # Two new versions of O13 with the same updated_at in two files: the later name wins.
    (orders / "tie_a.csv").write_text(
        ORDERS_HEADER + "O13,C09,2025-12-01T08:00:00Z,paid,GBP,30.00,2026-01-05T00:00:00Z\n")
    (orders / "tie_b.csv").write_text(
        ORDERS_HEADER + "O13,C09,2025-12-01T08:00:00Z,refunded,GBP,30.00,2026-01-05T00:00:00Z\n")
    # An inactive buyer with consent but not (yet) in the CRM.
    # ... in a file with an extra column (schema drift).
    (orders / "unknown.csv").write_text(
        ORDERS_HEADER.strip() + ",channel\nO90,C99,2025-11-01T08:00:00Z,paid,GBP,40.00,,web\n")
    (landing / "consent_events" / "c99.jsonl").write_text(json.dumps(
        {"customer_id": "C99", "channel": "email", "status": "opted_in",
         "occurred_at": "2025-11-01T00:00:00Z"}) + "\n")
    first = _run(tmp_path)
    snapshot = {
        "export": _exported(tmp_path),
        "status": dict(_query(tmp_path, "SELECT customer_id, status FROM "
                                        "inactivity.customer_inactivity_status")),
    }
    # Next day: the customer arrives, and a late order for an earlier day; the first drop's
    # orders and customers files are delivered again under other names.
    (landing / "customers" / "late.csv").write_text(
        "customer_id,email,created_at\nC99,c99@example.com,2025-10-01T00:00:00Z\n")
    (orders / "late.csv").write_text(
        ORDERS_HEADER + "O91,C02,2026-06-25T08:00:00Z,paid,GBP,12.00,\n")
    shutil.copy(orders / "orders.csv", orders / "resent-orders.csv")
    shutil.copy(landing / "customers" / "customers.csv", landing / "customers" / "crm-copy.csv")
    second = _run(tmp_path)
    return tmp_path, first, snapshot, second


def test_duplicate_order_ids_are_counted_and_resolved_deterministically_downstream(runs):
    tmp_path, first, _, _ = runs
    assert _metadata(first, "orders")["duplicate_keys"].value == 3  # O04 once, O13 twice
    assert _query(tmp_path, "SELECT order_status, versions_delivered FROM "
                            "intermediate.int_orders_as_of WHERE order_id = 'O13'") == [
        ("refunded", 3)]
    assert _query(tmp_path, "SELECT order_status FROM intermediate.int_orders_as_of "
                            "WHERE order_id = 'O04'") == [("refunded",)]


def test_an_order_for_an_unknown_customer_is_kept_reported_and_never_exported(runs):
    tmp_path, first, snapshot, _ = runs
    assert _metadata(first, "orders")["orders_for_unknown_customers"].value == 1
    assert _metadata(first, "orders")["schema_drift_extra_columns"].value == ["channel"]
    assert _query(tmp_path, "SELECT count(*) FROM raw.orders WHERE customer_id = 'C99'") == [(1,)]
    assert "C99" not in snapshot["export"]
    assert "C99" not in snapshot["status"]


def test_the_order_links_once_the_customer_arrives(runs):
    tmp_path, _, _, second = runs
    assert _metadata(second, "orders")["orders_for_unknown_customers"].value == 0
    assert _query(tmp_path, "SELECT status FROM inactivity.customer_inactivity_status "
                            "WHERE customer_id = 'C99'") == [("inactive",)]
    assert "C99" in _exported(tmp_path)


def test_a_late_order_for_an_earlier_day_recomputes_the_customers_status(runs):
    tmp_path, _, snapshot, second = runs
    assert snapshot["status"]["C02"] == "inactive"
    assert _query(tmp_path, "SELECT status FROM inactivity.customer_inactivity_status "
                            "WHERE customer_id = 'C02'") == [("reactivated",)]  # 195-day gap
    assert "C02" not in _exported(tmp_path)
    metadata = _metadata(second, "orders")
    assert [f["file"] for f in table_rows(metadata["files_loaded"])] == ["orders/late.csv"]
    assert {f["file"] for f in table_rows(metadata["files_skipped_already_loaded"])} == {
        "orders/orders.csv", "orders/tie_a.csv", "orders/tie_b.csv", "orders/unknown.csv",
        "orders/resent-orders.csv"}


def test_the_same_drop_delivered_again_under_other_names_changes_nothing(runs):
    """Recognised by content: the copies are listed as loaded under their first names, no row
    of them is read or loaded, and the day's new files load as usual."""
    tmp_path, _, _, second = runs
    for entity, copy, first_name, new in (
            ("orders", "orders/resent-orders.csv", "orders/orders.csv", "orders/late.csv"),
            ("customers", "customers/crm-copy.csv", "customers/customers.csv",
             "customers/late.csv")):
        metadata = _metadata(second, entity)
        skipped = {f["file"]: f["loaded_as"]
                   for f in table_rows(metadata["files_skipped_already_loaded"])}
        assert skipped[copy] == first_name
        assert [f["file"] for f in table_rows(metadata["files_loaded"])] == [new]
        assert _query(tmp_path, f"SELECT count(*) FROM raw.{entity} "
                                f"WHERE _source_file = '{copy}'") == [(0,)]
        assert _query(tmp_path, "SELECT count(*) FROM raw.ingest_ledger "
                                f"WHERE source_file = '{copy}'") == [(0,)]
    assert _query(tmp_path, "SELECT count(*) FROM raw.quarantine "
                            "WHERE source_file IN ('orders/resent-orders.csv', "
                            "'customers/crm-copy.csv')") == [(0,)]

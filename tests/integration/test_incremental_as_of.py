"""Issue 10: the incremental as-of models give the same tables as a full rebuild.

One warehouse runs day D1, then receives a late order file (an order for an earlier day, a new
version of an order, an order moving to another customer, late order lines), a late CRM file (a
new version of a customer, a customer created between D1 and D2, a version known only after D2)
and a new erasure request, and runs D2 (the next run after a gap, so orders placed in between
become visible); a fresh warehouse fed every file at once runs D2. Then the first warehouse
reruns D1 (an earlier date after a later one), which must equal a fresh run of D1 with all files.
A third copy runs D2 without int_purchases_of_changed_customers, which must equal it too.
A fourth takes the days after D2 with dbt alone: the data tests of the incremental models read
only the keys a build wrote while the build it updated passed them, else the whole table.
"""

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from contacts_fixture import append_consent
from daily_run import run_daily
from landing_fixture import AS_OF, write_csv_file, write_landing
from parse_state import seeded_target

from orchestration.defs.dbt.args import dbt_config_vars_args, dbt_launcher
from orchestration.defs.dbt.state import write_run_context
from orchestration.lib.audiences import audiences_for
from orchestration.lib.policies import policies_for
from orchestration.lib.settings import DBT_PROJECT_DIR, load_settings

pytestmark = [pytest.mark.integration, pytest.mark.pipeline_runs(2)]

D1 = AS_OF  # 2026-06-30
D2 = "2026-07-06"  # O03, placed 2026-07-05, becomes visible
TABLES = [
    "intermediate.int_customers_as_of",
    "intermediate.int_orders_as_of",
    "intermediate.int_customer_purchase_days",
    "intermediate.int_customer_currency_revenue",
    "intermediate.int_customer_currency_spend",
    "intermediate.int_customer_order_stats",
    "intermediate.int_customer_consent_as_of",
    "activity.customer_activity",
    "activity.customer_revenue_by_currency",
    "inactivity.customer_inactivity_status",
]
ORDER_COLUMNS = ["order_id", "customer_id", "ordered_at", "status", "currency", "amount",
                 "updated_at"]
CUSTOMER_COLUMNS = ["customer_id", "first_name", "last_name", "email", "phone", "country",
                    "postal_code", "created_at", "updated_at"]


def _write_late_files(landing: Path) -> None:
    write_csv_file(landing / "orders" / "late.csv", ORDER_COLUMNS, [
        # late file: an order for an earlier day of a customer who had none
        ("O20", "C03", "2026-06-15T10:00:00+00:00", "paid", "USD", "40.00", ""),
        # a new version of O02, known after D1: refunded
        ("O02", "C01", "2026-06-20T10:00:00+01:00", "refunded", "GBP", "30.00",
         "2026-07-01T09:00:00Z"),
        # O05 moves from C04 to C06 (a correction), known after D1
        ("O05", "C06", "2026-05-01T08:00:00+00:00", "paid", "EUR", "10.00",
         "2026-07-02T09:00:00Z"),
        # a version updated after D2: invisible as of D2, so O09 stays as it was
        ("O09", "C05", "2025-09-03T08:00:00+00:00", "cancelled", "EUR", "25.00",
         "2026-07-20T09:00:00Z"),
        # placed between D1 and D2
        ("O21", "C11", "2026-07-03T10:00:00+00:00", "paid", "GBP", "12.00", ""),
    ])
    write_csv_file(landing / "order_items" / "late_items.csv",
                   ["order_id", "line_no", "sku", "category", "quantity", "unit_price"],
                   [("O05", "1", "SKU-9", "toys", "1", "10.00")])
    write_csv_file(landing / "customers" / "late_customers.csv", CUSTOMER_COLUMNS, [
        # a new version of C03, known after D1: moved to Germany
        ("C03", "Nev", "Never", "nev@example.com", "", "DE", "", "2025-01-01T00:00:00Z",
         "2026-07-02T09:00:00Z"),
        # created between D1 and D2
        ("C14", "Kim", "Late", "kim@example.com", "", "GB", "", "2026-07-04T09:00:00Z", ""),
        # a version of C04 updated after D2: invisible as of D2
        ("C04", "Mo", "Multi", "mo@example.com", "", "AT", "", "2025-01-01T00:00:00Z",
         "2026-07-20T09:00:00Z"),
    ])
    write_csv_file(landing / "erasure_requests" / "late_erasure.csv",
                   ["customer_id", "requested_at"], [("C12", "2026-07-01T00:00:00Z")])
    append_consent(landing, "late_consent.jsonl", [
        # late file: an opt-out before D1, delivered after it
        ("C01", "email", "opted_out", "preference_centre", "2026-06-25T10:00:00Z"),
        # given between D1 and D2
        ("C03", "email", "opted_in", "checkout", "2026-07-03T10:00:00Z"),
        # given after D2: invisible as of D2
        ("C06", "email", "opted_out", "preference_centre", "2026-07-20T10:00:00Z"),
    ])


def _differences(left: Path, right: Path, table: str) -> int:
    with duckdb.connect() as con:
        con.execute(f"ATTACH '{left}' AS l (READ_ONLY)")
        con.execute(f"ATTACH '{right}' AS r (READ_ONLY)")
        return con.execute(f"""
            SELECT count(*) FROM (
                (SELECT * FROM l.{table} EXCEPT ALL SELECT * FROM r.{table})
                UNION ALL
                (SELECT * FROM r.{table} EXCEPT ALL SELECT * FROM l.{table})
            )
        """).fetchone()[0]


def _assert_same(left: Path, right: Path) -> None:
    differing = {t: n for t in TABLES if (n := _differences(left, right, t))}
    assert differing == {}


def _table_assets() -> list[dg.AssetKey]:
    """What TABLES are built from, the file loads included, without the audiences, exports,
    serving publication and report: the property is the dbt models'. A Python step that writes
    several tables (the model check) runs whole."""
    from orchestration.definitions import defs
    from orchestration.defs.dbt.keys import dbt_model_key

    marts = [dbt_model_key(table.split(".")[1]) for table in TABLES]
    return sorted(dg.AssetSelection.assets(*marts).upstream().required_multi_asset_neighbors()
                  .resolve(defs.resolve_asset_graph()))


def _run_tables(root: Path, as_of: str) -> None:
    run_daily(root, as_of, asset_selection=_table_assets())


def _fresh(tmp_path_factory, as_of: str) -> Path:
    root = tmp_path_factory.mktemp(f"fresh-{as_of}")
    write_landing(root / "landing")
    _write_late_files(root / "landing")
    _run_tables(root, as_of)
    return root / "warehouse.duckdb"


@pytest.fixture(scope="module")
def fresh_d2(tmp_path_factory):
    return _fresh(tmp_path_factory, D2)


@pytest.fixture(scope="module")
def incremental(fixture_run, tmp_path_factory):
    root = fixture_run.copy(tmp_path_factory.mktemp("incremental"))  # the run of D1
    _write_late_files(root / "landing")
    _run_tables(root, D2)
    return root


def test_a_next_day_run_with_late_files_equals_a_full_rebuild(incremental, fresh_d2):
    warehouse = incremental / "warehouse.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        # the run was incremental: the state records D2 (contact_hygiene and the measured
        # spells, which this run leaves out, keep the build of D1)
        assert con.execute(
            "SELECT DISTINCT as_of_date::VARCHAR FROM meta.incremental_as_of_builds"
            " WHERE model_name NOT IN ('contact_hygiene', 'int_audience_spells_measured')"
        ).fetchall() == [(D2,)]
        # the changed keys were computed once, relative to the run of D1: the late file's
        # orders, the orders placed or updated between D1 and D2, the newly erased customer's,
        # and every customer any version of them names (O05 moved from C04 to C06)
        assert con.execute(
            "SELECT as_of_date::VARCHAR, baseline_as_of::VARCHAR"
            " FROM intermediate.int_as_of_changed_keys WHERE key_grain = 'baseline'"
        ).fetchall() == [(D2, D1)]
        changed = con.execute(
            "SELECT key_grain, list(key_id ORDER BY key_id)"
            " FROM intermediate.int_as_of_changed_keys WHERE key_grain <> 'baseline'"
            " GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        assert changed == [
            ("consent_customer", ["C01", "C03", "C06"]),
            ("crm_customer", ["C03", "C04", "C12", "C14"]),
            ("customer", ["C01", "C03", "C04", "C05", "C06", "C11", "C12"]),
            ("order", ["O02", "O03", "O05", "O09", "O17", "O20", "O21"]),
        ]
        # each model applied them: its record is this build's watermark (the seven incremental
        # models and the purchases of the changed customers they read)
        assert con.execute(
            "SELECT count(*) FROM meta.incremental_as_of_builds AS s"
            " JOIN intermediate.int_as_of_changed_keys AS c ON c.key_grain = 'baseline'"
            " AND s.watermark = c.watermark AND s.raw_rows = c.raw_rows"
        ).fetchone()[0] == 8
        assert con.execute(
            "SELECT list(DISTINCT customer_id ORDER BY customer_id)"
            " FROM intermediate.int_purchases_of_changed_customers"
        ).fetchone()[0] == ["C01", "C03", "C04", "C05", "C06", "C11"]
        # the late data is there (guards a comparison of two equally stale tables)
        assert con.execute(
            "SELECT customer_id FROM intermediate.int_orders_as_of WHERE order_id = 'O05'"
        ).fetchall() == [("C06",)]
        assert con.execute(
            "SELECT customer_id, country_code FROM intermediate.int_customers_as_of"
            " WHERE customer_id IN ('C03', 'C04', 'C14') ORDER BY ALL"
        ).fetchall() == [("C03", "DE"), ("C04", "DE"), ("C14", "GB")]
    _assert_same(warehouse, fresh_d2)


def test_a_run_that_leaves_out_the_changed_purchases_reads_every_order(fixture_run, fresh_d2,
                                                                        tmp_path_factory):
    # A selection without int_purchases_of_changed_customers: the table still holds what the run
    # of D1 put there, so the per-customer models, updating incrementally, must not read it.
    from orchestration.defs.dbt.keys import dbt_model_key

    root = fixture_run.copy(tmp_path_factory.mktemp("without-purchases"))
    _write_late_files(root / "landing")
    left_out = dbt_model_key("int_purchases_of_changed_customers")
    run_daily(root, D2, asset_selection=[k for k in _table_assets() if k != left_out])
    warehouse = root / "warehouse.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert dict(con.execute(
            "SELECT model_name, as_of_date::VARCHAR FROM meta.incremental_as_of_builds"
            " WHERE model_name IN ('int_purchases_of_changed_customers',"
            " 'int_customer_order_stats')").fetchall()) == {
            "int_purchases_of_changed_customers": D1, "int_customer_order_stats": D2}
    _assert_same(warehouse, fresh_d2)


def test_a_run_for_an_earlier_date_equals_a_fresh_run_of_that_date(incremental,
                                                                     tmp_path_factory):
    _run_tables(incremental, D1)
    with duckdb.connect(str(incremental / "warehouse.duckdb"), read_only=True) as con:
        # no changes relative to D2: every incremental model rebuilt
        assert con.execute(
            "SELECT as_of_date::VARCHAR, baseline_as_of, (SELECT count(*)"
            " FROM intermediate.int_as_of_changed_keys) FROM intermediate.int_as_of_changed_keys"
            " WHERE key_grain = 'baseline'"
        ).fetchall() == [(D1, None, 1)]
    _assert_same(incremental / "warehouse.duckdb", _fresh(tmp_path_factory, D1))


UNIQUE_ORDERS = "unique_int_orders_as_of_order_id"


def _dbt_orders(settings, day: dt.date, target: Path, command: str = "build") -> dict:
    """dbt as the daily run calls it, as of `day`: `build` the changed keys and int_orders_as_of
    with its tests, or `test` int_orders_as_of. The uniqueness test's status, and whether it
    read only the changed orders' rows."""
    settings = load_settings(environ={}, overrides={
        "WINBACK_AS_OF": day.isoformat(), "WINBACK_WAREHOUSE": str(settings.warehouse)})
    write_run_context(settings, f"by-hand-{day}")
    select = ["int_orders_as_of"] if command == "test" else ["int_as_of_changed_keys",
                                                               "int_orders_as_of"]
    subprocess.run(
        [dbt_launcher(), command, "--select", *select,
         *dbt_config_vars_args(settings, policies_for(settings), audiences_for(settings)),
         "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
         "--target-path", str(seeded_target(target)), "--exclude-resource-type", "unit_test",
         "--quiet"],
        capture_output=True, text=True, check=False,
    )
    results = json.loads((target / "run_results.json").read_text())["results"]
    (test,) = [r for r in results if r["unique_id"].split(".")[2] == UNIQUE_ORDERS]
    return {"status": test["status"], "written_keys_only": "int_as_of_changed_keys"
            in test["compiled_code"] and "key_grain = 'order'" in test["compiled_code"]}


def test_a_check_reads_the_written_keys_only_after_a_passed_check_and_never_after_a_failed_one(
    incremental, tmp_path
):
    root = shutil.copytree(incremental, tmp_path / "days", symlinks=True)
    settings = load_settings(environ={}, overrides={
        "WINBACK_AS_OF": D2, "WINBACK_WAREHOUSE": str(root / "warehouse.duckdb")})
    day = dt.date.fromisoformat(D2) + dt.timedelta(days=1)

    # The day after D2: the checks of D2's build passed, so the next build is checked on what
    # it wrote.
    assert _dbt_orders(settings, day, tmp_path / "t1") == {
        "status": "pass", "written_keys_only": True}

    # A duplicate of an order no later build writes (a hand edit). dbt's tests run by hand read
    # the whole table (the build they test is not one whose check is recorded) and fail.
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute("INSERT INTO intermediate.int_orders_as_of"
                    " SELECT * FROM intermediate.int_orders_as_of WHERE order_id = 'O01'")
    assert _dbt_orders(settings, day, tmp_path / "t2", command="test") == {
        "status": "fail", "written_keys_only": False}
    # The failed check removed the record of the passed one: the next day reads the whole table
    # and fails again, though that build wrote no row of O01.
    assert _dbt_orders(settings, day + dt.timedelta(days=1), tmp_path / "t3") == {
        "status": "fail", "written_keys_only": False}

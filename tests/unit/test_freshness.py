"""Source freshness checks (thresholds from the dbt manifest) and the daily freshness policy."""

import datetime as dt
import json

import dagster as dg
import duckdb
import pytest

from orchestration.defs.dbt.project import winback_project
from orchestration.defs.dbt.source_freshness import (
    CHECK_NAME,
    SourceFreshness,
    declared_freshness,
    freshness_result,
    source_freshness_checks,
)
from orchestration.defs.ingest.assets import ingest_assets
from orchestration.defs.resources import WinbackConfig
from orchestration.lib.freshness import DAILY_FRESHNESS

NOW = dt.datetime(2026, 11, 30, 7, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def _source(required=True):
    return SourceFreshness(dg.AssetKey(["raw", "orders"]), "raw.orders", "_loaded_at",
                           warn_after=DAY, error_after=3 * DAY, required=required)


def test_the_thresholds_are_read_from_the_dbt_sources_once_declared():
    declared = declared_freshness(json.loads(winback_project.manifest_path.read_text()))
    by_table = {s.table: s for s in declared}
    assert set(by_table) == {f"raw.{e}" for e in (
        "orders", "order_items", "loyalty_ledger", "customers", "consent_events",
        "suppressions", "erasure_requests", "support_tickets", "exclusions")}
    orders = by_table["raw.orders"]
    assert (orders.key, orders.loaded_at_field, orders.warn_after, orders.error_after) == (
        dg.AssetKey(["raw", "orders"]), "_loaded_at", DAY, 3 * DAY)
    assert orders.required and not by_table["raw.loyalty_ledger"].required


@pytest.mark.parametrize(
    ("age", "required", "passed", "severity"),
    [
        (dt.timedelta(hours=2), True, True, dg.AssetCheckSeverity.WARN),
        (dt.timedelta(hours=25), True, False, dg.AssetCheckSeverity.WARN),
        (dt.timedelta(days=3, hours=1), True, False, dg.AssetCheckSeverity.ERROR),
        (None, True, False, dg.AssetCheckSeverity.ERROR),
        (None, False, True, dg.AssetCheckSeverity.ERROR),
    ],
)
def test_freshness_is_measured_from_now_with_dbts_warn_and_error_levels(age, required, passed,
                                                                       severity):
    result = freshness_result(_source(required), None if age is None else NOW - age, NOW)
    assert (result.passed, result.severity) == (passed, severity)
    if age is not None:
        assert result.metadata["age_hours"].value == round(age.total_seconds() / 3600, 2)


def test_one_non_blocking_check_per_source_on_the_ingest_asset():
    specs = list(source_freshness_checks.check_specs)
    assert {s.asset_key for s in specs} <= {a.key for a in ingest_assets}
    assert len(specs) == 9
    assert all(s.name == CHECK_NAME and not s.blocking and s.description for s in specs)


def test_the_checks_read_the_latest_load_of_each_table_from_the_warehouse(tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE SCHEMA raw")
        con.execute("CREATE TABLE raw.orders (_loaded_at TIMESTAMPTZ)")
        con.execute("INSERT INTO raw.orders VALUES (now() - INTERVAL 2 HOUR), "
                    "(now() - INTERVAL 5 DAY)")
        con.execute("CREATE TABLE raw.consent_events (_loaded_at TIMESTAMPTZ)")
        con.execute("INSERT INTO raw.consent_events VALUES (now() - INTERVAL 30 HOUR)")
        con.execute("CREATE TABLE raw.support_tickets (_loaded_at TIMESTAMPTZ)")
    result = dg.materialize(
        [*ingest_assets, source_freshness_checks],
        selection=dg.AssetSelection.checks(source_freshness_checks),
        resources={"winback": WinbackConfig(warehouse=str(warehouse))},
        raise_on_error=False,
    )
    outcomes = {e.asset_key.path[-1]: (e.passed, e.severity)
                for e in result.get_asset_check_evaluations()}
    warn, error = dg.AssetCheckSeverity.WARN, dg.AssetCheckSeverity.ERROR
    assert outcomes["orders"] == (True, warn)
    assert outcomes["consent_events"] == (False, warn)  # optional but delivered: stale
    assert outcomes["support_tickets"] == (True, error)  # optional, never delivered
    assert outcomes["order_items"] == (True, error)  # optional, no table yet
    assert outcomes["customers"] == (False, error)  # required, no table yet
    assert len(outcomes) == 9 and not result.get_asset_materialization_events()


def test_marts_and_exports_carry_the_daily_freshness_policy():
    from orchestration.definitions import defs

    specs = {s.key: s for s in defs.resolve_all_asset_specs()}
    exports = [s for k, s in specs.items() if k.path[0] == "exports"]
    assert exports and all(s.freshness_policy == DAILY_FRESHNESS for s in exports)
    assert specs[dg.AssetKey(["activity", "customer_activity"])].freshness_policy == (
        DAILY_FRESHNESS)
    assert specs[dg.AssetKey(["raw", "orders"])].freshness_policy is None
    assert DAILY_FRESHNESS.fail_window.to_timedelta() == dt.timedelta(hours=26)
    assert DAILY_FRESHNESS.warn_window.to_timedelta() == dt.timedelta(hours=25)

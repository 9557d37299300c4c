"""The demo's year of status history (orchestration/backfill.py) on the hand-computed landing
fixture. A module of its own: it shares no run with the backfills of test_backfill.py, so a
test worker runs it beside them."""

import datetime as dt
from dataclasses import replace

import duckdb
import pytest
from daily_run import run_daily
from export_files import export_digests
from landing_fixture import AS_OF, write_landing

from orchestration.backfill import record_demo_history
from orchestration.lib.settings import load_settings

pytestmark = pytest.mark.integration

LAST = dt.date.fromisoformat(AS_OF)


def test_the_demo_history_records_a_year_of_statuses_and_writes_no_export(tmp_path):
    write_landing(tmp_path / "landing")
    run_daily(tmp_path, LAST)
    settings = replace(load_settings(environ={
        "WINBACK_LANDING_DIR": str(tmp_path / "landing"),
        "WINBACK_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
        "WINBACK_EXPORT_DIR": str(tmp_path / "exports"),
        "WINBACK_SERVING_DIR": str(tmp_path / "serving"),
        "WINBACK_LOG_DIR": str(tmp_path / "logs"),
    }), as_of=LAST)
    exports_before = export_digests(tmp_path / "exports")

    dates = record_demo_history(
        settings, lambda day, assets: run_daily(tmp_path, day, asset_selection=assets),
        echo=lambda _: None,
    )
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        runs = [d for (d,) in con.execute(
            "SELECT as_of_date FROM inactivity.customer_status_runs ORDER BY 1").fetchall()]
        months = con.execute(
            "SELECT count(*) FROM inactivity.customer_churn_monthly").fetchone()[0]
    assert runs == [*dates, LAST]
    assert (LAST - dates[0]).days >= 360
    assert months >= 12
    assert export_digests(tmp_path / "exports") == exports_before

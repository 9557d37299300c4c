"""The demo's status history (orchestration/backfill.py) on the hand-made landing fixture: each
history date runs only the history assets, records its statuses and churn months, and writes no
export. A module of its own: it shares no run with the backfills of test_backfill.py, so a test
worker runs it beside them.

Three of the history's dates, not its thirteen: each is a run of its own, and which dates make
the year (thirteen, four weeks apart) is tests/unit/test_backfill_progress.py's."""

import datetime as dt
from dataclasses import replace

import duckdb
import pytest
from daily_run import run_daily
from export_files import export_digests
from landing_fixture import AS_OF

from orchestration import backfill
from orchestration.backfill import record_demo_history
from orchestration.lib.settings import load_settings

pytestmark = [pytest.mark.integration, pytest.mark.pipeline_runs(2)]

LAST = dt.date.fromisoformat(AS_OF)


def test_the_demo_history_records_the_statuses_of_its_dates_and_writes_no_export(
    fixture_run, tmp_path, monkeypatch
):
    fixture_run.copy(tmp_path)  # the run as of LAST, as `winback run` makes it first
    monkeypatch.setattr(backfill, "DEMO_HISTORY_DATES", 3)
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
        months = [m for (m,) in con.execute(
            "SELECT month_start FROM inactivity.customer_churn_monthly ORDER BY 1").fetchall()]
    assert dates == [LAST - n * backfill.DEMO_HISTORY_STEP for n in (3, 2, 1)]
    assert runs == [*dates, LAST]
    # One row per month from the first history date's to the run date's.
    assert months == [dt.date(2026, m, 1) for m in range(dates[0].month, LAST.month + 1)]
    assert export_digests(tmp_path / "exports") == exports_before

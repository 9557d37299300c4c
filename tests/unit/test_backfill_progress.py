"""The backfill's order, progress and resumption, with a recorded stand-in for the daily run."""

import datetime as dt
import json
from dataclasses import replace

import pytest

from orchestration import backfill
from orchestration.lib.settings import SettingsError, load_settings

D = dt.date
WEEK = [D(2026, 6, 24) + dt.timedelta(days=n) for n in range(7)]


@pytest.fixture
def settings(tmp_path):
    return load_settings(environ={
        "WINBACK_WAREHOUSE": str(tmp_path / "warehouse.duckdb"),
        "WINBACK_LANDING_DIR": str(tmp_path / "landing"),
        "WINBACK_EXPORT_DIR": str(tmp_path / "exports"),
        "WINBACK_SERVING_DIR": str(tmp_path / "serving"),
    })


class Runs:
    """Records the dates run; fails on `fail_on` like a run whose step failed."""

    def __init__(self, fail_on=None):
        self.dates, self.fail_on = [], fail_on

    def __call__(self, day):
        if day == self.fail_on:
            raise RuntimeError(f"step failed on {day}")
        self.dates.append(day)


@pytest.mark.parametrize(
    ("start", "end", "every", "expected"),
    [
        (D(2026, 6, 1), D(2026, 6, 3), 1, [D(2026, 6, 1), D(2026, 6, 2), D(2026, 6, 3)]),
        (D(2026, 6, 1), D(2026, 6, 1), 1, [D(2026, 6, 1)]),
        (D(2026, 6, 1), D(2026, 6, 20), 7, [D(2026, 6, 1), D(2026, 6, 8), D(2026, 6, 15)]),
        (D(2026, 2, 27), D(2026, 3, 1), 1, [D(2026, 2, 27), D(2026, 2, 28), D(2026, 3, 1)]),
    ],
)
def test_backfill_dates_run_from_start_to_end_inclusive(start, end, every, expected):
    assert backfill.backfill_dates(start, end, every) == expected


@pytest.mark.parametrize(("start", "end", "every", "message"), [
    (D(2026, 6, 2), D(2026, 6, 1), 1, "before --start"),
    (D(2026, 6, 1), D(2026, 6, 2), 0, "positive"),
])
def test_a_reversed_range_or_a_zero_step_is_a_settings_error(start, end, every, message):
    with pytest.raises(SettingsError, match=message):
        backfill.backfill_dates(start, end, every)


def test_dates_run_oldest_first_and_a_finished_backfill_leaves_no_progress(settings):
    runs = Runs()
    ran = backfill.run_backfill(settings, list(reversed(WEEK)), runs, echo=lambda _: None)
    assert runs.dates == ran == WEEK
    assert not backfill.progress_path(settings.warehouse).exists()


def test_a_failed_date_stops_the_backfill_and_the_same_backfill_resumes_at_it(settings):
    first = Runs(fail_on=WEEK[3])
    with pytest.raises(RuntimeError):
        backfill.run_backfill(settings, WEEK, first, echo=lambda _: None)
    assert first.dates == WEEK[:3]
    progress = json.loads(backfill.progress_path(settings.warehouse).read_text())
    assert progress["done"] == [d.isoformat() for d in WEEK[:3]]

    lines, second = [], Runs()
    backfill.run_backfill(settings, WEEK, second, echo=lines.append)
    assert second.dates == WEEK[3:]
    assert f"3 of 7 dates done, continuing at {WEEK[3]}" in lines[0]
    assert not backfill.progress_path(settings.warehouse).exists()


def test_running_a_finished_backfill_again_recomputes_every_date(settings):
    backfill.run_backfill(settings, WEEK, Runs(), echo=lambda _: None)
    again = Runs()
    backfill.run_backfill(settings, WEEK, again, echo=lambda _: None)
    assert again.dates == WEEK


@pytest.mark.parametrize("change", ["dates", "policies", "scope"])
def test_progress_of_a_different_backfill_is_not_resumed(settings, tmp_path, change):
    with pytest.raises(RuntimeError):
        backfill.run_backfill(settings, WEEK, Runs(fail_on=WEEK[3]), echo=lambda _: None)
    dates, scope = WEEK, "all"
    if change == "dates":
        dates = WEEK[:6]
    elif change == "scope":
        scope = "demo-history"
    else:
        policies = tmp_path / "policies.yml"
        policies.write_bytes(settings.policies_file.read_bytes() + b"\n# edited\n")
        settings = replace(settings, policies_file=policies)
    runs = Runs()
    backfill.run_backfill(settings, dates, runs, scope=scope, echo=lambda _: None)
    assert runs.dates == list(dates)


def test_the_demo_history_is_a_year_of_dates_before_the_run_date():
    dates = backfill.demo_history_dates(D(2026, 12, 1))
    assert dates == sorted(dates) and len(dates) == 13
    assert dates[-1] == D(2026, 11, 3)
    assert D(2025, 12, 1) <= dates[0] <= D(2025, 12, 8)
    assert len({(d.year, d.month) for d in dates}) >= 12


def test_the_history_backfill_runs_the_models_and_predictions_the_history_marts_need():
    from orchestration.definitions import defs

    keys = {k.to_user_string() for k in backfill.history_assets(defs.resolve_asset_graph())}
    assert {"inactivity/customer_status_history", "inactivity/customer_status_transitions",
            "inactivity/customer_churn_monthly", "inactivity/customer_status_changes",
            "predictions/customer_bgnbd", "staging/stg_shop__orders"} <= keys
    # Regression: the status mart reads the model check's verdict; the step writing it also
    # writes the per-customer table and cannot run half (DagsterInvalidSubsetError).
    assert {"predictions/bgnbd_model_check", "predictions/customer_bgnbd_holdout"} <= keys
    assert not any(k.startswith(("raw/", "exports/", "serving/", "hygiene/")) for k in keys)
    assert "activation/sync_audience_members" not in keys


def test_a_backfill_killed_on_its_first_date_counts_as_unfinished(settings):
    def killed(day):
        assert backfill.unfinished(settings, WEEK)
        raise KeyboardInterrupt

    assert not backfill.unfinished(settings, WEEK)
    with pytest.raises(KeyboardInterrupt):
        backfill.run_backfill(settings, WEEK, killed, echo=lambda _: None)
    assert backfill.unfinished(settings, WEEK)
    assert not backfill.unfinished(settings, WEEK[:6])
    backfill.run_backfill(settings, WEEK, Runs(), echo=lambda _: None)
    assert not backfill.unfinished(settings, WEEK)


def test_an_interrupted_demo_history_is_finished_by_the_next_winback_run(settings):
    history = replace(settings, as_of=D(2026, 12, 1))
    dates = backfill.demo_history_dates(history.as_of)
    with pytest.raises(RuntimeError):
        backfill.run_backfill(history, dates, Runs(fail_on=dates[5]),
                              scope=backfill.DEMO_HISTORY_SCOPE, echo=lambda _: None)
    assert backfill.demo_history_unfinished(history)
    assert not backfill.demo_history_unfinished(replace(history, as_of=D(2026, 12, 2)))
    resumed = []
    backfill.record_demo_history(history, lambda day, assets: resumed.append(day),
                                 echo=lambda _: None)
    assert resumed == dates[5:]
    assert not backfill.demo_history_unfinished(history)

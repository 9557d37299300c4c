"""`winback run` on demo data: the send date, the year of history, then today, in that order."""

import argparse
import datetime as dt

import pytest

from orchestration import backfill, cli, preflight, summary

TODAY = dt.date(2026, 12, 1)
SEND = dt.date(2026, 10, 21)


@pytest.fixture
def runs(tmp_path, monkeypatch):
    """The runs `winback run` starts: (as-of date, whether it ran only some assets)."""
    for name in ("WINBACK_LANDING_DIR", "DAGSTER_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WINBACK_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("WINBACK_AS_OF", TODAY.isoformat())
    started = []
    monkeypatch.setattr(preflight, "check_configuration", lambda settings: [])
    monkeypatch.setattr(cli, "_ensure_manifest", lambda: None)
    monkeypatch.setattr(summary, "print_run_summary", lambda settings, out: None)
    monkeypatch.setattr(cli, "_run_job", lambda settings, instance, verbose, selection=None:
                        started.append((settings.as_of, selection is not None)))
    return started


def _run():
    return cli.cmd_run(argparse.Namespace(as_of=None, allow_future=False, verbose=False))


def test_fresh_demo_data_records_the_send_date_a_year_of_history_then_today(runs, monkeypatch):
    monkeypatch.setattr(cli, "_ensure_demo_data", lambda settings: SEND)
    assert _run() == 0
    history = backfill.demo_history_dates(TODAY)
    assert runs == [(SEND, False), *[(d, True) for d in history], (TODAY, False)]


def test_existing_demo_data_runs_only_today(runs, monkeypatch):
    monkeypatch.setattr(cli, "_ensure_demo_data", lambda settings: None)
    assert _run() == 0
    assert runs == [(TODAY, False)]


def test_a_run_stopped_during_the_history_finishes_it_next_time(runs, monkeypatch):
    history = backfill.demo_history_dates(TODAY)

    def killed_on_the_fifth_history_date(settings, instance, verbose, selection=None):
        if settings.as_of == history[4]:
            raise KeyboardInterrupt
        runs.append((settings.as_of, selection is not None))

    monkeypatch.setattr(cli, "_ensure_demo_data", lambda settings: SEND)
    monkeypatch.setattr(cli, "_run_job", killed_on_the_fifth_history_date)
    with pytest.raises(KeyboardInterrupt):
        _run()
    assert runs[-1] == (history[3], True)
    runs.clear()
    monkeypatch.setattr(cli, "_ensure_demo_data", lambda settings: None)
    monkeypatch.setattr(cli, "_run_job", lambda settings, instance, verbose, selection=None:
                        runs.append((settings.as_of, selection is not None)))
    assert _run() == 0
    assert runs == [*[(d, True) for d in history[4:]], (TODAY, False)]

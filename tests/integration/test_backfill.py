"""`winback backfill` as a user runs it, on the hand-computed landing fixture: three dates of
history (`--every 2`), an identical second backfill, and a backfill that fails on its second
date and resumes there. Each date is a whole run, so three dates, the fewest that show a date
done before the failure and one left after it; the date ranges, the progress file and resuming
over longer ranges are tests/unit/test_backfill_progress.py's. The demo's year of history:
test_demo_history.py."""

import datetime as dt
import json
import shutil
import subprocess
import sys

import duckdb
import pytest
from cli_env import cli_env
from export_files import export_digests
from landing_fixture import AS_OF, write_landing

pytestmark = [pytest.mark.integration, pytest.mark.pipeline_runs(10)]

LAST = dt.date.fromisoformat(AS_OF)
EVERY = 2
DAYS = [LAST - dt.timedelta(days=n) for n in (4, 2, 0)]
FAILING = 1  # the index in DAYS of the date whose export is blocked
EXPORT = ("winback_inactive_email", "generic_csv")
# Every table dbt builds or the pipeline writes from the as-of date (not the raw loads, whose
# _loaded_at differs between folders).
MART_SCHEMAS = ("activity", "inactivity", "activation", "contacts", "predictions")


def _env(root):
    return cli_env(
        WINBACK_LANDING_DIR=str(root / "landing"),
        WINBACK_WAREHOUSE=str(root / "warehouse.duckdb"),
        WINBACK_EXPORT_DIR=str(root / "exports"),
        WINBACK_SERVING_DIR=str(root / "serving"),
        WINBACK_LOG_DIR=str(root / "logs"),
    )


def _started(day):
    """The line `winback backfill` prints as it starts a date's run."""
    return f"Backfill {DAYS.index(day) + 1}/{len(DAYS)}: {day}"


def _backfill(root):
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "backfill",
         "--start", DAYS[0].isoformat(), "--end", DAYS[-1].isoformat(),
         "--every", str(EVERY)],
        env=_env(root), capture_output=True, text=True, timeout=1800,
    )


def _marts(root):
    """Every mart row, keyed by table, in a stable order."""
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        tables = con.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables "
            f"WHERE table_schema IN {MART_SCHEMAS} AND table_type = 'BASE TABLE' ORDER BY 1"
        ).fetchall()
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for (t,) in tables}


def _exports(root):
    return export_digests(root / "exports")


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory):
    root = tmp_path_factory.mktemp("backfill")
    write_landing(root / "landing")
    done = _backfill(root)
    assert done.returncode == 0, done.stderr[-2000:]
    return root, done


def test_a_backfill_records_the_history_of_each_date_in_date_order(backfilled):
    root, done = backfilled
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        runs = [d for (d,) in con.execute(
            "SELECT as_of_date FROM inactivity.customer_status_runs ORDER BY 1").fetchall()]
        membership = [d for (d,) in con.execute(
            "SELECT DISTINCT as_of_date FROM activation.audience_membership_daily ORDER BY 1"
        ).fetchall()]
    assert runs == DAYS
    assert membership == DAYS
    started = [done.stdout.index(_started(d)) for d in DAYS]
    assert started == sorted(started)
    assert all((root / "exports" / EXPORT[0] / EXPORT[1] / d.isoformat()).is_dir() for d in DAYS)


def test_a_second_backfill_of_the_same_days_leaves_every_mart_and_export_identical(backfilled):
    root, _ = backfilled
    marts = _marts(root)
    exports = {p: p.read_bytes() for p in (root / "exports").rglob("*") if p.is_file()}
    done = _backfill(root)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Resuming" not in done.stdout
    assert all(_started(d) in done.stdout for d in DAYS)
    assert _marts(root) == marts
    assert {p: p.read_bytes() for p in (root / "exports").rglob("*") if p.is_file()} == exports


def test_a_backfill_that_fails_on_a_date_resumes_there_and_ends_like_an_uninterrupted_one(
    backfilled, tmp_path
):
    uninterrupted, _ = backfilled
    write_landing(tmp_path / "landing")
    # A file where the failing date's export folder goes makes that date's export step fail.
    blocker = tmp_path / "exports" / EXPORT[0] / EXPORT[1] / DAYS[FAILING].isoformat()
    blocker.parent.mkdir(parents=True)
    blocker.write_text("not a folder")

    failed = _backfill(tmp_path)
    assert failed.returncode == 1
    assert _started(DAYS[FAILING]) in failed.stdout
    assert _started(DAYS[FAILING + 1]) not in failed.stdout
    progress = json.loads((tmp_path / "warehouse.duckdb.backfill.json").read_text())
    assert progress["done"] == [d.isoformat() for d in DAYS[:FAILING]]

    # Repair what the failed step left where that date's folder goes (the file, or the folder it
    # published before failing), as an operator would.
    if blocker.is_dir():
        shutil.rmtree(blocker)
    else:
        blocker.unlink()
    resumed = _backfill(tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"{FAILING} of {len(DAYS)} dates done, continuing at {DAYS[FAILING]}" in resumed.stdout
    assert not any(_started(d) in resumed.stdout for d in DAYS[:FAILING])
    assert all(_started(d) in resumed.stdout for d in DAYS[FAILING:])
    assert not (tmp_path / "warehouse.duckdb.backfill.json").exists()
    assert _marts(tmp_path) == _marts(uninterrupted)
    assert _exports(tmp_path) == _exports(uninterrupted)

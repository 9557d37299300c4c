"""`winback backfill` as a user runs it, on the hand-computed landing fixture: three dates of
history (`--every 2`), then a second backfill over the dates already done that fails on its
second date, and a third that resumes there. Each date is a whole run, so three dates, the
fewest that show a date done before the failure and one left after it. The second backfill
recomputes a past date after later ones before it fails, and the resumed one the failed date
and the last: all three recomputed, each once, and the end compared with the first backfill's.
The command runs in this process (`cli.main`, as the `winback` script calls it): a subprocess
would load Python, Dagster and the definitions again for each backfill; only the failing
backfill runs as a process of its own, which ends as a user's would.
The date ranges, the progress file and resuming over longer ranges are
tests/unit/test_backfill_progress.py's; the `winback` script as a process, test_cli_runs.py's. The
demo's year of history: test_demo_history.py."""

import contextlib
import datetime as dt
import io
import json
import shutil
import subprocess
import sys

import duckdb
import pytest
from cli_env import cli_env
from daily_run import run_daily
from export_files import export_digests
from landing_fixture import AS_OF, write_csv_file, write_landing

from orchestration import cli
from orchestration.defs.dbt.args import dbt_config_vars_args, dbt_launcher
from orchestration.defs.dbt.state import write_run_context
from orchestration.lib.audiences import audiences_for
from orchestration.lib.policies import policies_for
from orchestration.lib.settings import REPO_ROOT, load_settings

pytestmark = [pytest.mark.integration, pytest.mark.pipeline_runs(8)]
DBT_DIR = REPO_ROOT / "dbt_project"
HISTORY = "activation.audience_membership_history"
MEASURED = "intermediate.int_audience_spells_measured"

LAST = dt.date.fromisoformat(AS_OF)
EVERY = 2
DAYS = [LAST - dt.timedelta(days=n) for n in (4, 2, 0)]
FAILING = 1  # the index in DAYS of the date whose export is blocked
EXPORT = ("winback_inactive_email", "generic_csv")
# Every table dbt builds or the pipeline writes from the as-of date (not the raw loads, whose
# _loaded_at differs between folders).
MART_SCHEMAS = ("activity", "inactivity", "activation", "contacts", "predictions")


def _started(day):
    """The line `winback backfill` prints as it starts a date's run."""
    return f"Backfill {DAYS.index(day) + 1}/{len(DAYS)}: {day}"


def _settings(root):
    return {
        "WINBACK_LANDING_DIR": str(root / "landing"),
        "WINBACK_WAREHOUSE": str(root / "warehouse.duckdb"),
        "WINBACK_EXPORT_DIR": str(root / "exports"),
        "WINBACK_SERVING_DIR": str(root / "serving"),
        "WINBACK_LOG_DIR": str(root / "logs"),
    }


def _argv(start):
    return ["backfill", "--start", start.isoformat(), "--end", DAYS[-1].isoformat(),
            "--every", str(EVERY)]


def _backfill(root, start=DAYS[0]):
    """`winback backfill` from `start` to the last date on the folders under `root`, in this
    process: its exit code and what it printed (stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as env, contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err):
        for name, value in _settings(root).items():
            env.setenv(name, value)
        code = cli.main(_argv(start))
    return code, out.getvalue(), err.getvalue()


def _backfill_process(root):
    """The same in a process of its own, which ends after the backfill: what a failed export
    leaves in exports/.staging carries the process id, and a later run removes it once that
    process is gone (a resume in the same process would find it still alive)."""
    done = subprocess.run([sys.executable, "-m", "orchestration.cli", *_argv(DAYS[0])],
                          env=cli_env(**_settings(root)), capture_output=True, text=True,
                          timeout=1800)
    return done.returncode, done.stdout, done.stderr


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
    code, out, err = _backfill(root)
    assert code == 0, err[-2000:]
    return root, out


def test_a_backfill_records_the_history_of_each_date_in_date_order(backfilled):
    root, out = backfilled
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        runs = [d for (d,) in con.execute(
            "SELECT as_of_date FROM inactivity.customer_status_runs ORDER BY 1").fetchall()]
        membership = [d for (d,) in con.execute(
            "SELECT DISTINCT as_of_date FROM activation.audience_membership_daily ORDER BY 1"
        ).fetchall()]
    assert runs == DAYS
    assert membership == DAYS
    started = [out.index(_started(d)) for d in DAYS]
    assert started == sorted(started)
    assert all((root / "exports" / EXPORT[0] / EXPORT[1] / d.isoformat()).is_dir() for d in DAYS)


def _files(root):
    return {p.relative_to(root): p.read_bytes() for p in (root / "exports").rglob("*")
            if p.is_file()}


def test_a_backfill_over_days_done_that_fails_resumes_there_and_ends_like_an_uninterrupted_one(
    backfilled, tmp_path
):
    """A second backfill over the dates already done recomputes each (a past date after later
    ones), fails on its second date, and a third resumes there: the marts and the export files
    end as the first backfill left them. The failure happens in a process of its own."""
    uninterrupted, _ = backfilled
    root = shutil.copytree(uninterrupted, tmp_path / "again", symlinks=True)
    # A file where the failing date's export folder goes makes that date's export step fail.
    blocker = root / "exports" / EXPORT[0] / EXPORT[1] / DAYS[FAILING].isoformat()
    shutil.rmtree(blocker)
    blocker.write_text("not a folder")

    code, out, err = _backfill_process(root)
    assert code == 1
    assert len(err.splitlines()) == 1, err[-2000:]
    assert "Resuming" not in out
    assert _started(DAYS[FAILING]) in out
    assert _started(DAYS[FAILING + 1]) not in out
    progress = json.loads((root / "warehouse.duckdb.backfill.json").read_text())
    assert progress["done"] == [d.isoformat() for d in DAYS[:FAILING]]

    # Repair what the failed step left where that date's folder goes (the file, or the folder it
    # published before failing), as an operator would.
    if blocker.is_dir():
        shutil.rmtree(blocker)
    else:
        blocker.unlink()
    code, out, err = _backfill(root)
    assert code == 0, err[-2000:]
    assert f"{FAILING} of {len(DAYS)} dates done, continuing at {DAYS[FAILING]}" in out
    assert not any(_started(d) in out for d in DAYS[:FAILING])
    assert all(_started(d) in out for d in DAYS[FAILING:])
    assert not (root / "warehouse.duckdb.backfill.json").exists()
    assert _marts(root) == _marts(uninterrupted)
    assert _exports(root) == _exports(uninterrupted)
    # Byte for byte, manifests included (a date's manifest keeps the run that first wrote it),
    # but for the folder the blocker replaced, which was written anew.
    rewritten = blocker.relative_to(root)
    assert ({p: b for p, b in _files(root).items() if rewritten not in p.parents}
            == {p: b for p, b in _files(uninterrupted).items() if rewritten not in p.parents})


def _history(root):
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(f"SELECT * FROM {HISTORY} ORDER BY ALL").fetchall()
        state = con.execute("SELECT built_through, build "
                            "FROM meta.audience_membership_history_state").fetchall()
    return rows, state


def _measured(root):
    """The measured spells, and whether their build updated the previous one."""
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(f"SELECT * FROM {MEASURED} ORDER BY ALL").fetchall()
        updated = con.execute(
            "SELECT based_on IS NOT NULL FROM meta.incremental_as_of_builds "
            "WHERE model_name = 'int_audience_spells_measured'").fetchall()
    return rows, updated


def test_the_membership_history_updated_from_the_day_equals_one_rebuilt_from_every_row(
    backfilled, tmp_path
):
    """A daily run after the backfill updates the spells from the last build and the day's rows
    (macros/membership_history.sql), which the daily marts' logged writes allow; without the
    state that allows it, dbt rebuilds the table from every daily row, which must give the same
    spells. That day C02 buys (its spells end) and C13 goes on an exclusion list (its spells end,
    exclusion spells start). Spells that go on and end over more days, and the cases that force
    a rebuild: test_membership_history.py. The spells outcomes are measured on are updated too
    (the changed customers' and the open and ending spells: macros/spells_measured.sql) and
    must equal the spells measured anew from the rebuilt history."""
    done, _ = backfilled
    root = shutil.copytree(done, tmp_path / "next", symlinks=True)
    day = DAYS[-1] + dt.timedelta(days=2)
    write_csv_file(root / "landing" / "orders" / "next.csv",
                   ["order_id", "customer_id", "ordered_at", "status", "currency", "amount",
                    "updated_at"],
                   [("O90", "C02", f"{day}T08:00:00+00:00", "paid", "GBP", "20.00", "")])
    write_csv_file(root / "landing" / "exclusions" / "staff.csv",
                   ["list_name", "customer_id", "email", "reason", "added_at", "removed_at"],
                   [("staff", "C13", "", "employee", f"{day}T00:00:00Z", "")])
    run_daily(root, day)

    rows, state = _history(root)
    assert state == [(day, "incremental")]
    # (audience, customer_id, holdout_group, variant, entered_on, left_on, last_member_on, ...,
    #  exclusion_reason at 10)
    spells = {(r[0], r[1], r[4], r[5], r[6], r[10]) for r in rows}
    assert ("winback_inactive_email", "C02", DAYS[0], day, DAYS[-1], None) in spells
    assert ("winback_inactive_email", "C13", DAYS[0], day, DAYS[-1], None) in spells
    assert ("winback_inactive_email", "C13", day, None, day, "global_exclusion") in spells

    measured, updated = _measured(root)
    assert updated == [(True,)]
    # C02's spell of the first backfilled date, with the day's purchase in its window.
    assert ("winback_inactive_email", DAYS[0], "C02", "treatment", None, "GBP", 1, 20) in measured

    rebuilt = shutil.copytree(root, tmp_path / "rebuilt", symlinks=True)
    with duckdb.connect(str(rebuilt / "warehouse.duckdb")) as con:
        con.execute("DELETE FROM meta.audience_membership_history_state")
        con.execute("DELETE FROM meta.incremental_as_of_builds "
                    "WHERE model_name = 'int_audience_spells_measured'")
    settings = load_settings(environ={}, overrides={
        "WINBACK_WAREHOUSE": str(rebuilt / "warehouse.duckdb"), "WINBACK_AS_OF": str(day)})
    result = subprocess.run([
        dbt_launcher(), "run", "--select", "audience_membership_history",
        "int_audience_spells_measured",
        *dbt_config_vars_args(settings, policies_for(settings), audiences_for(settings)),
        "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR), "--quiet",
    ], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-2000:]
    rebuilt_rows, rebuilt_state = _history(rebuilt)
    assert rebuilt_state == [(day, "rebuild")]
    assert rebuilt_rows == rows
    assert _measured(rebuilt) == (measured, [(False,)])

    # A build recorded with another conversion window (the configuration changed since) is
    # rebuilt the next day, not updated: every spell's window changed. dbt alone, on a copy.
    other = shutil.copytree(root, tmp_path / "other_window", symlinks=True)
    with duckdb.connect(str(other / "warehouse.duckdb")) as con:
        con.execute("UPDATE meta.audience_spells_measured_state SET conversion_window_days = 5")
    settings = load_settings(environ={}, overrides={
        "WINBACK_WAREHOUSE": str(other / "warehouse.duckdb"),
        "WINBACK_AS_OF": str(day + dt.timedelta(days=1))})
    write_run_context(settings, "other-window")
    result = subprocess.run([
        dbt_launcher(), "run", "--select", "int_as_of_changed_keys", "int_audience_spells_measured",
        *dbt_config_vars_args(settings, policies_for(settings), audiences_for(settings)),
        "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR), "--quiet",
    ], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-2000:]
    assert _measured(other) == (measured, [(False,)])
    with duckdb.connect(str(other / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("SELECT conversion_window_days FROM "
                           "meta.audience_spells_measured_state").fetchall() == [(30,)]

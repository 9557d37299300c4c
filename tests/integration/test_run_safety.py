"""Run safety as a user meets it (issue 9): one run at a time, readers on the serving copy never
break a run, one-line errors with a log file, and no personal data anywhere a run writes."""

import json
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from cli_env import cli_env
from landing_fixture import AS_OF, write_csv_file, write_landing

pytestmark = [pytest.mark.integration, pytest.mark.pipeline_runs(4)]

CUSTOMER_HEADER = ["customer_id", "first_name", "last_name", "email", "phone", "country",
                   "postal_code", "created_at", "updated_at"]
ORDER_HEADER = ["order_id", "customer_id", "ordered_at", "status", "currency", "amount",
                "updated_at"]
# Unique values that must never leave the warehouse and the export files.
SENTINEL_EMAIL = "qx7.sentinel.zv@example.org"
SENTINEL_PHONE = "+44 7700 900461"
SENTINEL_FIRST, SENTINEL_LAST = "Quillonaxe", "Zorbwitham"
SENTINELS = (SENTINEL_EMAIL, SENTINEL_EMAIL.upper(), "+447700900461", "7700900461",
             "07700 900461", SENTINEL_FIRST, SENTINEL_LAST)


def _env(tmp_path, **extra):
    # The warehouse file is named as the session's dbt parse ahead names its own (dbt-duckdb
    # names the database after the file, tests/conftest.py): another name would make the runs'
    # dbt parse the whole project again, and the next test's too.
    return cli_env(**{
        "WINBACK_LANDING_DIR": str(tmp_path / "landing"),
        "WINBACK_WAREHOUSE": str(tmp_path / "warehouse" / "warehouse.duckdb"),
        "WINBACK_EXPORT_DIR": str(tmp_path / "exports"),
        "WINBACK_SERVING_DIR": str(tmp_path / "serving"),
        "WINBACK_LOG_DIR": str(tmp_path / "logs"),
        "WINBACK_AS_OF": AS_OF,
        **extra,
    })


def _dagster_home(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return str(home)


def _start(env):
    return subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", "run"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _winback(*args, env):
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args],
        env=env, capture_output=True, text=True, timeout=900,
    )


def _one_line(stderr):
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr[-3000:]
    assert "Traceback" not in stderr
    return lines[0]


def _sentinel_landing(landing):
    """The landing fixture and one customer whose email, phone and names are the sentinels."""
    write_landing(landing)
    write_csv_file(landing / "customers" / "sentinel.csv", CUSTOMER_HEADER, [
        ("C90", SENTINEL_FIRST, SENTINEL_LAST, SENTINEL_EMAIL, "07700 900461", "GB", "SW1A 2AA",
         "2025-01-01T00:00:00Z", ""),
    ])
    write_csv_file(landing / "orders" / "sentinel.csv", ORDER_HEADER,
                   [("O91", "C90", "2025-11-01T10:00:00+00:00", "paid", "GBP", "80.00", "")])
    consent = landing / "consent_events" / "sentinel.jsonl"
    consent.write_text(json.dumps({"customer_id": "C90", "channel": "email",
                                   "status": "opted_in", "source": "checkout",
                                   "occurred_at": "2025-01-01T00:00:00Z"}) + "\n")


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two `winback run`s started together on the sentinel landing with a fresh DAGSTER_HOME:
    the folder and each run's (returncode, stdout, stderr). Read by the test of the run lock
    and by the test of personal data, which looks at everything these runs wrote."""
    root = tmp_path_factory.mktemp("two_runs")
    _sentinel_landing(root / "landing")
    env = _env(root, DAGSTER_HOME=_dagster_home(root))
    runs = [_start(env), _start(env)]
    outputs = [run.communicate(timeout=900) for run in runs]
    return root, [(run.returncode, *output) for run, output in zip(runs, outputs, strict=True)]


def test_two_runs_started_together_both_succeed_one_after_the_other(two_runs):
    """Regression: both failed (the DuckDB lock was per step), and on a fresh DAGSTER_HOME the
    loser crashed with SQLite's "table runs already exists"."""
    _, runs = two_runs
    for returncode, out, err in runs:
        assert returncode == 0, err[-3000:]
        assert err == ""
        assert "Written" in out
    waited = [out for _, out, _ in runs if "Another Winback run is using the warehouse" in out]
    assert len(waited) == 1
    assert waited[0].splitlines()[0].startswith("Another Winback run is using the warehouse")
    assert "waiting up to 1800 s" in waited[0]


def test_with_no_wait_a_second_run_stops_at_once_with_one_line(tmp_path):
    write_landing(tmp_path / "landing")
    env = _env(tmp_path)
    # Another process holds the run lock as a run does (it takes it before it starts: the test
    # above), without the cost of a whole run.
    first = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys
            from pathlib import Path
            from orchestration.lib.run_lock import acquire, run_lock_path
            acquire(run_lock_path(Path({env["WINBACK_WAREHOUSE"]!r})), 0)
            print("holding the run lock", flush=True)
            sys.stdin.read()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert first.stdout.readline().strip() == "holding the run lock"
        started = time.monotonic()
        second = _winback("run", env={**env, "WINBACK_RUN_WAIT_SECONDS": "0"})
        elapsed = time.monotonic() - started
    finally:
        first.communicate(timeout=60)
    assert first.returncode == 0
    assert second.returncode == 1
    line = _one_line(second.stderr)
    assert line.startswith("winback run: Another Winback run is using the warehouse (pid ")
    assert "WINBACK_RUN_WAIT_SECONDS" in line and "full trace: " in line
    assert elapsed < 30


def test_a_reader_holding_the_serving_copy_never_breaks_a_run(fixture_run, tmp_path):
    """Regression: an analyst's read-only connection held during a run failed the dbt step."""
    fixture_run.copy(tmp_path)  # a first run and its serving publication
    env = _env(tmp_path, WINBACK_WAREHOUSE=str(tmp_path / "warehouse.duckdb"))
    serving = tmp_path / "serving" / "winback.duckdb"
    reader = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, sys
            con = duckdb.connect({str(serving)!r}, read_only=True)
            count = "SELECT sum(orders_count) FROM activity.customer_activity"
            for _ in sys.stdin:
                print(con.execute(count).fetchone()[0], flush=True)
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        reader.stdin.write("\n")
        reader.stdin.flush()
        before = int(reader.stdout.readline())
        write_csv_file(tmp_path / "landing" / "orders" / "late.csv", ORDER_HEADER,
                       [("O90", "C01", "2026-06-29T10:00:00+00:00", "paid", "GBP", "5.00", "")])
        second = _winback("run", env=env)
        reader.stdin.write("\n")
        reader.stdin.flush()
        still = int(reader.stdout.readline())
    finally:
        reader.stdin.close()
        reader.wait(timeout=60)
    assert second.returncode == 0, second.stderr[-3000:]
    assert still == before  # the open connection keeps reading the complete older copy
    fresh = subprocess.run(
        [sys.executable, "-c", "import duckdb, sys; print(duckdb.connect(sys.argv[1], "
         "read_only=True).execute('SELECT sum(orders_count) FROM activity.customer_activity')"
         ".fetchone()[0])",
         str(serving)], capture_output=True, text=True, check=True)
    assert int(fresh.stdout) == before + 1


def test_a_typo_in_the_audiences_file_is_one_line_and_exit_2_before_anything_is_written(
        tmp_path):
    write_landing(tmp_path / "landing")
    from orchestration.lib.settings import REPO_ROOT

    audiences = tmp_path / "audiences.yml"
    text = (REPO_ROOT / "config" / "audiences.yml").read_text()
    audiences.write_text(text.replace("holdout_share:", "holdout_shar:", 1))
    env = _env(tmp_path, WINBACK_AUDIENCES=str(audiences))
    for command in ("validate", "run"):
        started = time.monotonic()
        done = _winback(command, env=env)
        assert time.monotonic() - started < 20
        assert done.returncode == 2
        line = _one_line(done.stderr)
        assert line.startswith(f"winback {command}: {audiences}: audience ")
        assert "'holdout_shar' is not a known field" in line
        log = line.rsplit("(full trace: ", 1)[1].rstrip(")")
        assert "Traceback" in Path(log).read_text()
    assert not (tmp_path / "warehouse").exists()
    assert not (tmp_path / "exports").exists()


def test_an_export_folder_that_cannot_be_written_is_one_line_naming_it(tmp_path):
    write_landing(tmp_path / "landing")
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    env = _env(tmp_path, WINBACK_EXPORT_DIR=str(blocker / "exports"))
    done = _winback("run", env=env)
    assert done.returncode == 2
    line = _one_line(done.stderr)
    assert f"WINBACK_EXPORT_DIR {blocker / 'exports'} cannot be written" in line
    assert f"{blocker} is a file, not a folder (Not a directory)" in line
    assert not (tmp_path / "warehouse").exists()


def test_no_email_phone_or_name_in_output_logs_or_dagster_storage(two_runs, tmp_path):
    shutil.copytree(two_runs[0], tmp_path, symlinks=True, dirs_exist_ok=True)
    oks = two_runs[1]
    assert all(returncode == 0 for returncode, _, _ in oks)
    exported = "".join(p.read_text() for p in (tmp_path / "exports").rglob("*.csv"))
    assert SENTINEL_EMAIL in exported  # the sentinel really went through the pipeline
    # A failing run too: a customers file without its key column fails at ingest.
    landing = tmp_path / "landing"
    write_csv_file(landing / "customers" / "renamed.csv",
                   ["client_id", "first_name", "last_name", "email"],
                   [("C91", SENTINEL_FIRST, SENTINEL_LAST, SENTINEL_EMAIL)])
    failed = _winback("run", env=_env(tmp_path, DAGSTER_HOME=str(tmp_path / "dagster_home")))
    assert failed.returncode == 2
    _one_line(failed.stderr)
    logs = list((tmp_path / "logs").iterdir())
    assert logs
    texts = {"stdout": "".join(out for _, out, _ in oks) + failed.stdout,
             "stderr": "".join(err for _, _, err in oks) + failed.stderr}
    texts.update({str(p): p.read_bytes().decode("utf-8", "replace") for p in logs})
    stored = [p for p in (tmp_path / "dagster_home").rglob("*") if p.is_file()]
    assert any(p.suffix == ".db" for p in stored)
    assert any("compute_logs" in p.parts for p in stored)
    texts.update({str(p): p.read_bytes().decode("utf-8", "replace") for p in stored})
    # The serving publication is PII-free by default (issue 12).
    served = [p for p in (tmp_path / "serving" / "current").rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in served)
    texts.update({str(p): p.read_bytes().decode("utf-8", "replace") for p in served})
    leaks = {(where, s) for where, text in texts.items() for s in SENTINELS
             if s.lower() in text.lower()}
    assert leaks == set()

"""Run safety as a user meets it (issue 9): one run at a time, one-line errors with a log file.
Two runs started together, and no personal data anywhere a run writes: test_cli_runs.py;
readers holding the serving copy during runs: test_serving_publication.py."""

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from cli_env import cli_env, one_line, winback
from landing_fixture import AS_OF, write_landing

pytestmark = [pytest.mark.integration, pytest.mark.pipeline_runs(1)]

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


def test_with_no_wait_a_second_run_stops_at_once_withone_line(tmp_path):
    write_landing(tmp_path / "landing")
    env = _env(tmp_path)
    # Another process holds the run lock as a run does (it takes it before it starts:
    # test_cli_runs.py), without the cost of a whole run.
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
        second = winback("run", env={**env, "WINBACK_RUN_WAIT_SECONDS": "0"})
        elapsed = time.monotonic() - started
    finally:
        first.communicate(timeout=60)
    assert first.returncode == 0
    assert second.returncode == 1
    line = one_line(second.stderr)
    assert line.startswith("winback run: Another Winback run is using the warehouse (pid ")
    assert "WINBACK_RUN_WAIT_SECONDS" in line and "full trace: " in line
    assert elapsed < 30


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
        done = winback(command, env=env)
        assert time.monotonic() - started < 20
        assert done.returncode == 2
        line = one_line(done.stderr)
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
    done = winback("run", env=env)
    assert done.returncode == 2
    line = one_line(done.stderr)
    assert f"WINBACK_EXPORT_DIR {blocker / 'exports'} cannot be written" in line
    assert f"{blocker} is a file, not a folder (Not a directory)" in line
    assert not (tmp_path / "warehouse").exists()

"""The headless entry point as a user runs it: a subprocess with WINBACK_* variables. Its failures
before a run; whole runs and their output: test_cli_runs.py."""

import os
import subprocess
import sys
import textwrap
import time

import pytest
from cli_env import cli_env, winback
from landing_fixture import AS_OF, write_landing

pytestmark = [pytest.mark.integration, pytest.mark.pipeline_runs(0.5)]


def _env(tmp_path, **extra):
    return cli_env(
        WINBACK_LANDING_DIR=str(tmp_path / "landing"),
        WINBACK_WAREHOUSE=str(tmp_path / "warehouse.duckdb"),
        WINBACK_EXPORT_DIR=str(tmp_path / "exports"),
        WINBACK_SERVING_DIR=str(tmp_path / "serving"),
        WINBACK_LOG_DIR=str(tmp_path / "logs"),
        WINBACK_AS_OF=AS_OF,
        **extra,
    )


def test_a_missing_required_input_fails_with_a_clear_message_and_exit_code(tmp_path):
    write_landing(tmp_path / "landing")
    (tmp_path / "landing" / "orders" / "orders.csv").unlink()
    (tmp_path / "landing" / "orders").rmdir()
    done = winback("run", env=_env(tmp_path))
    assert done.returncode == 2  # bad input
    [line] = done.stderr.splitlines()
    assert "Required input folder" in line and "orders" in line and "full trace: " in line
    assert not (tmp_path / "exports").exists()


def test_a_locked_warehouse_fails_within_seconds_with_a_clear_error(tmp_path):
    write_landing(tmp_path / "landing")
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, sys, time
            con = duckdb.connect({str(tmp_path / 'warehouse.duckdb')!r})
            print('locked', flush=True)
            time.sleep(120)
        """)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        done = winback("run", env=_env(tmp_path))
        elapsed = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert "in use by another process" in line
    assert elapsed < 60


def test_the_code_location_in_workspace_yaml_validates(tmp_path):
    from pathlib import Path

    from orchestration.lib.settings import REPO_ROOT

    env = _env(tmp_path, DAGSTER_HOME=str(tmp_path))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w",
         "workspace.yaml"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Validation successful for code location winback" in done.stderr + done.stdout

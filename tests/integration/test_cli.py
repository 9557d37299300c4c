"""The headless entry point as a user runs it: a subprocess with WINBACK_* variables."""

import os
import re
import subprocess
import sys
import textwrap
import time

import pytest
from cli_env import cli_env
from landing_fixture import AS_OF, write_landing

from orchestration.defs.report.build import CHARTS

pytestmark = [pytest.mark.integration, pytest.mark.pipeline_runs(3)]


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


def _winback(*args, env):
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args],
        env=env, capture_output=True, text=True, timeout=600,
    )


@pytest.fixture(scope="module")
def fixture_runs(tmp_path_factory):
    """One tiny fixture run as a user sees it, a second one with --verbose (every file already
    loaded), then an export of the same date: shared by the assertions below."""
    tmp_path = tmp_path_factory.mktemp("cli")
    write_landing(tmp_path / "landing")
    env = _env(tmp_path)
    first = _winback("run", env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    exports = tmp_path / "exports"
    written = {p: p.read_bytes() for p in exports.rglob("*") if p.is_file()}
    second = _winback("run", "--verbose", env=env)
    assert second.returncode == 0, second.stderr[-2000:]
    export = _winback("export", env=env)
    assert export.returncode == 0, export.stderr[-2000:]
    rewritten = {p: p.read_bytes() for p in exports.rglob("*") if p.is_file()}
    return tmp_path, first, second, export, written, rewritten


def test_run_prints_one_line_per_step_with_its_time_and_no_dbt_output(fixture_runs):
    _, first, _, _, _, _ = fixture_runs
    out = first.stdout
    assert f"Running the pipeline as of {AS_OF}" in out
    steps = [line for line in out.splitlines() if re.fullmatch(r"  \S.*, \d+\.\d s", line)]
    assert "  ingest orders: 1 new file, 0 skipped, 19 rows loaded" in "\n".join(steps)
    assert any(line.startswith("  dbt models: ") and "models built, tests" in line
               for line in steps)
    assert any(line.startswith("  export audiences: ") for line in steps)
    assert any(line.startswith(f"  report html: {len(CHARTS)} charts drawn, ") for line in steps)
    assert len(steps) == len({line.split(":")[0] for line in steps})
    assert "START sql" not in out and "Running with dbt" not in out


def test_verbose_adds_dbts_own_output_and_a_rerun_skips_loaded_files(fixture_runs):
    _, _, second, _, _, _ = fixture_runs
    assert "Running with dbt" in second.stdout and "START sql" in second.stdout
    assert re.search(r"^  ingest orders: 0 new files, 1 skipped, 0 rows loaded, \d+\.\d s$",
                     second.stdout, re.MULTILINE)


def test_the_summary_groups_audiences_with_paths_relative_to_the_export_folder(fixture_runs):
    tmp_path, first, _, _, _, _ = fixture_runs
    out = first.stdout
    assert "raw.orders" in out and "19 rows" in out
    assert "inactive" in out and "prospect" in out
    assert f"files under {tmp_path / 'exports'}" in out
    assert f"  report     {tmp_path / 'report' / 'index.html'}  <- " in out
    assert f"  serving    {tmp_path / 'serving' / 'winback.duckdb'}  <- " in out
    relative = f"winback_inactive_email/generic_csv/{AS_OF}/winback_inactive_email.csv"
    [row] = [line for line in out.splitlines() if line.rstrip().endswith(relative)]
    assert row.split()[:3] == ["winback_inactive_email", "generic_csv", "2"]
    assert str(tmp_path / "exports" / "winback_inactive_email") not in out
    # No email address or name from the fixture reaches the terminal.
    for secret in ("zoe.old@example.com", "Zoë", "ivy@example.com", "O'Old"):
        assert secret not in out + first.stderr


def test_export_rewrites_the_same_bytes_for_the_same_date(fixture_runs):
    _, _, _, export, written, rewritten = fixture_runs
    assert "Exporting" in export.stdout and "export audiences: " in export.stdout
    assert "Running with dbt" not in export.stdout
    assert written and rewritten == written


def test_a_missing_required_input_fails_with_a_clear_message_and_exit_code(tmp_path):
    write_landing(tmp_path / "landing")
    (tmp_path / "landing" / "orders" / "orders.csv").unlink()
    (tmp_path / "landing" / "orders").rmdir()
    done = _winback("run", env=_env(tmp_path))
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
        done = _winback("run", env=_env(tmp_path))
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

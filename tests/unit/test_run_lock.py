"""The run lock: one run at a time per warehouse, a bounded wait, re-entrant in one process."""

import subprocess
import sys
import textwrap
import time

import pytest

from orchestration.lib.run_lock import RunLockTimeout, acquire, release, run_lock, run_lock_path


def _hold_in_another_process(path, seconds):
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import time
            from pathlib import Path
            from orchestration.lib.run_lock import run_lock
            with run_lock(Path({str(path)!r}), 0):
                print('held', flush=True)
                time.sleep({seconds})
        """)],
        stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_the_lock_file_sits_beside_the_warehouse(tmp_path):
    assert run_lock_path(tmp_path / "winback.duckdb") == tmp_path / "winback.duckdb.run.lock"


def test_a_second_process_waits_its_turn_then_gets_the_lock(tmp_path):
    path = tmp_path / "wh.run.lock"
    holder = _hold_in_another_process(path, 2)
    lines = []
    started = time.monotonic()
    try:
        with run_lock(path, 60, lines.append):
            waited = time.monotonic() - started
    finally:
        holder.wait()
    assert 1 <= waited < 30
    assert len(lines) == 1
    assert lines[0].startswith("Another Winback run is using the warehouse (pid ")
    assert "waiting up to 60 s" in lines[0]


def test_past_the_wait_limit_it_stops_with_one_line_naming_the_setting(tmp_path):
    path = tmp_path / "wh.run.lock"
    holder = _hold_in_another_process(path, 30)
    try:
        started = time.monotonic()
        with pytest.raises(RunLockTimeout) as raised:
            acquire(path, 1)
        assert time.monotonic() - started < 10
    finally:
        holder.kill()
        holder.wait()
    message = str(raised.value)
    assert "\n" not in message
    assert "WINBACK_RUN_WAIT_SECONDS" in message and "pid" in message


def test_the_lock_is_reentrant_in_one_process_and_freed_by_the_last_release(tmp_path):
    path = tmp_path / "wh.run.lock"
    acquire(path, 0)
    acquire(path, 0)  # the run's resource inside the CLI's lock
    release(path)
    probe = [sys.executable, "-c", textwrap.dedent(f"""
        from pathlib import Path
        from orchestration.lib.run_lock import acquire
        acquire(Path({str(path)!r}), 0)
    """)]
    assert subprocess.run(probe, capture_output=True).returncode != 0
    release(path)
    assert subprocess.run(probe, capture_output=True).returncode == 0


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    path = tmp_path / "wh.run.lock"
    holder = _hold_in_another_process(path, 60)
    holder.kill()
    holder.wait()
    with run_lock(path, 0):
        pass

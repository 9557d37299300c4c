"""Every run of the graph holds the run lock (taken by the `winback` resource), whoever starts
it; sensor ticks, which have no run, never take it. Regression for issue 9: two runs started
together both failed because the DuckDB lock is taken per step, not per run."""

import subprocess
import sys
import textwrap

import dagster as dg
import pytest

from orchestration.defs.ingest.sensors import landing_files_sensor
from orchestration.defs.resources import WinbackConfig
from orchestration.lib.run_lock import RunLockTimeout, run_lock_path


def _lock_is_free(path) -> bool:
    probe = textwrap.dedent(f"""
        from pathlib import Path
        from orchestration.lib.run_lock import acquire
        acquire(Path({str(path)!r}), 0)
    """)
    return subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0


def _holder(path):
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import time
            from pathlib import Path
            from orchestration.lib.run_lock import run_lock
            with run_lock(Path({str(path)!r}), 0):
                print('held', flush=True)
                time.sleep(60)
        """)],
        stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_run_holds_the_lock_from_its_first_step_to_its_last(tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    seen = []

    @dg.asset
    def first(winback: WinbackConfig) -> None:
        seen.append(_lock_is_free(run_lock_path(winback.settings().warehouse)))

    @dg.asset(deps=[first])
    def second(winback: WinbackConfig) -> None:
        seen.append(_lock_is_free(run_lock_path(winback.settings().warehouse)))

    result = dg.materialize([first, second],
                            resources={"winback": WinbackConfig(warehouse=str(warehouse))})
    assert result.success
    assert seen == [False, False]
    assert _lock_is_free(run_lock_path(warehouse))


def test_a_run_that_cannot_get_the_lock_in_time_fails_before_any_step(tmp_path, monkeypatch):
    monkeypatch.setenv("WINBACK_RUN_WAIT_SECONDS", "0")
    warehouse = tmp_path / "wh.duckdb"
    ran = []

    @dg.asset
    def step(winback: WinbackConfig) -> None:
        ran.append(True)

    holder = _holder(run_lock_path(warehouse))
    try:
        with pytest.raises(dg.DagsterResourceFunctionError) as raised:
            dg.materialize([step], resources={"winback": WinbackConfig(warehouse=str(warehouse))})
    finally:
        holder.kill()
        holder.wait()
    assert isinstance(raised.value.__cause__, RunLockTimeout)
    assert ran == []


def test_a_sensor_tick_during_a_run_takes_no_lock(tmp_path, monkeypatch):
    monkeypatch.setenv("WINBACK_RUN_WAIT_SECONDS", "0")
    warehouse = tmp_path / "wh.duckdb"
    holder = _holder(run_lock_path(warehouse))
    try:
        with dg.build_sensor_context(resources={"winback": WinbackConfig(
                landing_dir=str(tmp_path / "landing"), warehouse=str(warehouse))}) as context:
            result = landing_files_sensor(context)
    finally:
        holder.kill()
        holder.wait()
    assert isinstance(result, dg.SkipReason)


def test_a_run_started_while_another_holds_the_lock_logs_one_warning_then_runs(tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    ran = []

    @dg.asset
    def step(winback: WinbackConfig) -> None:
        ran.append(True)

    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import time
            from pathlib import Path
            from orchestration.lib.run_lock import run_lock
            with run_lock(Path({str(run_lock_path(warehouse))!r}), 0):
                print('held', flush=True)
                time.sleep(2)
        """)],
        stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    instance = dg.DagsterInstance.ephemeral()
    try:
        result = dg.materialize([step], instance=instance,
                                resources={"winback": WinbackConfig(warehouse=str(warehouse))})
    finally:
        holder.wait()
    assert result.success and ran == [True]
    warnings = [e.user_message for e in instance.all_logs(result.run_id)
                if "Another Winback run is using the warehouse" in e.user_message]
    assert len(warnings) == 1


def test_a_run_opens_the_warehouse_once_for_its_steps_and_lets_go_at_its_end(
    tmp_path, duckdb_databases_started
):
    """Each DuckDB database started costs ~20 ms of CPU; a daily run's steps connected ~25
    times. The run's steps share one (lib/warehouse.py), closed when the run ends."""
    from orchestration.lib.warehouse import open_warehouse

    warehouse = tmp_path / "wh.duckdb"
    started = duckdb_databases_started

    @dg.asset
    def written(winback: WinbackConfig) -> None:
        with open_warehouse(winback.settings().warehouse) as con:
            con.execute("CREATE TABLE t AS SELECT 1 AS i")

    @dg.asset(deps=[written])
    def read(winback: WinbackConfig) -> None:
        for _ in range(3):
            with open_warehouse(winback.settings().warehouse, read_only=True) as con:
                assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 1

    result = dg.materialize([written, read],
                            resources={"winback": WinbackConfig(warehouse=str(warehouse))})
    assert result.success
    assert started == [str(warehouse.resolve())]
    probe = f"import duckdb; duckdb.connect({str(warehouse)!r}).close()"
    assert subprocess.run([sys.executable, "-c", probe]).returncode == 0

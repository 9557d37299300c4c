"""benchmarks/run.py counts the CPU a run causes outside its own reaped process tree: a
grandchild its parent did not wait for (Spark's JVM outliving dbt's process) and, on
PostgreSQL, the server's backends. Without them a Spark run's CPU missed its dbt JVMs (354 s of
610 s in the 1m benchmark) and a PostgreSQL run's the 54-77 s of its backends.

The runner makes itself a subreaper (a process-wide setting), so each check runs in a child
process that imports the runner and prints what `measure` recorded.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

RUNNER = Path(__file__).resolve().parents[2] / "benchmarks"
BUSY = "import time\nend = time.process_time() + 0.6\nwhile time.process_time() < end: pass\n"


def _measure(tmp_path: Path, command: list[str], **kwargs) -> dict:
    script = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(RUNNER)!r})\n"
        "import run\n"
        "from pathlib import Path\n"
        "assert run._become_subreaper()\n"
        f"print(json.dumps(run.measure({command!r}, dict(__import__('os').environ), "
        f"Path({str(tmp_path / 'log')!r}), **{kwargs!r})))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl and /proc: Linux")
def test_the_cpu_of_a_grandchild_left_running_by_its_parent_is_counted(tmp_path):
    # The child starts a busy grandchild in the background and exits at once, as dbt's
    # process leaves its JVM: the grandchild's 0.6 s CPU belongs to the run.
    busy = tmp_path / "busy.py"
    busy.write_text(BUSY)
    result = _measure(tmp_path, ["sh", "-c", f"({sys.executable} {busy} &); exit 0"])
    assert result["ok"]
    assert result["orphans"]["reaped"] >= 1
    assert result["orphans"]["still_running"] == 0
    assert result["orphans"]["cpu_s"] >= 0.5
    assert result["cpu_s"] >= 0.5


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl and /proc: Linux")
def test_a_stopped_benchmark_stops_the_run_it_measures_and_its_children(tmp_path):
    # A benchmark stopped with SIGTERM (or Ctrl-C) must not leave its `winback run` going:
    # the run kept the warehouse's lock and the next benchmark waited for it. Here the measured
    # command is a shell that starts a long grandchild, as winback starts dbt and its JVM.
    pid_file = tmp_path / "grandchild.pid"
    command = ["sh", "-c", f"sleep 300 & echo $! > {pid_file}; wait"]
    script = (
        "import sys\n"
        f"sys.path.insert(0, {str(RUNNER)!r})\n"
        "import os, run\n"
        "from pathlib import Path\n"
        "run.exit_on_sigterm()\n"
        "assert run._become_subreaper()\n"
        f"run.measure({command!r}, dict(os.environ), Path({str(tmp_path / 'log')!r}))\n")
    runner = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 60
    while not (pid_file.exists() and pid_file.read_text().strip()):
        assert time.monotonic() < deadline and runner.poll() is None, "the command did not start"
        time.sleep(0.1)
    grandchild = int(pid_file.read_text())
    runner.send_signal(signal.SIGTERM)
    assert runner.wait(timeout=60) == 128 + signal.SIGTERM

    def alive(pid: int) -> bool:
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    deadline = time.monotonic() + 10
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(grandchild), "the measured command's grandchild is still running"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc: Linux")
def test_the_postgresql_servers_cpu_for_the_run_database_is_reported_apart(tmp_path):
    url = os.environ.get("WINBACK_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("WINBACK_TEST_POSTGRES_URL is unset")
    pytest.importorskip("psycopg2")
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.host not in ("127.0.0.1", "localhost"):
        pytest.skip("the server's processes are read from /proc: a local server only")
    dsn = dict(host=parsed.host, port=parsed.port or 5432, user=parsed.username,
               password=parsed.password or "", dbname=parsed.database)
    query = "select count(*) from generate_series(1, 6000000) as a(x) where x % 7 = 3"
    client = (f"import psycopg2\ncon = psycopg2.connect(**{dsn!r})\n"
              f"con.cursor().execute({query!r})\n")
    result = _measure(tmp_path, [sys.executable, "-c", client], postgres_db=parsed.database)
    assert result["ok"]
    server = result["postgres_server"]
    # The query's work is in the server, not in the client's (the run's) CPU.
    assert server["db_backends"] >= 1
    assert server["db_backends_cpu_s"] >= 0.3
    assert server["server_cpu_s"] >= server["db_backends_cpu_s"] - 0.05


def _runner():
    """The runner as a module; importing it changes nothing process-wide (main() makes it a
    subreaper)."""
    spec = importlib.util.spec_from_file_location("benchmark_run", RUNNER / "run.py")
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    return run


def test_a_next_day_is_set_against_the_tiny_warm_rerun_and_the_tiny_next_day(tmp_path):
    # The newest tiny record of the results file gives both fixed costs to a later invocation
    # that runs a larger size alone; the tiny size is not set against its own next day.
    run = _runner()
    results = tmp_path / "results.jsonl"
    older = {"size": "tiny", "warm_rerun": {"cpu_s": 20.0}, "next_day": {"cpu_s": 22.0}}
    newer = {"size": "tiny", "warm_rerun": {"cpu_s": 13.6}, "next_day": {"cpu_s": 15.8},
             "cold": {"cpu_s": 15.2}}
    results.write_text("".join(json.dumps(r) + "\n" for r in (older, newer, {"size": "1m"})))
    tiny = run.previous_tiny(results)
    one_m = {"size": "1m", "cold": {"cpu_s": 34.1}, "next_day": {"cpu_s": 19.5},
             "floor": {"floor_cpu_s": 7.6}}
    assert run.ratios(one_m, tiny) == {
        "cold_over_floor_cpu": 4.5, "fixed_cpu_s": 13.6,
        "next_minus_fixed_over_cold_cpu": 0.173, "changed_day_fixed_cpu_s": 15.8,
        "next_minus_changed_day_fixed_over_cold_cpu": 0.109, "next_over_cold_cpu": 0.572}
    assert "next_minus_changed_day_fixed_over_cold_cpu" not in run.ratios(tiny, tiny)


def test_a_rerun_of_the_next_day_splits_it_into_its_new_rows_and_every_customers_outputs():
    # --rerun-next-day: the next day's date again, on the state it left, finds nothing new; the
    # next day minus it is what the new rows cost, it minus the tiny warm rerun what producing
    # every customer's outputs costs at the size. Without the rerun there is no split.
    run = _runner()
    tiny = {"size": "tiny", "warm_rerun": {"cpu_s": 13.6}, "next_day": {"cpu_s": 15.8}}
    one_m = {"size": "1m", "cold": {"cpu_s": 34.1}, "next_day": {"cpu_s": 19.5}}
    split = run.ratios({**one_m, "next_day_rerun": {"cpu_s": 18.3}}, tiny)
    assert {k: split[k] for k in split.keys() - run.ratios(one_m, tiny).keys()} == {
        "next_day_rerun_cpu_s": 18.3, "new_data_over_cold_cpu": 0.035,
        "rerun_minus_fixed_over_cold_cpu": 0.138}
    assert "new_data_over_cold_cpu" not in run.ratios(one_m, tiny)


def test_a_repeated_next_day_starts_each_time_from_the_same_state_and_keeps_the_median(
        tmp_path):
    # --repeat: single runs here differ by 1.5-2 s of CPU; the record keeps the run with the
    # median CPU, and every repetition of the next day finds the state the day before left.
    run = _runner()
    state = tmp_path / "state"
    state.mkdir()
    (state / "warehouse.duckdb").write_text("before the next day")
    seen, cpus = [], [19.9, 18.5, 21.0, 18.9]

    def next_day(i):
        seen.append((state / "warehouse.duckdb").read_text())
        (state / "warehouse.duckdb").write_text(f"after next day {i}")
        (state / f"export-{i}.csv").write_text("written by this run")
        return {"ok": True, "cpu_s": cpus[i], "log": f"next-day-{i}.log"}

    with run.state_restorer(state, 4) as restore:
        chosen = run.median_run(next_day, 4, restore)
    assert seen == ["before the next day"] * 4
    assert sorted(p.name for p in state.iterdir()) == ["export-3.csv", "warehouse.duckdb"]
    assert [p.name for p in tmp_path.iterdir()] == ["state"]  # the copy is gone
    assert chosen == {"ok": True, "cpu_s": 18.9, "log": "next-day-3.log",
                      "runs_cpu_s": [19.9, 18.5, 21.0, 18.9]}
    # Once: the run as it was, no copy of the state; a failed run ends the series.
    with run.state_restorer(state, 1) as restore:
        assert restore is None
        assert run.median_run(lambda i: {"ok": True, "cpu_s": 7.0}, 1, restore) == {
            "ok": True, "cpu_s": 7.0}
    failed = run.median_run(lambda i: {"ok": i == 0, "cpu_s": 1.0 + i}, 3)
    assert failed == {"ok": False, "cpu_s": 2.0}


def test_a_larger_sizes_next_days_are_each_set_against_a_tiny_rerun_run_right_after_it():
    # The machine's speed drifts over minutes: with --repeat a larger size's next day is followed
    # each time by the tiny size's fixed cost, and the ratio is the median of the pairs'
    # differences, which the drift (here 2 s per pair, on both) does not move.
    run = _runner()
    calls = []

    def next_day(i):
        calls.append(f"next day {i}")
        return {"ok": True, "cpu_s": 20.0 + 2 * i}

    def tiny_rerun(i):
        calls.append(f"tiny rerun {i}")
        return {"ok": True, "cpu_s": 16.5 + 2 * i}

    day, fixed, pairs = run.alternated(next_day, tiny_rerun, 3,
                                       lambda: calls.append("state restored"))
    assert calls == ["next day 0", "tiny rerun 0", "state restored", "next day 1",
                     "tiny rerun 1", "state restored", "next day 2", "tiny rerun 2"]
    assert (day["cpu_s"], fixed["cpu_s"], pairs) == (22.0, 18.5, [3.5, 3.5, 3.5])
    assert day["runs_cpu_s"] == [20.0, 22.0, 24.0]
    record = {"size": "1m", "cold": {"cpu_s": 35.0}, "next_day": day,
              "next_minus_fixed_pairs": pairs}
    tiny = {"size": "tiny", "warm_rerun": {"cpu_s": 14.0}}  # measured earlier, on a faster hour
    ratios = run.ratios(record, tiny)
    assert ratios["next_minus_fixed_alongside_over_cold_cpu"] == 0.1
    assert ratios["next_minus_fixed_over_cold_cpu"] == 0.229
    # A failed next day ends the series with no pairs.
    failed, _, none = run.alternated(lambda i: {"ok": False, "cpu_s": 1.0}, tiny_rerun, 3)
    assert failed == {"ok": False, "cpu_s": 1.0} and none == []


def test_a_next_days_cost_above_the_fixed_cost_is_split_by_step_into_dbt_and_the_rest():
    # Where the next day's cost above the fixed cost goes: each step's CPU above the same step
    # of the tiny rerun beside it (a step the rerun did not run counts whole), and the dbt
    # steps' share against the other steps' (the outputs every run writes), each over cold.
    run = _runner()

    def steps(**cpu):
        return {"steps": [{"step": step, "s": c, "cpu_s": c} for step, c in cpu.items()]}

    day = {"cpu_s": 56.0, **steps(winback_dbt_models=13.35, serving__warehouse=5.92,
                                  predictions__customer_bgnbd_holdout=1.9, audience_exports=5.8)}
    fixed = {"cpu_s": 13.3, **steps(winback_dbt_models=2.56, serving__warehouse=0.37,
                                    audience_exports=0.94)}
    record = {"size": "10m", "cold": {"cpu_s": 200.0}, "next_day": day,
              "fixed_alongside": fixed, "next_minus_fixed_pairs": [42.7]}
    q = run.ratios(record, {"size": "tiny", "warm_rerun": {"cpu_s": 12.5, **steps(x=1.0)}})
    assert list(q["next_minus_fixed_by_step_cpu_s"].items()) == [
        ("winback_dbt_models", 10.79), ("serving__warehouse", 5.55), ("audience_exports", 4.86),
        ("predictions__customer_bgnbd_holdout", 1.9)]
    assert q["next_minus_fixed_dbt_steps_over_cold_cpu"] == 0.054
    assert q["next_minus_fixed_other_steps_over_cold_cpu"] == 0.062
    # Without the reruns beside it, against the tiny warm rerun's steps.
    alone = run.ratios({**record, "fixed_alongside": None},
                       {"size": "tiny", "warm_rerun": fixed})
    assert alone["next_minus_fixed_by_step_cpu_s"] == q["next_minus_fixed_by_step_cpu_s"]
    # No split for the tiny size itself, nor where a run has no step records.
    assert "next_minus_fixed_by_step_cpu_s" not in run.ratios({**record, "size": "tiny"}, None)
    assert "next_minus_fixed_by_step_cpu_s" not in run.ratios(
        {**record, "fixed_alongside": {"cpu_s": 13.3}}, None)

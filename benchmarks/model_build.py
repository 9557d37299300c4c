"""The benchmarks of the incremental history models (membership_history.py, status_history.py):
one dbt build of one model on a benchmark's DuckDB file, as the pipeline's dbt step runs it (the
date in meta.run_context, the configuration's vars), timed; and their update-vs-rebuild
procedure."""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestration.defs.dbt.args import dbt_config_vars_args, dbt_executable  # noqa: E402
from orchestration.defs.dbt.state import write_run_context  # noqa: E402
from orchestration.lib.audiences import audiences_for  # noqa: E402
from orchestration.lib.policies import policies_for  # noqa: E402
from orchestration.lib.settings import load_settings  # noqa: E402


def build(path: Path, as_of: str, target: Path, model: str, state_table: str) -> dict:
    """dbt run of `model` as of `as_of` on `path`: how the model says it was built (the `build`
    column of `state_table`), the dbt process's CPU (user + sys, dbt's start included) and
    wall time, the node's time from run_results.json and the load average."""
    settings = load_settings(environ={}, overrides={"WINBACK_WAREHOUSE": str(path),
                                                    "WINBACK_AS_OF": as_of})
    write_run_context(settings, "benchmark")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run(
        [dbt_executable(), "run", "--select", model,
         *dbt_config_vars_args(settings, policies_for(settings), audiences_for(settings)),
         "--project-dir", str(ROOT / "dbt_project"), "--profiles-dir", str(ROOT / "dbt_project"),
         "--quiet"],
        env=dict(os.environ, DBT_TARGET_PATH=str(target)), capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"dbt failed:\n{done.stdout[-3000:]}")
    (node,) = [r for r in json.loads((target / "run_results.json").read_text())["results"]
               if r["unique_id"].startswith("model.")]
    with duckdb.connect(str(path), read_only=True) as con:
        (kind,) = con.execute(f"SELECT build FROM {state_table}").fetchone()
    return {"build": kind,
            "cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2),
            "wall_s": round(time.monotonic() - started, 2),
            "node_s": round(node["execution_time"], 2), "load": round(os.getloadavg()[0], 2)}


def compare_update_and_rebuild(
    workdir: Path,
    *,
    model: str,
    state_table: str,
    digest_sql: str,
    generate: Callable[[Path], None],
    add_last_day: Callable[[Path], None],
    last: str,
    pairs: int,
    noun: str,
) -> None:
    """The incremental history benchmarks' procedure: `generate` a warehouse in `workdir`, build
    `model` as of the day before `last` (its first build), `add_last_day`, then build it as of
    `last` `pairs` times from that state (an update) and as often from a copy without its state
    row (a rebuild), alternating. Prints each build's figures and whether the updates gave the
    rebuild's rows (`digest_sql`: a count and an order-free digest); exits 1 when they did not."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    # One file name for every build: dbt names the database after it.
    warehouse, ready, target = workdir / "warehouse.duckdb", workdir / "ready.duckdb", \
        workdir / "target"
    generate(warehouse)
    day_before = (dt.date.fromisoformat(last) - dt.timedelta(days=1)).isoformat()
    print(f"first build as of {day_before}: "
          f"{build(warehouse, day_before, target, model, state_table)}", flush=True)
    add_last_day(warehouse)
    shutil.copyfile(warehouse, ready)
    results: dict[str, list] = {"incremental": [], "rebuild": []}
    for _ in range(pairs):
        for kind in results:
            shutil.copyfile(ready, warehouse)
            if kind == "rebuild":
                with duckdb.connect(str(warehouse)) as con:
                    con.execute(f"DELETE FROM {state_table}")
            result = build(warehouse, last, target, model, state_table)
            assert result["build"] == kind, result
            with duckdb.connect(str(warehouse), read_only=True) as con:
                results[kind].append(con.execute(digest_sql).fetchone())
            print(f"as of {last}: {result}", flush=True)
    same = all(rows == results["rebuild"][0] for rows in results["incremental"])
    print(f"{results['rebuild'][0][0]:,} {noun}; update == rebuild: {same}")
    if not same:
        sys.exit(1)

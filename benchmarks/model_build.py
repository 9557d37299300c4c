"""One dbt build of one model on a benchmark's DuckDB file, as the pipeline's dbt step runs it
(the date in meta.run_context, the configuration's vars), timed: shared by the benchmarks of
the incremental history models (membership_history.py, status_history.py)."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
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

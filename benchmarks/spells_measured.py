"""Benchmark: int_audience_spells_measured after a long history, updated vs rebuilt.

Copies the state folder of DuckDB runs (run.py's, e.g. its 10m state after the next day) and
pads the membership history with `--periods` earlier 30-day periods of closed spells (every
spell of the history again, entered 30, 60, ... days earlier and ended the next day: about a
year of churn at 11). Then `winback run` for the day after the state's newest date (the model's
first build with that history: a rebuild), a copy of that, and the day after on both copies:
on one the model updates from its last build (dbt_project/macros/spells_measured.sql), on the
other, without its build record, it rebuilds. Prints each run's CPU and wall, the model's and
reactivation_outcomes' node times (dbt's run_results.json) and the load, and checks that the two
copies hold the same measured spells and outcomes.

Run from the repository root (`make install manifest` first)::

    .venv/bin/python benchmarks/spells_measured.py --state /tmp/b/10m/state \\
        --landing /tmp/b/10m/landing

Not a test: nothing is asserted but the equality.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
from pathlib import Path

import duckdb
from run import newest_run_date, pipeline, pipeline_env, warehouse_file

MODEL = "int_audience_spells_measured"
COMPARED = ("intermediate.int_audience_spells_measured", "activation.reactivation_outcomes",
            "activation.reactivation_outcomes_revenue")


def pad_history(warehouse: Path, periods: int) -> tuple[int, int]:
    with duckdb.connect(str(warehouse)) as con:
        table = "activation.audience_membership_history"
        (before,) = con.execute(f"SELECT count(*) FROM {table}").fetchone()
        con.execute(f"""
            INSERT INTO {table}
            SELECT audience, customer_id, holdout_group, variant,
                (entered_on - CAST(30 * k AS INTEGER))::DATE,
                (entered_on - CAST(30 * k AS INTEGER) + 1)::DATE,
                (entered_on - CAST(30 * k AS INTEGER))::DATE,
                is_capped, was_exported, definition_hash, exclusion_reason, excluded_by
            FROM {table}, range(1, {periods + 1}) AS t(k)""")
        (after,) = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return before, after


def nodes(target: Path) -> dict[str, float]:
    """Node times of the newest second dbt step under `target` (DBT_TARGET_PATH)."""
    results = max(target.glob("winback_dbt_models_after_statistics-*/run_results.json"),
                  key=lambda p: p.stat().st_mtime)
    times = {r["unique_id"].rsplit(".", 1)[-1]: round(r["execution_time"], 2)
             for r in json.loads(results.read_text())["results"]}
    return {name: times[name] for name in (MODEL, "reactivation_outcomes")}


def run(state: Path, landing: Path, as_of: dt.date, label: str) -> None:
    env = pipeline_env(landing, state)
    env["DBT_TARGET_PATH"] = str(state / "dbt_target")
    result = pipeline(as_of, env, state / f"run-{as_of}.log")
    if not result["ok"]:
        raise SystemExit(f"{label}: winback run failed; see {result['log']}")
    with duckdb.connect(str(warehouse_file(state)), read_only=True) as con:
        updated = con.execute("SELECT based_on IS NOT NULL FROM meta.incremental_as_of_builds "
                              "WHERE model_name = ?", [MODEL]).fetchone()[0]
    print(f"{label}: {'update' if updated else 'rebuild'}, run {result['cpu_s']} s CPU / "
          f"{result['wall_s']} s wall, nodes (s) {nodes(state / 'dbt_target')}, load "
          f"{result['load_start']}-{result['load_end']}", flush=True)


def differences(left: Path, right: Path) -> dict[str, int]:
    with duckdb.connect() as con:
        con.execute(f"ATTACH '{warehouse_file(left)}' AS l (READ_ONLY)")
        con.execute(f"ATTACH '{warehouse_file(right)}' AS r (READ_ONLY)")
        return {table: con.execute(
            f"SELECT count(*) FROM ((SELECT * FROM l.{table} EXCEPT ALL SELECT * FROM r.{table})"
            f" UNION ALL (SELECT * FROM r.{table} EXCEPT ALL SELECT * FROM l.{table}))"
        ).fetchone()[0] for table in COMPARED}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--state", type=Path, required=True, help="a DuckDB run's state folder")
    parser.add_argument("--landing", type=Path, required=True)
    parser.add_argument("--periods", type=int, default=11)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/winback-bench/spells"))
    args = parser.parse_args()
    newest = newest_run_date(args.state)
    if newest is None:
        raise SystemExit(f"{args.state} holds no run")
    shutil.rmtree(args.workdir, ignore_errors=True)
    updated, rebuilt = args.workdir / "updated", args.workdir / "rebuilt"
    shutil.copytree(args.state, updated, symlinks=True)
    before, after = pad_history(warehouse_file(updated), args.periods)
    print(f"membership history: {before:,} spells, {after:,} with {args.periods} earlier "
          "periods of closed spells", flush=True)
    first, second = newest + dt.timedelta(days=1), newest + dt.timedelta(days=2)
    run(updated, args.landing, first, f"{first} (first build with the padded history)")
    shutil.copytree(updated, rebuilt, symlinks=True)
    with duckdb.connect(str(warehouse_file(rebuilt))) as con:
        con.execute("DELETE FROM meta.incremental_as_of_builds WHERE model_name = ?", [MODEL])
    run(updated, args.landing, second, f"{second}, updated copy")
    run(rebuilt, args.landing, second, f"{second}, rebuilt copy")
    print(f"rows differing between the copies: {differences(updated, rebuilt)}")


if __name__ == "__main__":
    main()

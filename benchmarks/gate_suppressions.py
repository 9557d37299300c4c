"""Benchmark: the write-time consent gate with a long suppression list.

Copies a runner's warehouse (``--warehouse``, e.g. the 10m size's
``state/warehouse/winback.duckdb`` after a cold run), adds ``--suppressions`` of its customers'
addresses to raw.suppressions (addresses the hygiene step has checked, as every loaded
suppression is), and opens the gate (orchestration/defs/activation/consent_gate.py) ``--repeat``
times, as the audience, suppression and points exports each do once a run. Prints the CPU and
wall seconds of each opening, the distinct suppressed values and the load average.

Run from the repository root::

    .venv/bin/python benchmarks/gate_suppressions.py \\
        --warehouse /tmp/winback-bench/10m/state/warehouse/winback.duckdb --suppressions 200000

Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestration.defs.activation.consent_gate import open_gate  # noqa: E402
from orchestration.lib.settings import load_settings  # noqa: E402


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--suppressions", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/winback-bench/gate"))
    args = parser.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    (args.workdir / "landing").mkdir(parents=True)
    warehouse = args.workdir / "warehouse.duckdb"
    shutil.copyfile(args.warehouse, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "INSERT INTO raw.suppressions BY NAME SELECT email, 'manual' AS reason, "
            "TIMESTAMPTZ '2026-11-01 00:00:00+00' AS occurred_at, 'benchmark.csv' AS "
            "_source_file, row_number() OVER () AS _source_row, now() AS _loaded_at "
            "FROM (SELECT email FROM raw.customers WHERE email IS NOT NULL "
            f"USING SAMPLE {args.suppressions} ROWS (reservoir, 7))")
    settings = load_settings(environ={}, overrides={
        "WINBACK_WAREHOUSE": str(warehouse), "WINBACK_LANDING_DIR": str(args.workdir / "landing")})
    import pandas  # noqa: F401  DuckDB's Arrow registration imports it in a run anyway
    for _ in range(args.repeat):
        cpu, started = _cpu(), time.monotonic()
        with open_gate(settings) as gate:
            (values,) = gate.execute("SELECT count(*) FROM gate_suppressed").fetchall()[0]
        print({"suppressed_values": values, "cpu_s": round(_cpu() - cpu, 2),
               "wall_s": round(time.monotonic() - started, 2),
               "load": round(os.getloadavg()[0], 2)}, flush=True)


if __name__ == "__main__":
    main()

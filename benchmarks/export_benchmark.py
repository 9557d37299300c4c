"""Benchmark: export a large audience (default 200,000 members) for one or more platforms.

For each platform, in a fresh temporary export folder and warehouse: a first export (everyone
is an add) and a second one a day later with 1,000 members swapped (deltas computed from
`activation.export_members`). Prints wall and CPU seconds per export (CPU of
the process, DuckDB's threads included), rows, adds, removes and the process's peak resident
memory. Members are synthetic (no personal data).

    .venv/bin/python benchmarks/export_benchmark.py [--members N] [--platforms generic_csv meta]

Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestration.defs.activation.audience_files import (  # noqa: E402
    export_audience,
    member_batches,
)
from orchestration.defs.activation.platforms import load_limits, platform_for  # noqa: E402
from orchestration.lib.settings import REPO_ROOT  # noqa: E402

FIELDS = ("first_name", "last_name", "phone", "country", "postal_code")


def members(count: int, shift: int):
    for i in range(shift, count + shift):
        yield {"customer_id": f"C{i:08d}", "email": f"c{i}@example.com",
               "first_name": f"Name{i}", "last_name": "Zed",
               "phone": f"+4477009{i % 100_000:05d}", "country": "GB", "postal_code": "SW1A 1AA"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=200_000)
    parser.add_argument("--platforms", nargs="+", default=["generic_csv", "meta"])
    args = parser.parse_args()
    for name in args.platforms:
        # The platform's limits as configured (most split files at a byte size), not its
        # minimum audience size.
        limits = replace(load_limits(REPO_ROOT / "config" / "platforms.yml")[name], min_rows=None)
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            platform = platform_for(name, FIELDS, limits, "bench")
            with duckdb.connect(str(root / "warehouse.duckdb")) as con:
                for day, shift in ((dt.date(2026, 6, 29), 0), (dt.date(2026, 6, 30), 1000)):
                    batches = member_batches(members(args.members, shift))
                    cpu, start = time.process_time(), time.perf_counter()
                    result = export_audience(
                        root, con=con, audience="bench", platform=platform, limits=limits,
                        as_of=day, members=batches, definition={}, source_run="benchmark",
                        history_days=14)
                    print(f"{name:12} {day}  {time.perf_counter() - start:6.2f} s  "
                          f"{time.process_time() - cpu:6.2f} s CPU  "
                          f"rows={result.rows} adds={result.added} removes={result.removed}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"peak RSS {peak} MB")


if __name__ == "__main__":
    main()

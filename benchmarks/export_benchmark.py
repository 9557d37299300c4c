"""Benchmark: export a large audience (default 200,000 members) for one or more platforms.

For each platform, in a fresh temporary export folder and warehouse: a first export (everyone
is an add) and, with `--days N`, N - 1 daily exports after it, each with 1,000 members swapped
(deltas computed from `activation.export_member_spells`). Prints wall and CPU seconds per export
(CPU of the process, DuckDB's threads included), rows, adds, removes, the warehouse file's size
after the last export and the process's peak resident memory. With more days than
`--history-days` (the default WINBACK_EXPORT_HISTORY_DAYS, 14), the last days show the daily
cost once the history is full. Members are synthetic (no personal data).

    .venv/bin/python benchmarks/export_benchmark.py [--members N] [--platforms generic_csv meta]
        [--days 20] [--history-days 14]

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
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--history-days", type=int, default=14)
    args = parser.parse_args()
    for name in args.platforms:
        # The platform's limits as configured (most split files at a byte size), not its
        # minimum audience size.
        limits = replace(load_limits(REPO_ROOT / "config" / "platforms.yml")[name], min_rows=None)
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            platform = platform_for(name, FIELDS, limits, "bench")
            with duckdb.connect(str(root / "warehouse.duckdb")) as con:
                for n in range(args.days):
                    day, shift = dt.date(2026, 6, 29) + dt.timedelta(days=n), 1000 * n
                    batches = member_batches(members(args.members, shift))
                    cpu, start = time.process_time(), time.perf_counter()
                    result = export_audience(
                        root, con=con, audience="bench", platform=platform, limits=limits,
                        as_of=day, members=batches, definition={}, source_run="benchmark",
                        history_days=args.history_days)
                    print(f"{name:12} {day}  {time.perf_counter() - start:6.2f} s  "
                          f"{time.process_time() - cpu:6.2f} s CPU  "
                          f"rows={result.rows} adds={result.added} removes={result.removed}")
            size = (root / "warehouse.duckdb").stat().st_size / 2**20
            print(f"{name:12} warehouse after {args.days} days: {size:.1f} MB")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"peak RSS {peak} MB")


if __name__ == "__main__":
    main()

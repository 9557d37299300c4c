"""Ingestion benchmark: rows/s and peak memory of Winback's loader beside DuckDB's own bulk read.

Generates an order drop (default 10 million orders) as CSV and as Parquet with DuckDB (fast and
streaming; about 0.1 % of the rows are malformed so the quarantine path is exercised), then, each
in a fresh process and warehouse so peak memory is per measurement:

  winback     load_entity(): header check, SHA-256 ledger, typing, quarantine, one transaction
  duckdb-ctas CREATE TABLE AS SELECT * FROM read_csv/read_parquet(...) (auto-detected types)
  duckdb-scan SELECT count(*) FROM read_csv/read_parquet(...)

and prints seconds, rows/s, peak RSS and the ratio winback / duckdb-ctas.

    .venv/bin/python benchmarks/ingest_benchmark.py [--orders 10000000] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEADER = "order_id,customer_id,ordered_at,status,currency,amount,updated_at"


def generate(folder: Path, orders: int) -> dict[str, Path]:
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    csv_dir, parquet_dir = folder / "csv" / "orders", folder / "parquet" / "orders"
    csv_dir.mkdir(parents=True, exist_ok=True)
    parquet_dir.mkdir(parents=True, exist_ok=True)
    select = f"""
        SELECT
            'O' || lpad(i::VARCHAR, 9, '0') AS order_id,
            'C' || lpad((hash(i) % 2000000)::VARCHAR, 7, '0') AS customer_id,
            strftime(TIMESTAMP '2023-01-01' + to_seconds(i * 9), '%Y-%m-%dT%H:%M:%S')
                || CASE WHEN i % 3 = 0 THEN '+02:00' ELSE 'Z' END AS ordered_at,
            ['placed', 'paid', 'shipped', 'cancelled', 'refunded'][1 + i % 5] AS status,
            ['GBP', 'EUR', 'USD'][1 + i % 3] AS currency,
            CASE WHEN i % 1000 = 7 THEN 'n/a'
                 ELSE ((hash(i) % 50000) / 100)::DECIMAL(18, 2)::VARCHAR END AS amount,
            CASE WHEN i % 4 = 0 THEN strftime(TIMESTAMP '2023-01-02' + to_seconds(i * 9),
                 '%Y-%m-%dT%H:%M:%SZ') END AS updated_at
        FROM range({orders}) t(i)
    """
    con = duckdb.connect()
    con.execute(f"COPY ({select}) TO '{csv_dir / 'orders.csv'}' (HEADER, DELIMITER ',')")
    con.execute(
        f"COPY ({select}) TO '{parquet_dir / 'orders.parquet'}' "
        "(FORMAT parquet, ROW_GROUP_SIZE 122880)"
    )
    con.close()
    return {"csv": folder / "csv", "parquet": folder / "parquet"}


def measure(mode: str, fmt: str, landing: Path, warehouse: Path) -> dict:
    """Runs in a child process: one measurement, JSON on stdout."""
    import duckdb

    from orchestration.defs.ingest.loader import load_entity
    from orchestration.lib.contracts import CONTRACTS
    from orchestration.lib.warehouse import open_warehouse

    started = time.perf_counter()
    if mode == "winback":
        with open_warehouse(warehouse) as con:
            report = load_entity(con, CONTRACTS["orders"], landing, max_reject_share=0.05)
        rows = report.rows_read
        extra = {"loaded": report.loaded, "quarantined": sum(report.quarantined.values())}
    else:
        path = next((landing / "orders").iterdir())
        reader = f"read_csv('{path}')" if fmt == "csv" else f"read_parquet('{path}')"
        con = duckdb.connect(str(warehouse))
        if mode == "duckdb-ctas":
            con.execute(f"CREATE TABLE orders AS SELECT * FROM {reader}")
            rows = con.execute("SELECT count(*) FROM orders").fetchone()[0]
        else:
            rows = con.execute(f"SELECT count(*) FROM {reader}").fetchone()[0]
        con.close()
        extra = {}
    return {"seconds": time.perf_counter() - started, "rows": rows, **extra}


def run_child(mode: str, fmt: str, landing: Path, workdir: Path) -> dict:
    warehouse = workdir / f"{mode}-{fmt}.duckdb"
    warehouse.unlink(missing_ok=True)
    child = subprocess.Popen(
        [sys.executable, __file__, "--measure", mode, fmt, str(landing), str(warehouse)],
        stdout=subprocess.PIPE, text=True,
    )
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        raise SystemExit(f"{mode} on {fmt} failed")
    result = json.loads(out)
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # kilobytes on Linux
    warehouse.unlink(missing_ok=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--measure", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        mode, fmt, landing, warehouse = args.measure
        print(json.dumps(measure(mode, fmt, Path(landing), Path(warehouse))))
        return

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="winback-bench-"))
    print(f"Generating {args.orders:,} orders in {workdir} ...", flush=True)
    started = time.perf_counter()
    drops = generate(workdir, args.orders)
    sizes = {f: sum(p.stat().st_size for p in (d / "orders").iterdir()) for f, d in drops.items()}
    print(f"  done in {time.perf_counter() - started:.1f} s: CSV {sizes['csv'] / 1e6:,.0f} MB, "
          f"Parquet {sizes['parquet'] / 1e6:,.0f} MB", flush=True)
    print(f"\n{'format':8} {'loader':12} {'seconds':>8} {'rows/s':>12} {'peak RSS MB':>12}")
    for fmt, landing in drops.items():
        results = {}
        for mode in ("duckdb-scan", "duckdb-ctas", "winback"):
            results[mode] = r = run_child(mode, fmt, landing, workdir)
            print(f"{fmt:8} {mode:12} {r['seconds']:8.1f} {r['rows'] / r['seconds']:12,.0f} "
                  f"{r['peak_rss_mb']:12,.0f}", flush=True)
        w = results["winback"]
        print(f"{fmt:8} winback loaded {w['loaded']:,} + quarantined {w['quarantined']:,} "
              f"= read {w['rows']:,}; ratio winback / duckdb-ctas = "
              f"{w['seconds'] / results['duckdb-ctas']['seconds']:.2f}x", flush=True)
    if args.workdir is None:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()

"""The floor: the pipeline's core answer computed the cheapest sensible way, to compare runs with.

Runs benchmarks/floor.sql (customer activity, revenue per currency and the fixed 180-day status,
as of a date, straight from the landing files, in one DuckDB connection) and then validates every
distinct email (customers and suppressions) and every distinct (phone, country) pair once with
the pipeline's own rules (orchestration/lib/contacts.py: email-validator without DNS,
phonenumbers is_valid_number). Prints one JSON line with the CPU seconds (user + sys, all
threads, this process) and wall seconds of each part and the status counts.

    .venv/bin/python benchmarks/floor.py --landing /tmp/winback-bench/1m/landing --as-of 2026-11-29

Landing folders of Parquet and/or CSV files are read (JSON Lines are not: the generator never
writes them).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

HERE = Path(__file__).resolve().parent
EMPTY = {
    "erasure_requests": "(SELECT NULL::VARCHAR AS customer_id WHERE false)",
    "suppressions": "(SELECT NULL::VARCHAR AS email WHERE false)",
}


def reader(landing: Path, entity: str) -> str:
    """A table expression over every file of one entity, with filename and file_row_number."""
    folder = landing / entity
    files = [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []
    kinds = {p.suffix.lower() for p in files}
    if not files:
        if entity in EMPTY:
            return EMPTY[entity]
        raise SystemExit(f"floor: no files in {folder}; is --landing a landing folder?")
    unknown = kinds - {".parquet", ".csv"}
    if unknown:
        raise SystemExit(f"floor: {folder} holds {sorted(unknown)} files; only Parquet and CSV "
                         "are read")
    esc = str(folder).replace("'", "''")
    parts = []
    if ".parquet" in kinds:
        parts.append(f"SELECT * FROM read_parquet('{esc}/**/*.parquet', filename = true, "
                     "file_row_number = true, union_by_name = true)")
    if ".csv" in kinds:
        parts.append(f"SELECT *, row_number() OVER () - 1 AS file_row_number FROM read_csv("
                     f"'{esc}/**/*.csv', all_varchar = true, header = true, filename = true, "
                     "union_by_name = true)")
    return "(" + " UNION ALL BY NAME ".join(parts) + ")"


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(landing: Path, as_of: dt.date, threads: int | None) -> dict:
    import duckdb

    from orchestration.lib.contacts import check_email, check_phone

    sql = (HERE / "floor.sql").read_text()
    tables = {e: reader(landing, e)
              for e in ("orders", "customers", "erasure_requests", "suppressions")}
    for entity in ("orders", "customers", "erasure_requests"):
        sql = sql.replace(f"@{entity}@", tables[entity])
    sql = sql.replace("@as_of@", as_of.isoformat())
    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {threads}")
    out: dict = {"landing": str(landing), "as_of": as_of.isoformat()}

    c0, w0 = cpu(), time.perf_counter()
    code = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    statements = [s for s in code.split(";") if s.strip()]
    result = None
    for statement in statements:
        result = con.execute(statement)
    out["status_counts"] = dict(result.fetchall())
    out["orders_as_of"] = con.execute("SELECT count(*) FROM orders_as_of").fetchone()[0]
    out["sql_cpu_s"], out["sql_wall_s"] = cpu() - c0, time.perf_counter() - w0

    c0, w0 = cpu(), time.perf_counter()
    emails = con.execute(
        f"SELECT DISTINCT e FROM (SELECT CAST(email AS VARCHAR) AS e FROM {tables['customers']} "
        f"UNION ALL SELECT CAST(email AS VARCHAR) FROM {tables['suppressions']}) "
        "WHERE e IS NOT NULL"
    ).fetchall()
    valid = sum(check_email(e).is_valid for (e,) in emails)
    out["emails_distinct"], out["emails_valid"] = len(emails), valid
    out["email_cpu_s"], out["email_wall_s"] = cpu() - c0, time.perf_counter() - w0

    c0, w0 = cpu(), time.perf_counter()
    phones = con.execute(
        f"SELECT DISTINCT CAST(phone AS VARCHAR), CAST(country AS VARCHAR) "
        f"FROM {tables['customers']} WHERE phone IS NOT NULL"
    ).fetchall()
    valid = sum(check_phone(p, c).is_valid for p, c in phones)
    out["phones_distinct"], out["phones_valid"] = len(phones), valid
    out["phone_cpu_s"], out["phone_wall_s"] = cpu() - c0, time.perf_counter() - w0

    out["floor_cpu_s"] = out["sql_cpu_s"] + out["email_cpu_s"] + out["phone_cpu_s"]
    out["floor_wall_s"] = out["sql_wall_s"] + out["email_wall_s"] + out["phone_wall_s"]
    out["process_cpu_s"] = cpu()  # including interpreter start and imports
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["threads"] = con.execute("SELECT current_setting('threads')").fetchone()[0]
    out["cpus"] = os.cpu_count()
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in out.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--landing", type=Path, required=True, help="landing folder")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, required=True,
                        help="as-of date YYYY-MM-DD")
    parser.add_argument("--threads", type=int, default=None,
                        help="DuckDB threads (default: DuckDB's, i.e. all cores)")
    args = parser.parse_args(argv)
    if not (args.landing / "orders").is_dir():
        parser.error(f"{args.landing}/orders is not a folder")
    print(json.dumps(run(args.landing, args.as_of, args.threads)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

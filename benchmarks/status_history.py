"""Benchmark: customer_status_history after a long history, updated from the day vs rebuilt.

Writes customer_status_changes for ``--customers`` customers into a fresh DuckDB file: each
customer's first status on the first of ``--days`` dates, then ``--changes`` customers a day
with a new status (statuses drawn by hash), builds the history as of the day before the last
date, adds the last date's changes and the write its build of customer_status_changes logs
(meta.status_change_writes, as the model's pre-hook does), then alternates: dbt builds the
history as of the last date from the last build (an update: macros/status_history.sql) and, on
a copy without the history's state, from every change (a rebuild). Checks both give the same
rows. Prints, per build, the dbt process's CPU (user + sys, dbt's start included), its wall
time, the node's time from run_results.json, and the load average.

Run from the repository root (`make install manifest` first)::

    .venv/bin/python benchmarks/status_history.py --days 365 --customers 1000000

Not a test: nothing is asserted but the equality (row count and a digest of the rows).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import duckdb
from model_build import compare_update_and_rebuild

LAST = "2026-12-01"
STATUSES = "['active', 'at_risk', 'inactive', 'lapsed', 'reactivated']"


def generate(path: Path, days: int, customers: int, changes: int) -> None:
    first = dt.date.fromisoformat(LAST) - dt.timedelta(days=days - 1)
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA inactivity; CREATE SCHEMA intermediate; CREATE SCHEMA meta")
        con.execute(f"""
            CREATE TABLE inactivity.customer_status_changes AS
            WITH rows AS (
                SELECT DATE '{first}' AS as_of_date, x
                FROM range({customers}) AS t(x)
                UNION ALL
                SELECT (DATE '{first}' + CAST(d AS INTEGER))::DATE,
                       hash(d, c) % {customers}
                FROM range(1, {days}) AS days(d), range({changes}) AS picks(c)
            )
            SELECT DISTINCT ON (as_of_date, x) as_of_date,
                'C' || lpad(x::VARCHAR, 8, '0') AS customer_id,
                {STATUSES}[1 + CAST(hash(x, as_of_date) % 5 AS INTEGER)] AS status,
                'fixed_threshold' AS rule_id, 'v1' AS rule_version, 180 AS threshold_days,
                NULL::DATE AS inactive_since
            FROM rows""")
        con.execute("CREATE TABLE intermediate.int_customers_erased (customer_id VARCHAR)")
        con.execute("CREATE TABLE meta.last_day AS SELECT * FROM "
                    f"inactivity.customer_status_changes WHERE as_of_date = DATE '{LAST}'")
        con.execute(f"DELETE FROM inactivity.customer_status_changes "
                    f"WHERE as_of_date = DATE '{LAST}'")
        (rows,) = con.execute("SELECT count(*) FROM inactivity.customer_status_changes"
                              ).fetchone()
    print(f"{days} days, {customers:,} customers: {rows:,} change rows before the last date",
          flush=True)


def add_last_day(path: Path) -> None:
    """The last date's changes and the write the changes model's pre-hook logs."""
    with duckdb.connect(str(path)) as con:
        con.execute("INSERT INTO inactivity.customer_status_changes SELECT * FROM meta.last_day")
        con.execute("INSERT INTO meta.status_change_writes SELECT ?, false, "
                    "coalesce(max(seq), 0) + 1, now() FROM meta.status_change_writes", [LAST])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--changes", type=int, default=10_000, help="status changes a day")
    parser.add_argument("--pairs", type=int, default=3, help="update/rebuild pairs to time")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/winback-bench/status"))
    args = parser.parse_args()
    compare_update_and_rebuild(
        args.workdir, model="customer_status_history",
        state_table="meta.customer_status_history_state",
        digest_sql="SELECT count(*), sum(hash(customer_id, status, valid_from, valid_to, "
        "previous_status, rule_id, rule_version, threshold_days, inactive_since)::HUGEINT) "
        "FROM inactivity.customer_status_history",
        generate=lambda path: generate(path, args.days, args.customers, args.changes),
        add_last_day=add_last_day, last=LAST, pairs=args.pairs, noun="intervals")


if __name__ == "__main__":
    main()

"""Benchmark: audience_membership_history after a long history, updated from the day vs rebuilt.

Writes ``--days`` dates of audience_membership_daily and audience_exclusions_daily for
``--customers`` customers into a fresh DuckDB file (three audiences; a customer is a member in
30-day spells that start at varied dates, ~2 % of customers a day per audience, and ~0.1 % are
on an exclusion list in 20-day spells, never on a date they are a member: the daily marts'
rows are one or the other), builds the history as of the day before the last date, adds the
last date's rows and its two logged writes as the daily marts do, then alternates: dbt builds
the history as of the last date from the last build (an update: macros/membership_history.sql)
and, on a copy without the history's state, from every daily row (a rebuild). Checks both give
the same rows. Prints, per build, the dbt process's CPU (user + sys, dbt's start included),
its wall time, the node's time from run_results.json, and the load average.

Run from the repository root (`make install manifest` first)::

    .venv/bin/python benchmarks/membership_history.py --days 400 --customers 1000000

Not a test: nothing is asserted but the equality (row count and a digest of the rows).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import duckdb
from model_build import compare_update_and_rebuild

LAST = "2026-12-01"
DAILY = ("audience_membership_daily", "audience_exclusions_daily")


def generate(path: Path, days: int, customers: int) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA activation; CREATE SCHEMA intermediate; CREATE SCHEMA meta")
        dates = (f"SELECT (DATE '{LAST}' - CAST(x AS INTEGER))::DATE AS as_of_date "
                 f"FROM range({days}) AS t(x)")
        people = (f"SELECT 'C' || lpad(x::VARCHAR, 8, '0') AS customer_id, x "
                  f"FROM range({customers}) AS t(x)")
        # day number and a per-customer phase: spells are 30 (members) or 20 (excluded) days
        con.execute(f"""
            CREATE TABLE activation.audience_membership_daily AS
            WITH d AS ({dates}), c AS ({people}),
            a AS (SELECT unnest(['winback_inactive_email', 'nudge_at_risk',
                                 'high_value_lapsed']) AS audience)
            SELECT d.as_of_date, a.audience, c.customer_id,
                CASE WHEN hash(c.customer_id, a.audience) % 10 = 0 THEN 'holdout'
                     ELSE 'treatment' END AS holdout_group,
                NULL::VARCHAR AS variant, 'h' AS definition_hash,
                (DATE '2020-01-01' + CAST(((d.as_of_date - DATE '2020-01-01') + c.x % 30) // 30
                    * 30 - c.x % 30 AS INTEGER))::DATE AS spell_started_on,
                FALSE AS is_capped, TRUE AS is_exported
            FROM d, a, c
            WHERE hash(c.customer_id, a.audience,
                       ((d.as_of_date - DATE '2020-01-01') + c.x % 30) // 30) % 50 = 0""")
        con.execute(f"""
            CREATE TABLE activation.audience_exclusions_daily AS
            WITH d AS ({dates}), c AS ({people})
            SELECT d.as_of_date, 'nudge_at_risk' AS audience, c.customer_id,
                'global_exclusion' AS exclusion_reason, 'staff' AS excluded_by,
                NULL::VARCHAR AS exclusion_group
            FROM d, c
            WHERE hash(c.customer_id, ((d.as_of_date - DATE '2020-01-01') + c.x % 20) // 20)
                  % 500 = 0
              AND NOT EXISTS (
                  SELECT 1 FROM activation.audience_membership_daily AS m
                  WHERE m.as_of_date = d.as_of_date AND m.audience = 'nudge_at_risk'
                    AND m.customer_id = c.customer_id)""")
        con.execute("CREATE TABLE intermediate.int_customers_erased (customer_id VARCHAR)")
        con.execute("CREATE TABLE meta.audience_daily_writes (model_name VARCHAR, as_of_date "
                    "DATE, seq BIGINT, written_at TIMESTAMP)")
        for table in DAILY:
            con.execute(f"CREATE TABLE meta.last_day_{table} AS SELECT * FROM activation.{table} "
                        f"WHERE as_of_date = DATE '{LAST}'")
            con.execute(f"DELETE FROM activation.{table} WHERE as_of_date = DATE '{LAST}'")
        rows = [con.execute(f"SELECT count(*) FROM activation.{t}").fetchone()[0] for t in DAILY]
    print(f"{days} days, {customers:,} customers: {rows[0]:,} membership rows, {rows[1]:,} "
          "exclusion rows before the last date", flush=True)


def add_last_day(path: Path) -> None:
    """The last date's rows and the two writes the daily marts' post-hooks log."""
    with duckdb.connect(str(path)) as con:
        for table in DAILY:
            con.execute(f"INSERT INTO activation.{table} SELECT * FROM meta.last_day_{table}")
            con.execute("INSERT INTO meta.audience_daily_writes SELECT ?, ?, "
                        "coalesce(max(seq), 0) + 1, now() FROM meta.audience_daily_writes",
                        [table, LAST])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=400)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--pairs", type=int, default=3, help="update/rebuild pairs to time")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/winback-bench/history"))
    args = parser.parse_args()
    compare_update_and_rebuild(
        args.workdir, model="audience_membership_history",
        state_table="meta.audience_membership_history_state",
        digest_sql="SELECT count(*), sum(hash(audience, customer_id, holdout_group, variant, "
        "entered_on, left_on, last_member_on, is_capped, was_exported, definition_hash, "
        "exclusion_reason, excluded_by)::HUGEINT) FROM activation.audience_membership_history",
        generate=lambda path: generate(path, args.days, args.customers),
        add_last_day=add_last_day, last=LAST, pairs=args.pairs, noun="spells")


if __name__ == "__main__":
    main()

"""The Great Expectations gate inside the engine (WINBACK_ENGINE=postgres): the rows bounded.py
would validate on DuckDB, chosen by the same rules in SQL on the engine's own table (dbt built
it there), validated by GX's PostgreSQL datasource, so the expectations run as SQL in the
database and no row crosses into pandas.

The same rules as bounded.py, in PostgreSQL's SQL: the suite's state (quality.gx_suites,
quality.gx_passed_rows, quality.gx_pending_rows) lives in the engine next to the table; a
row's hash is PostgreSQL's 64-bit hashtextextended of the row of the suite's columns (key
included); a run validates at most `max_rows` rows not passed yet, those waiting longest first
(then by key), in batches of BATCH_ROWS (DuckDB's batch), and records the rows of the batches
that passed. The rows chosen are copied, inside the database, into an unlogged work table
quality."gx_selected_<suite>" (numbered into batches) that each batch's GX query asset reads;
it is dropped at the end.

Spark plugs in the same way: GX's Spark datasource with one Spark DataFrame per batch
(gx.BatchSource) and these statements in Spark SQL.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from orchestration.defs.quality.bounded import BATCH_ROWS, BoundedOutcome, suite_fingerprint
from orchestration.defs.quality.gx import (
    PostgresBatches,
    SuiteOutcome,
    SuiteValidator,
    merge_outcomes,
    suite_columns,
)
from orchestration.lib.settings import PostgresSettings

_STATE_TABLES = (
    "create schema if not exists quality",
    "create table if not exists quality.gx_suites "
    "(suite text primary key, fingerprint text not null)",
    "create table if not exists quality.gx_passed_rows "
    "(suite text not null, row_hash bigint not null)",
    "create table if not exists quality.gx_pending_rows "
    "(suite text not null, row_hash bigint not null, waiting_since timestamptz not null)",
    # Each run matches the suite's hashes against these tables: without the indexes (and with
    # statistics lagging behind autovacuum) PostgreSQL may plan nested loops over whole tables
    # (60 s for 18k rows against 100k, measured).
    "create index if not exists gx_passed_rows_suite_hash on quality.gx_passed_rows "
    "(suite, row_hash)",
    "create index if not exists gx_pending_rows_suite_hash on quality.gx_pending_rows "
    "(suite, row_hash)",
)
_HASH_COLUMN = "_gx_row_hash"
_BATCH_COLUMN = "_gx_batch"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def validate_changed_rows_in_postgres(
    settings: PostgresSettings,
    suite_json: dict[str, Any],
    table: str,
    key: str,
    *,
    max_rows: int,
    batch_rows: int = BATCH_ROWS,
) -> BoundedOutcome:
    """bounded.validate_changed_rows on the PostgreSQL database of `settings`, where `table` is:
    at most `max_rows` rows of `table` that have not passed `suite_json` before, those waiting
    longest first (then by key), validated in the database in batches of `batch_rows`; the rows
    of the batches that passed are recorded."""
    import psycopg2

    name = suite_json["name"]
    columns = suite_columns(suite_json, key)
    row_hash = f"hashtextextended(row({', '.join(columns)})::text, 0)"
    selected = f"quality.{_quote('gx_selected_' + name)}"
    con = psycopg2.connect(**settings.dsn())
    try:
        with con, con.cursor() as cur:
            cur.execute("set time zone 'UTC'")
            # Both suites' checks may start at once: one creates the state tables.
            cur.execute("select pg_advisory_xact_lock(hashtext('winback.quality.gx'))")
            for statement in _STATE_TABLES:
                cur.execute(statement)
            cur.execute("show server_version_num")
            fingerprint = suite_fingerprint(suite_json, table, ("postgres", cur.fetchone()[0]))
            cur.execute("select fingerprint from quality.gx_suites where suite = %s", [name])
            stored = cur.fetchone()
            full = stored is None or stored[0] != fingerprint
            if full:
                cur.execute("delete from quality.gx_passed_rows where suite = %s", [name])
                cur.execute(
                    "insert into quality.gx_suites values (%s, %s) on conflict (suite) "
                    "do update set fingerprint = excluded.fingerprint", [name, fingerprint])
                cur.execute("analyze quality.gx_passed_rows")
        with con, con.cursor() as cur:
            cur.execute(f"select count(*) from {table}")
            total = cur.fetchone()[0]
            # The rows waiting for validation are exactly those not passed; each keeps the
            # time it started waiting.
            cur.execute(
                f"create temp table gx_not_passed on commit drop as "
                f"select distinct {row_hash} as row_hash from {table} t where not exists "
                f"(select 1 from quality.gx_passed_rows p where p.suite = %s "
                f"and p.row_hash = {row_hash})", [name])
            cur.execute("analyze gx_not_passed")  # autovacuum never analyzes temp tables
            cur.execute(
                "delete from quality.gx_pending_rows w where w.suite = %s and not exists "
                "(select 1 from gx_not_passed n where n.row_hash = w.row_hash)", [name])
            cur.execute(
                "insert into quality.gx_pending_rows select %s, n.row_hash, current_timestamp "
                "from gx_not_passed n where not exists (select 1 from quality.gx_pending_rows w "
                "where w.suite = %s and w.row_hash = n.row_hash)", [name, name])
            cur.execute("analyze quality.gx_pending_rows")
        with con, con.cursor() as cur:
            cur.execute(
                f"select count(*) from {table} t where exists (select 1 from "
                f"quality.gx_pending_rows w where w.suite = %s and w.row_hash = {row_hash})",
                [name])
            waiting = cur.fetchone()[0]
            cur.execute(f"drop table if exists {selected}")
            cur.execute(
                f"create unlogged table {selected} as "
                f"select {', '.join(columns)}, {_HASH_COLUMN}, "
                f"(row_number() over (order by waiting_since, {key}, {_HASH_COLUMN}) - 1) "
                f"/ {int(batch_rows)} as {_BATCH_COLUMN} from ("
                f"select {', '.join(f't.{c}' for c in columns)}, t.{_HASH_COLUMN}, "
                f"p.waiting_since from (select {', '.join(columns)}, {row_hash} as "
                f"{_HASH_COLUMN} from {table}) t join (select row_hash, waiting_since from "
                f"quality.gx_pending_rows where suite = %s) p on t.{_HASH_COLUMN} = p.row_hash "
                f"order by p.waiting_since, t.{key}, t.{_HASH_COLUMN} limit %s) chosen",
                [name, max_rows])
            cur.execute(f"create index on {selected} ({_BATCH_COLUMN})")
            cur.execute(f"analyze {selected}")
            cur.execute(f"select {_BATCH_COLUMN}, count(*) from {selected} "
                        f"group by 1 order by 1")
            batches = cur.fetchall()

        try:
            outcomes: list[SuiteOutcome] = []
            passed: list[int] = []
            validator: SuiteValidator | None = None
            for batch, rows in batches:
                validator = validator or SuiteValidator(
                    suite_json, key, partial(PostgresBatches, settings=settings))
                outcome = validator.validate(
                    f"select {', '.join(columns)} from {selected} "
                    f"where {_BATCH_COLUMN} = {int(batch)}", rows=rows)
                outcomes.append(outcome)
                if outcome.success:
                    passed.append(int(batch))

            with con, con.cursor() as cur:
                # Rows gone from the table (erased customers among them) leave no trace here.
                cur.execute(
                    f"delete from quality.gx_passed_rows p where p.suite = %s and not exists "
                    f"(select 1 from {table} t where {row_hash} = p.row_hash)", [name])
                if passed:
                    cur.execute(
                        f"insert into quality.gx_passed_rows select distinct %s, {_HASH_COLUMN} "
                        f"from {selected} where {_BATCH_COLUMN} = any(%s)", [name, passed])
                    cur.execute(
                        f"delete from quality.gx_pending_rows w where w.suite = %s and exists "
                        f"(select 1 from {selected} s where s.{_BATCH_COLUMN} = any(%s) "
                        f"and s.{_HASH_COLUMN} = w.row_hash)", [name, passed])
        finally:
            with con, con.cursor() as cur:
                cur.execute(f"drop table if exists {selected}")
    finally:
        con.close()

    merged = merge_outcomes(name, outcomes)
    return BoundedOutcome(merged, total - waiting, waiting - merged.rows, len(outcomes), full,
                          datasource=PostgresBatches.kind)

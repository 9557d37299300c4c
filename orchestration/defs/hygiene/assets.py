"""Contact checks that need maintained libraries rather than SQL (email-validator, phonenumbers,
disposable-email-domains). Results are kept by value across runs: each run checks only the values
no stored row has yet (an anti-join in DuckDB, read in batches so memory stays bounded), drops the
values nothing references any more, and rebuilds a table when its rules fingerprint changes, so
the table always equals a full rebuild. A run reads the raw rows loaded since the last one, not
every customer: the raw tables are append-only and only an erasure request takes a reference
away (refresh_checks_table). dbt joins the results back by value."""

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg
import duckdb
import pyarrow as pa

from orchestration.defs.hygiene.rows import check_chunks, check_rows, email_row, phone_row
from orchestration.defs.hygiene.summary import contact_hygiene_counts
from orchestration.defs.resources import WinbackConfig
from orchestration.lib.asset_keys import raw_asset_key
from orchestration.lib.contacts import (
    DISPOSABLE_LIST_VERSION,
    ROLE_LOCAL_PARTS,
    email_rules_fingerprint,
    phone_rules_fingerprint,
)
from orchestration.lib.metadata import counts_table
from orchestration.lib.warehouse import open_warehouse

BATCH_ROWS = 50_000  # checked values per insert
# Values per read from DuckDB and per task of a worker process: large enough that pickling and
# scheduling cost little per value, small enough that every worker stays busy to the end.
CHUNK_ROWS = 5_000
# Fewer pending values than this are checked in this process: starting a worker (a new
# interpreter importing email-validator and phonenumbers, ~0.3 s) costs more than it saves.
POOL_MIN_VALUES = 20_000
EMAIL_CHECKS_SCHEMA = pa.schema(
    [
        ("email_raw", pa.string()),
        ("email_normalized", pa.string()),
        ("is_valid", pa.bool_()),
        ("invalid_reason", pa.string()),
        ("is_role_address", pa.bool_()),
        ("is_disposable_domain", pa.bool_()),
    ]
)
PHONE_CHECKS_SCHEMA = pa.schema(
    [
        ("phone_raw", pa.string()),
        ("country_code", pa.string()),
        ("phone_e164", pa.string()),
        ("phone_extension", pa.string()),
        ("phone_type", pa.string()),
        ("is_valid", pa.bool_()),
        ("invalid_reason", pa.string()),
    ]
)
_DUCKDB_TYPES = {pa.string(): "VARCHAR", pa.bool_(): "BOOLEAN"}

ERASURES = "raw.erasure_requests"


@dataclass(frozen=True)
class Source:
    """Raw rows whose values a check table holds: `key` the SQL expressions of the value (over
    the table's columns), `where` which rows hold one, `live` whether only rows of customers
    without an erasure request count. Values an erased customer alone references are dropped:
    an erasure removes the person whatever the as-of date (int_customers_erased), so no mart can
    need their address or number."""

    table: str
    key: tuple[str, ...]
    where: str
    live: bool = False

    def rows(self, extra: str = "") -> str:
        live = (f" AND NOT EXISTS (SELECT 1 FROM {ERASURES} e "
                "WHERE e.customer_id = r.customer_id)") if self.live else ""
        return f"FROM {self.table} r WHERE {self.where}{live}{extra}"

    def values(self, extra: str = "") -> str:
        return f"SELECT DISTINCT {', '.join(self.key)} {self.rows(extra)}"

    def erased_values(self) -> str:
        """The values of rows of customers with an erasure request loaded at or after $1."""
        return (f"SELECT DISTINCT {', '.join(self.key)} FROM {self.table} r WHERE {self.where} "
                f"AND EXISTS (SELECT 1 FROM {ERASURES} e WHERE e.customer_id = r.customer_id "
                "AND e._loaded_at >= $1)")


EMAIL_SOURCES = (
    Source("raw.customers", ("email",), "email IS NOT NULL", live=True),
    Source("raw.suppressions", ("email",), "email IS NOT NULL"),
    Source("raw.exclusions", ("email",), "email IS NOT NULL"),
)
# Keyed like stg_crm__customers: country trimmed and upper-cased.
PHONE_SOURCES = (
    Source("raw.customers", ("phone", "upper(trim(country))"),
           "phone IS NOT NULL AND trim(phone) <> ''", live=True),
)


@dataclass(frozen=True)
class ChecksRefresh:
    checked: int
    reused: int
    pruned: int
    rebuilt: bool
    incremental: bool


# Per check table and raw table it reads: that table's rows at the last refresh, and how many of
# them were loaded at or after the watermark (the newest _loaded_at of those tables then).
STATE_DDL = (
    "CREATE TABLE IF NOT EXISTS hygiene.refresh_state (table_name VARCHAR NOT NULL, "
    "source_table VARCHAR NOT NULL, watermark TIMESTAMPTZ, rows_total BIGINT NOT NULL, "
    "rows_since_watermark BIGINT NOT NULL, PRIMARY KEY (table_name, source_table))"
)


def _source_tables(sources: Sequence[Source]) -> list[str]:
    return sorted({s.table for s in sources} | ({ERASURES} if any(s.live for s in sources)
                                                else set()))


def _row_counts(con: duckdb.DuckDBPyConnection, tables: Sequence[str],
                watermark: Any) -> dict[str, tuple[int, int]]:
    """Each table's rows, and those loaded at or after `watermark`."""
    counts = {}
    for table in tables:
        total, since = con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE _loaded_at >= $1) FROM {table}",
            [watermark]).fetchone()
        counts[table] = (total, since)
    return counts


def _loaded_since(con: duckdb.DuckDBPyConnection, table: str, tables: Sequence[str]) -> Any:
    """The watermark of `table`'s last refresh if every raw row added since was loaded at or
    after it, else None (no refresh recorded, a table it reads is new, or rows came in with an
    older load time, as after a clock set back, or went: raw tables are append-only, so none
    should). Rows loaded at the watermark itself are read again: loads are stamped to the second."""
    state = con.execute(
        "SELECT source_table, watermark, rows_total, rows_since_watermark "
        "FROM hygiene.refresh_state WHERE table_name = ?", [table]).fetchall()
    watermarks = {row[1] for row in state}
    if sorted(row[0] for row in state) != list(tables) or len(watermarks) != 1:
        return None
    (watermark,) = watermarks
    if watermark is None:
        return None
    now = _row_counts(con, tables, watermark)
    for source_table, _, total, since in state:
        if now[source_table][0] - total != now[source_table][1] - since:
            return None
    return watermark


def _record_state(con: duckdb.DuckDBPyConnection, table: str, tables: Sequence[str]) -> None:
    watermark = con.execute(
        "SELECT max(loaded_at) FROM ("
        + " UNION ALL ".join(f"SELECT max(_loaded_at) AS loaded_at FROM {t}" for t in tables)
        + ")").fetchone()[0]
    con.execute("DELETE FROM hygiene.refresh_state WHERE table_name = ?", [table])
    for source_table, (total, since) in _row_counts(con, tables, watermark).items():
        con.execute("INSERT INTO hygiene.refresh_state VALUES (?, ?, ?, ?, ?)",
                    [table, source_table, watermark, total, since])


def refresh_checks_table(
    con: duckdb.DuckDBPyConnection,
    table: str,
    schema: pa.Schema,
    key: Sequence[str],
    sources: Sequence[Source],
    fingerprint: str,
    check: Callable[[tuple[Any, ...]], tuple[Any, ...]],
    workers: int = 1,
) -> ChecksRefresh:
    """Bring `hygiene.<table>` (one row per distinct key, the first columns of `schema`) in line
    with the values of `sources`, in one transaction (a failure leaves the previous table):
    rebuild it when `fingerprint` differs from the one stored in hygiene.rules, delete the keys
    no longer referenced, and add check(value) for each value without a row, in batches.
    A refresh reads only the raw rows loaded since the last one (their values may be new) and
    the values of customers with an erasure request loaded since (they may be referenced no
    more); it reads every row when there is no usable record of the last (_loaded_since).
    With `workers` > 1 and at least POOL_MIN_VALUES values to check, that many processes check
    them (`check` must then be a module-level function); this connection alone writes. Keys
    compare with IS NOT DISTINCT FROM, so a null country is a key like any other."""
    columns = ", ".join(f"{f.name} {_DUCKDB_TYPES[f.type]}" for f in schema)
    target = f"hygiene.{table}"
    tables = _source_tables(sources)
    values = ", ".join(f"v{i}" for i in range(len(key)))
    matches = " AND ".join(f"v.v{i} IS NOT DISTINCT FROM t.{k}" for i, k in enumerate(key))
    con.execute("CREATE SCHEMA IF NOT EXISTS hygiene")
    con.execute(
        "CREATE TABLE IF NOT EXISTS hygiene.rules "
        "(table_name VARCHAR PRIMARY KEY, fingerprint VARCHAR NOT NULL)"
    )
    con.execute(STATE_DDL)
    con.execute("BEGIN TRANSACTION")
    try:
        stored = con.execute(
            "SELECT fingerprint FROM hygiene.rules WHERE table_name = ?", [table]
        ).fetchone()
        rebuilt = stored is None or stored[0] != fingerprint
        if rebuilt:
            con.execute(f"CREATE OR REPLACE TABLE {target} ({columns})")
            con.execute("INSERT OR REPLACE INTO hygiene.rules VALUES (?, ?)", [table, fingerprint])
        since = None if rebuilt else _loaded_since(con, table, tables)
        if since is None:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE hygiene_values AS SELECT * FROM "
                f"({' UNION '.join(s.values() for s in sources)}) AS v({values})"
            )
            pruned = con.execute(
                f"DELETE FROM {target} t WHERE NOT EXISTS "
                f"(SELECT 1 FROM hygiene_values v WHERE {matches})"
            ).fetchone()[0]
        else:
            pruned = _refresh_since(con, target, sources, values, matches, since)
        reused = con.execute(f"SELECT count(*) FROM {target}").fetchone()[0]
        # Numbered in key order so each batch is a cheap range read of the temp table.
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE hygiene_pending AS "
            f"SELECT row_number() OVER (ORDER BY {values}) AS n, {values} "
            f"FROM hygiene_values v WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE {matches}) "
            f"ORDER BY n"
        )
        pending = con.execute("SELECT count(*) FROM hygiene_pending").fetchone()[0]
        chunks = _pending_chunks(con, values)
        checked = 0
        results: list[tuple[Any, ...]] = []
        for checked_rows in _checked_chunks(chunks, check, pending, workers):
            results += checked_rows
            if len(results) >= BATCH_ROWS:
                _insert(con, target, schema, results)
                checked += len(results)
                results = []
        if results:
            _insert(con, target, schema, results)
            checked += len(results)
        con.execute("DROP TABLE hygiene_pending")
        con.execute("DROP TABLE hygiene_values")
        _record_state(con, table, tables)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return ChecksRefresh(checked=checked, reused=reused, pruned=pruned, rebuilt=rebuilt,
                         incremental=since is not None)


def _refresh_since(con: duckdb.DuckDBPyConnection, target: str, sources: Sequence[Source],
                   values: str, matches: str, since: Any) -> int:
    """The values of rows loaded at or after `since` into temp table hygiene_values (columns
    `values`); deletes the values of customers with an erasure request loaded since that nothing
    else references now (`matches`: a value v equals a row t). Returns how many it deleted."""
    loaded = " AND r._loaded_at >= $1"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE hygiene_values AS SELECT * FROM "
        f"({' UNION '.join(s.values(loaded) for s in sources)}) AS v({values})", [since])
    erased = " UNION ".join(s.erased_values() for s in sources if s.live)
    if not erased:
        return 0
    con.execute(f"CREATE OR REPLACE TEMP TABLE hygiene_erased AS SELECT * FROM ({erased}) "
                f"AS v({values})", [since])
    referenced = " OR ".join(
        "EXISTS (SELECT 1 " + s.rows(" AND " + " AND ".join(
            f"{expr} IS NOT DISTINCT FROM v.v{i}" for i, expr in enumerate(s.key))) + ")"
        for s in sources)
    pruned = con.execute(
        f"DELETE FROM {target} t WHERE EXISTS (SELECT 1 FROM hygiene_erased v "
        f"WHERE {matches} AND NOT ({referenced}))"
    ).fetchone()[0]
    con.execute("DROP TABLE hygiene_erased")
    return pruned


def _pending_chunks(con: duckdb.DuckDBPyConnection, values: str) -> Iterator[list[tuple[Any, ...]]]:
    done = 0
    while rows := con.execute(
        f"SELECT {values} FROM hygiene_pending WHERE n > ? AND n <= ? ORDER BY n",
        [done, done + CHUNK_ROWS],
    ).fetchall():
        yield rows
        done += len(rows)


def _checked_chunks(
    chunks: Iterable[list[tuple[Any, ...]]],
    check: Callable[[tuple[Any, ...]], tuple[Any, ...]],
    pending: int,
    workers: int,
) -> Iterator[list[tuple[Any, ...]]]:
    """check_rows over each chunk, in order: here, or in `workers` processes (rows.py)."""
    if workers < 2 or pending < POOL_MIN_VALUES:
        for rows in chunks:
            yield check_rows(check, rows)
    else:
        yield from check_chunks(chunks, check, workers)


def _insert(
    con: duckdb.DuckDBPyConnection, target: str, schema: pa.Schema, rows: list[tuple[Any, ...]]
) -> None:
    columns = zip(*rows, strict=True)
    batch = pa.Table.from_arrays(
        [pa.array(column, type=f.type) for column, f in zip(columns, schema, strict=True)],
        schema=schema,
    )
    con.register("checks_batch", batch)
    con.execute(f"INSERT INTO {target} SELECT * FROM checks_batch")
    con.unregister("checks_batch")


def _refresh_metadata(refresh: ChecksRefresh, fingerprint: str) -> dict[str, Any]:
    return {
        "dagster/row_count": refresh.checked + refresh.reused,
        "values_checked": refresh.checked,
        "values_reused": refresh.reused,
        "values_pruned": refresh.pruned,
        "rebuilt_for_new_rules": refresh.rebuilt,
        "read_rows_since_last_refresh": refresh.incremental,
        "rules_fingerprint": fingerprint,
    }


def _counts_by(con: duckdb.DuckDBPyConnection, column: str, table: str) -> dict[str, int]:
    rows = con.execute(
        f"SELECT {column}, count(*) FROM hygiene.{table} WHERE {column} IS NOT NULL "
        f"GROUP BY 1 ORDER BY 1"
    ).fetchall()
    return dict(rows)


@dg.asset(
    key=["hygiene", "email_checks"],
    deps=[raw_asset_key(e)
          for e in ("customers", "suppressions", "exclusions", "erasure_requests")],
    group_name="hygiene",
    kinds={"python", "duckdb"},
)
def email_checks(context: dg.AssetExecutionContext, winback: WinbackConfig) -> dg.MaterializeResult:
    """Every distinct email string in the CRM (erased customers excepted), the suppression list
    and the exclusion lists, trimmed, validated (syntax and IDN, no DNS) and lower-cased, with a
    reason code when invalid, and flags for role addresses (info@, noreply@, ...) and disposable
    domains (disposable-email-domains list). Suppressions and exclusion lists go through the same
    normaliser so that they match customers' addresses. Only strings not checked on an earlier
    run are validated."""
    settings = winback.settings()
    fingerprint = email_rules_fingerprint()
    with open_warehouse(settings.warehouse) as con:
        refresh = refresh_checks_table(
            con, "email_checks", EMAIL_CHECKS_SCHEMA, ["email_raw"], EMAIL_SOURCES,
            fingerprint, email_row, workers=settings.check_workers,
        )
        reasons = _counts_by(con, "invalid_reason", "email_checks")
        role, disposable = con.execute(
            "SELECT count(*) FILTER (is_role_address), count(*) FILTER (is_disposable_domain) "
            "FROM hygiene.email_checks"
        ).fetchone()
    context.log.info(
        f"Email checks: {refresh.checked} strings validated, {refresh.reused} reused, "
        f"{refresh.pruned} no longer referenced dropped"
        + (" (rebuilt: the rules changed)." if refresh.rebuilt else ".")
    )
    return dg.MaterializeResult(
        metadata={
            **_refresh_metadata(refresh, fingerprint),
            "invalid_emails": sum(reasons.values()),
            "invalid_by_reason": counts_table(reasons, count="emails"),
            "role_addresses": role,
            "disposable_domains": disposable,
            "disposable_email_domains_version": DISPOSABLE_LIST_VERSION,
            "role_local_parts": len(ROLE_LOCAL_PARTS),
        }
    )


@dg.asset(
    key=["hygiene", "phone_checks"],
    deps=[raw_asset_key(e) for e in ("customers", "erasure_requests")],
    group_name="hygiene",
    kinds={"python", "duckdb"},
)
def phone_checks(context: dg.AssetExecutionContext, winback: WinbackConfig) -> dg.MaterializeResult:
    """Every distinct (phone string, customer country) pair in the CRM (erased customers
    excepted), parsed with phonenumbers using the country as the default region: E.164 only for
    valid numbers (is_valid_number), the extension kept apart, the number type (mobile, fixed
    line, ...), and a reason code otherwise. Only pairs not checked on an earlier run are parsed."""
    settings = winback.settings()
    fingerprint = phone_rules_fingerprint()
    with open_warehouse(settings.warehouse) as con:
        refresh = refresh_checks_table(
            con, "phone_checks", PHONE_CHECKS_SCHEMA, ["phone_raw", "country_code"],
            PHONE_SOURCES, fingerprint, phone_row, workers=settings.check_workers,
        )
        reasons = _counts_by(con, "invalid_reason", "phone_checks")
        types = _counts_by(con, "phone_type", "phone_checks")
    context.log.info(
        f"Phone checks: {refresh.checked} numbers validated, {refresh.reused} reused, "
        f"{refresh.pruned} no longer referenced dropped"
        + (" (rebuilt: the rules changed)." if refresh.rebuilt else ".")
    )
    return dg.MaterializeResult(
        metadata={
            **_refresh_metadata(refresh, fingerprint),
            "invalid_phones": sum(reasons.values()),
            "invalid_by_reason": counts_table(reasons, count="phones"),
            "valid_by_type": counts_table(types, label="phone_type", count="phones"),
        }
    )


defs = dg.Definitions(assets=[email_checks, phone_checks], asset_checks=[contact_hygiene_counts])

"""Incremental load of an operational SQL database (through SQLAlchemy) into `raw.<entity>`.

The source is read with an `updated_at >= watermark` cursor, ordered by `updated_at` and key, and
streamed in batches (a server-side cursor where the driver has one). Each batch is one DuckDB
transaction holding its rows, its quarantine rows and the new watermark, so a crash between
batches loses nothing (the next run resumes at the committed watermark) and doubles nothing
(`>=` re-reads the rows at the watermark; rows identical to ones already loaded from the source
are dropped). Rows land with lineage `_source_file = sql:<table>` and a `_source_row` that keeps
counting across runs, so everything downstream treats them like file rows.

Rows without `updated_at` cannot be tracked by the cursor: they are read on every run and
quarantined once (reason `missing_cursor:updated_at`).
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections import Counter
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
import sqlalchemy as sa

from orchestration.defs.ingest.loader import count_duplicate_keys, ensure_raw_tables
from orchestration.lib.contracts import Contract
from orchestration.lib.landing import IngestError, typed_select
from orchestration.lib.settings import SqlSourceSettings

CURSOR = "updated_at"

WATERMARK_DDL = """
CREATE TABLE IF NOT EXISTS raw.ingest_watermarks (
    entity VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    cursor_kind VARCHAR,
    cursor_value VARCHAR,
    rows_seen BIGINT NOT NULL,
    batches BIGINT NOT NULL,
    committed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (entity, source)
)
"""


@dataclass
class SqlReport:
    source: str
    rows_read: int = 0  # rows fetched from the source this run
    already_loaded: int = 0  # re-read at the watermark (the `>=`) and dropped
    loaded: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    duplicate_keys: int = 0
    batches: int = 0
    extra_columns: tuple[str, ...] = ()
    watermark: str | None = None


@dataclass(frozen=True)
class _Watermark:
    """Committed progress: the last cursor value read (None until a row with one was read), the
    rows appended or quarantined so far (the next `_source_row` is rows_seen + 1), batches."""

    kind: str | None = None
    value: str | None = None
    rows_seen: int = 0
    batches: int = 0


def _encode_cursor(value: object) -> tuple[str, str]:
    """The cursor value as the source returned it, stored as (kind, text) to bind it back."""
    if isinstance(value, dt.datetime):
        return "datetime", value.isoformat()
    if isinstance(value, dt.date):
        return "date", value.isoformat()
    if isinstance(value, str):
        return "text", value
    raise IngestError(
        f"The SQL source's {CURSOR} column returned {type(value).__name__} values; it must be a "
        "timestamp, date or ISO-8601 text column."
    )


def _decode_cursor(kind: str, value: str) -> object:
    if kind == "datetime":
        return dt.datetime.fromisoformat(value)
    if kind == "date":
        return dt.date.fromisoformat(value)
    return value


def _as_text(value: object) -> str | None:
    """A source value as the text the contract typing expects (the same path as file rows)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _base_query(source: SqlSourceSettings, engine: sa.Engine) -> str:
    if source.query:
        return source.query
    quote = engine.dialect.identifier_preparer.quote
    return "SELECT * FROM " + ".".join(quote(part) for part in source.table.split("."))


def _read_watermark(con: duckdb.DuckDBPyConnection, entity: str, label: str) -> _Watermark | None:
    rows = con.execute(
        "SELECT cursor_kind, cursor_value, rows_seen, batches FROM raw.ingest_watermarks "
        "WHERE entity = ? AND source = ?",
        [entity, label],
    ).fetchall()
    return _Watermark(*rows[0]) if rows else _Watermark()


def load_sql_source(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    source: SqlSourceSettings,
    *,
    source_tz: str = "UTC",
    max_reject_share: float = 0.05,
    loaded_at: dt.datetime | None = None,
) -> SqlReport:
    """Append the source's rows changed since the committed watermark, batch by batch."""
    loaded_at = loaded_at or dt.datetime.now(dt.UTC).replace(microsecond=0)
    con.execute("SET TimeZone = 'UTC'")
    ensure_raw_tables(con, contract)
    con.execute(WATERMARK_DDL)
    label = source.label
    report = SqlReport(label)
    watermark = _read_watermark(con, contract.entity, label)
    engine = sa.create_engine(source.url, poolclass=sa.pool.NullPool)
    base = f"SELECT * FROM ({_base_query(source, engine)}) winback_src"
    sql, params = base, {}
    if watermark.value is not None:
        sql += f" WHERE {CURSOR} IS NULL OR {CURSOR} >= :watermark"
        params["watermark"] = _decode_cursor(watermark.kind, watermark.value)
    # Rows without a cursor first (re-read each run, quarantined once), then in cursor order.
    sql += f" ORDER BY CASE WHEN {CURSOR} IS NULL THEN 0 ELSE 1 END, " + ", ".join(
        [CURSOR, *contract.key]
    )
    try:
        with engine.connect() as source_con:
            columns = list(source_con.execute(sa.text(base + " WHERE 1 = 0")).keys())
            missing = [c for c in (*contract.required_columns, CURSOR) if c not in columns]
            if missing:
                raise IngestError(
                    f"{label}: column(s) {missing} missing from the source (found {columns}). "
                    f"The {contract.entity} contract needs {list(contract.required_columns)} "
                    f"and the incremental cursor needs {CURSOR}; alias the columns in "
                    f"WINBACK_{contract.entity.upper()}_SQL_QUERY."
                )
            result = source_con.execution_options(
                stream_results=True, yield_per=source.batch_rows
            ).execute(sa.text(sql), params)
            report.extra_columns = tuple(sorted(set(columns) - set(contract.column_names)))
            for rows in result.partitions(source.batch_rows):
                watermark = _load_batch(
                    con, contract, label, columns, rows, watermark, report,
                    source_tz=source_tz, max_reject_share=max_reject_share, loaded_at=loaded_at,
                )
    except sa.exc.SQLAlchemyError as exc:
        # Driver messages can quote the URL or row values, so only the error class is passed on.
        raise IngestError(
            f"{label}: reading the {contract.entity} source failed ({type(exc).__name__}). "
            f"Check WINBACK_{contract.entity.upper()}_SQL_URL and the table or query."
        ) from None
    finally:
        engine.dispose()
    report.watermark = watermark.value
    return report


def _as_arrow(contract: Contract, columns: list[str], rows: list[sa.Row]) -> pa.Table:
    """The batch as text columns in contract order (absent ones null), numbered from 1."""
    position = {name: i for i, name in enumerate(columns)}
    data = {"_ordinal": pa.array(range(1, len(rows) + 1), pa.int64())}
    for name in contract.column_names:
        i = position.get(name)
        values = [_as_text(row[i]) for row in rows] if i is not None else [None] * len(rows)
        data[name] = pa.array(values, pa.string())
    return pa.table(data)


def _keep_new_rows(
    con: duckdb.DuckDBPyConnection, contract: Contract, label: str, rows_seen: int
) -> None:
    """`_sql_new`: the typed batch less what an earlier batch or run already appended: good rows
    by content among this source's rows at or after the batch's first cursor, rejected rows by
    their raw record. New rows are numbered on from `rows_seen`."""
    entity = f'raw."{contract.entity}"'
    same = " AND ".join(f'n."{c}" IS NOT DISTINCT FROM r."{c}"' for c in contract.column_names)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _sql_new AS SELECT ? + row_number() OVER "
        f"(ORDER BY n._ordinal) AS _source_row, n.* FROM _sql_typed n "
        f"WHERE NOT (n._reasons = '' AND EXISTS (SELECT 1 FROM {entity} r "
        f"WHERE r._source_file = ? AND r.{CURSOR} >= (SELECT min({CURSOR}) FROM _sql_typed) "
        f"AND {same})) "
        f"AND NOT (n._reasons <> '' AND EXISTS (SELECT 1 FROM raw.quarantine q "
        f"WHERE q.entity = ? AND q.source_file = ? AND q.raw_record = n._raw_record))",
        [rows_seen, label, contract.entity, label],
    )


def _load_batch(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    label: str,
    columns: list[str],
    rows: list[sa.Row],
    watermark: _Watermark,
    report: SqlReport,
    *,
    source_tz: str,
    max_reject_share: float,
    loaded_at: dt.datetime,
) -> _Watermark:
    """One batch: new rows, quarantine rows and the advanced watermark in one transaction."""
    batch = _as_arrow(contract, columns, rows)
    cursor = columns.index(CURSOR)
    cursor_values = [row[cursor] for row in rows if row[cursor] is not None]
    rows_seen = watermark.rows_seen
    entity = f'raw."{contract.entity}"'
    stamp = loaded_at.isoformat()
    no_cursor = f"CASE WHEN nullif(trim({CURSOR}), '') IS NULL THEN 'missing_cursor:{CURSOR}' END"
    typed = typed_select(
        contract,
        "SELECT * FROM _sql_batch",
        source_tz,
        loaded_at,
        (no_cursor,),
    )
    con.register("_sql_batch", batch)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _sql_typed AS {typed}")
        _keep_new_rows(con, contract, label, rows_seen)
        new, bad = con.execute(
            "SELECT count(*), count(*) FILTER (_reasons <> '') FROM _sql_new"
        ).fetchone()
        if new and bad / new > max_reject_share:
            raise IngestError(
                f"{label}: {bad} of {new} new rows in batch {report.batches + 1} rejected "
                f"({bad / new:.1%}, limit {max_reject_share:.0%}). Nothing from this batch was "
                "loaded; fix the source rows or raise WINBACK_MAX_REJECT_SHARE."
            )
        duplicate_keys = count_duplicate_keys(
            con, contract, "(SELECT * FROM _sql_new WHERE _reasons = '')"
        )
        con.execute(
            "INSERT INTO raw.quarantine SELECT ?, ?, _source_row, _reasons, "
            "_raw_record, ?::TIMESTAMPTZ FROM _sql_new WHERE _reasons <> ''",
            [contract.entity, label, stamp],
        )
        names = ", ".join(f'"{c}"' for c in contract.column_names)
        loaded = con.execute(
            f"INSERT INTO {entity} SELECT {names}, ?, _source_row, ?::TIMESTAMPTZ "
            f"FROM _sql_new WHERE _reasons = ''",
            [label, stamp],
        ).fetchone()[0]
        if loaded + bad != new:
            raise IngestError(
                f"{label}: batch {report.batches + 1} had {new} new rows but {loaded} loaded "
                f"and {bad} quarantined; nothing from it was committed."
            )
        kind, value = (watermark.kind, watermark.value)
        if cursor_values:
            kind, value = _encode_cursor(cursor_values[-1])
        next_watermark = _Watermark(kind, value, rows_seen + new, watermark.batches + 1)
        con.execute(
            "INSERT OR REPLACE INTO raw.ingest_watermarks VALUES (?, ?, ?, ?, ?, ?, ?)",
            [contract.entity, label, kind, value, next_watermark.rows_seen,
             next_watermark.batches, loaded_at],
        )
        reasons = con.execute(
            "SELECT split_part(_reasons, ';', 1), count(*) FROM _sql_new "
            "WHERE _reasons <> '' GROUP BY ALL"
        ).fetchall()
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.execute("DROP TABLE IF EXISTS _sql_typed")
        con.execute("DROP TABLE IF EXISTS _sql_new")
        con.unregister("_sql_batch")
    report.batches += 1
    report.rows_read += len(rows)
    report.already_loaded += len(rows) - new
    report.loaded += loaded
    report.duplicate_keys += duplicate_keys
    report.quarantined.update(dict(reasons))
    return next_watermark

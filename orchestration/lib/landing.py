"""Read landing files under their input contract, in DuckDB, losing no row.

Shared by the ingest stage (which appends what it reads to `raw.<entity>` through the ledger)
and by the write-time consent gate (which reads do-not-contact files whose content is not in
the ledger yet), so both apply the same rules. A file is typed into a temp view where every row
carries `_reasons` (empty for a row that loads) and `_defects` (what is wrong with a
do-not-contact row that loads anyway, failing closed); structurally malformed CSV records are
kept apart with their record number. Python
only inspects headers, hashes files and builds SQL; parsing and typing run in DuckDB.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import time
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from orchestration.lib.contracts import Column, ColumnType, Contract, DoNotContact

CSV_SUFFIXES = {".csv"}
PARQUET_SUFFIXES = {".parquet"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
IN_FLIGHT_SUFFIXES = {".tmp", ".part", ".partial", ".crdownload"}
OFFSET_PATTERN = r"(Z|z|[+-]\d{2}(:?\d{2})?)$"
# CASE keeps DuckDB from evaluating json_type on text that is not JSON (which raises).
_JSON_OBJECT = "CASE WHEN json_valid(_line) THEN json_type(_line) = 'OBJECT' ELSE false END"
_HASH_CHUNK = 1 << 20
# Each landing file's SHA-256 with the FileStamp it was read at (landing_sha256s).
HASH_CACHE = "raw.landing_file_hashes"
RACY_NS = 2_000_000_000
# CSV encodings a source may declare (DuckDB reads these natively) -> Python codec for headers.
CSV_ENCODINGS = {"utf-8": "utf-8-sig", "utf-16": "utf-16", "latin-1": "latin-1"}
UTC_NAMES = {"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Zulu", "Etc/Zulu", "Universal"}
# Parquet column types (as DuckDB names them) that a contract column reads as they are, without a
# round trip through text. Anything else (strings, dates, nanosecond timestamps...) is read as text
# and typed like a CSV value, so a file whose writer chose another type still loads by the rules.
INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
                 "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}
FLOAT_TYPES = {"FLOAT", "DOUBLE"}
TZ_TIMESTAMP = "TIMESTAMP WITH TIME ZONE"
NAIVE_TIMESTAMPS = {"TIMESTAMP", "TIMESTAMP_MS", "TIMESTAMP_S"}


class IngestError(ValueError):
    """A landing file cannot be loaded. Messages name the file and rule, never row values."""



def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class FileStamp:
    """What the file system says of a file's version: any write changes the size, the
    modification time or the change time (which no tool can set back), a replacement the inode."""

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    device: int

    @classmethod
    def of(cls, path: Path) -> FileStamp:
        stat = path.stat()
        return cls(stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev)


def ensure_hash_cache(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {HASH_CACHE} (path VARCHAR PRIMARY KEY, size BIGINT NOT NULL, "
        "mtime_ns BIGINT NOT NULL, ctime_ns BIGINT NOT NULL, inode UBIGINT NOT NULL, "
        "device UBIGINT NOT NULL, hashed_at_ns BIGINT NOT NULL, sha256 VARCHAR NOT NULL)"
    )


def landing_sha256s(con: duckdb.DuckDBPyConnection, paths: list[Path], *,
                    cache: str = HASH_CACHE, record: bool = True
                    ) -> list[tuple[str, FileStamp]]:
    """The SHA-256 of each file of `paths`, with the file's stamp as it was before the read
    (a caller that loads the file checks that it has not changed since). A file is read again
    unless the cache table `cache` holds its path with the same FileStamp, hashed at least
    RACY_NS after the file last changed: a landing folder keeps every day's files, and reading
    them all again each run grew with the history (0.19 s of CPU a run for the 261 MB of a
    10M-order Parquet landing). A file
    written again within one tick of a coarse file-system clock can keep its times, so an
    entry hashed that soon after the change is not trusted (git's "racily clean" entries).
    `record`: store the hashes read (`con` writable; the cache is created if missing);
    otherwise a missing cache table only means every file is read."""
    if record:
        ensure_hash_cache(con)
    cached: dict[str, tuple] = {}
    if paths and (record or _table_exists(con, cache)):
        names = [str(path.resolve()) for path in paths]
        cached = {row[0]: row[1:] for row in con.execute(
            f"SELECT path, size, mtime_ns, ctime_ns, inode, device, hashed_at_ns, sha256 "
            f"FROM {cache} WHERE path IN (SELECT unnest(?))", [names]).fetchall()}
    hashes: list[tuple[str, FileStamp]] = []
    fresh = []
    for path in paths:
        name, stamp = str(path.resolve()), FileStamp.of(path)
        entry = cached.get(name)
        if (entry is not None and FileStamp(*entry[:5]) == stamp
                and max(stamp.mtime_ns, stamp.ctime_ns) + RACY_NS <= entry[5]):
            hashes.append((entry[6], stamp))
            continue
        hashed_at_ns = time.time_ns()
        sha256 = file_sha256(path)
        hashes.append((sha256, stamp))
        if FileStamp.of(path) == stamp:  # not written while it was read
            fresh.append((name, *dataclasses.astuple(stamp), hashed_at_ns, sha256))
    if record and fresh:
        con.executemany(f"INSERT OR REPLACE INTO {cache} VALUES (?, ?, ?, ?, ?, ?, ?, ?)", fresh)
    return hashes


def _table_exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    *catalog, schema, table = qualified.split(".")
    return con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?"
        + (" AND database_name = ?" if catalog else ""),
        [schema, table, *catalog]).fetchone()[0] > 0


def landing_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """Complete files to load (sorted) and in-flight files skipped until they are renamed."""
    ready: list[Path] = []
    in_flight: list[Path] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.name.startswith((".", "_")):
            continue
        if path.suffix.lower() in IN_FLIGHT_SUFFIXES:
            in_flight.append(path)
        elif path.suffix.lower() in CSV_SUFFIXES | PARQUET_SUFFIXES | JSONL_SUFFIXES:
            ready.append(path)
        else:
            raise IngestError(
                f"{path}: unsupported file type {path.suffix!r}. Landing folders take .csv, "
                ".parquet and .jsonl files; move other files elsewhere."
            )
    return ready, in_flight


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _not_utf8(name: str, encoding: str) -> IngestError:
    entity = name.split("/", 1)[0]
    return IngestError(
        f"{name}: not valid {encoding.upper()} text. Re-export the file as UTF-8, or declare "
        f"its encoding with WINBACK_{entity.upper()}_ENCODING ({', '.join(CSV_ENCODINGS)})."
    )


def read_header(
    path: Path, name: str, con: duckdb.DuckDBPyConnection, encoding: str = "utf-8"
) -> list[str]:
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        try:
            with path.open(encoding=CSV_ENCODINGS[encoding], newline="") as handle:
                header = next(csv.reader(handle), None)
        except UnicodeError:
            raise _not_utf8(name, encoding) from None
        if header is None:
            raise IngestError(f"{name}: the file is empty (no header row). Remove or replace it.")
        return [h.strip() for h in header]
    if suffix in PARQUET_SUFFIXES:
        return list(pq.read_schema(path).names)
    rows = con.execute(
        f"SELECT DISTINCT unnest(CASE WHEN {_JSON_OBJECT} THEN json_keys(_line) END) "
        f"FROM ({_jsonl_lines(path)})"
    ).fetchall()
    if not rows and path.stat().st_size == 0:
        raise IngestError(f"{name}: the file is empty. Remove or replace it.")
    return sorted(r[0] for r in rows)


def _jsonl_lines(path: Path) -> str:
    # Each line as one text column: the record separator cannot occur in valid JSON text.
    return (
        f"SELECT * FROM (SELECT row_number() OVER () AS _source_row, _line "
        f"FROM read_csv({literal(str(path))}, columns = {{'_line': 'VARCHAR'}}, header = false, "
        "delim = '\x1e', quote = '', escape = '', auto_detect = false)) "
        "WHERE trim(coalesce(_line, '')) <> ''"
    )


def native_type(col: Column, stored: str) -> bool:
    """Whether a Parquet column stored as DuckDB type `stored` is read as it is for `col`."""
    if col.type is ColumnType.TIMESTAMP:
        return stored == TZ_TIMESTAMP or stored in NAIVE_TIMESTAMPS
    if col.type is ColumnType.DECIMAL:
        return stored in INTEGER_TYPES | FLOAT_TYPES or stored.startswith("DECIMAL(")
    if col.type is ColumnType.INTEGER:
        return stored in INTEGER_TYPES
    return False


def parquet_native_columns(
    con: duckdb.DuckDBPyConnection, path: Path, contract: Contract
) -> dict[str, str]:
    """Contract columns of a Parquet file read in their stored type: name -> DuckDB type."""
    stored = dict(con.execute(
        "SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "
        f"read_parquet({literal(str(path))}))"
    ).fetchall())
    return {c.name: stored[c.name] for c in contract.columns
            if c.name in stored and native_type(c, stored[c.name])}


def _source_select(
    path: Path, header: list[str], contract: Contract, scan: str, encoding: str = "utf-8",
    native: Mapping[str, str] | None = None,
) -> str:
    """SQL giving `_ordinal` (the record number, for CSV among readable records) plus every
    contract column as text (NULL when absent), except the Parquet columns in `native`, which
    keep their stored type; JSON Lines add `_json_ok`."""
    present = set(header)
    native = native or {}
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        columns = ", ".join(f"{literal(h)}: 'VARCHAR'" for h in header)
        reader = (
            f"read_csv({literal(str(path))}, header = true, auto_detect = false, "
            f"encoding = {literal(encoding)}, "
            f"columns = {{{columns}}}, delim = ',', quote = '\"', escape = '\"', "
            f"store_rejects = true, rejects_table = '{scan}_rejects', "
            f"rejects_scan = '{scan}_scans')"
        )
        cols = [
            f"{quote(c.name)}" if c.name in present else f"NULL::VARCHAR AS {quote(c.name)}"
            for c in contract.columns
        ]
        return f"SELECT row_number() OVER () AS _ordinal, {', '.join(cols)} FROM {reader}"
    if suffix in PARQUET_SUFFIXES:
        cols = [
            quote(c.name) if c.name in native
            else f"CAST({quote(c.name)} AS VARCHAR) AS {quote(c.name)}"
            if c.name in present
            else f"NULL::VARCHAR AS {quote(c.name)}"
            for c in contract.columns
        ]
        return (
            f"SELECT file_row_number + 1 AS _ordinal, {', '.join(cols)} "
            f"FROM read_parquet({literal(str(path))}, file_row_number = true)"
        )
    cols = [
        f"CASE WHEN {_JSON_OBJECT} THEN _line ->> {literal(c.name)} END AS {quote(c.name)}"
        for c in contract.columns
    ]
    return (
        f"SELECT _source_row AS _ordinal, {_JSON_OBJECT} AS _json_ok, "
        f"{', '.join(cols)} FROM ({_jsonl_lines(path)})"
    )


def _native_expr(col: Column, stored: str, source_tz: str) -> tuple[str, list[str]]:
    """`_typed_expr` for a Parquet column read in its stored type (`native_type`): no text to
    parse, so a value is missing only when NULL and bad only when it does not fit the contract's
    type (an integer or decimal out of range, a float that is not a number)."""
    v = quote(col.name)
    t = quote(f"__typed_{col.name}")
    reasons: list[str] = []
    if col.type is ColumnType.TIMESTAMP:
        if stored == TZ_TIMESTAMP or source_tz in UTC_NAMES:
            expr = f"CAST({v} AS TIMESTAMPTZ)"  # naive values are UTC in the UTC session
        else:
            expr = f"timezone({literal(source_tz)}, CAST({v} AS TIMESTAMP))"
    else:
        target = "BIGINT" if col.type is ColumnType.INTEGER else "DECIMAL(18, 2)"
        expr = f"try_cast({v} AS {target})"
        if stored in FLOAT_TYPES:
            # A float with more than two decimals is rounded as written (its shortest text),
            # as a CSV value is: casting the binary value would round 1310.715 down.
            expr = (f"CASE WHEN {v} = round({v}, 2) THEN {expr} "
                    f"ELSE try_cast(CAST({v} AS VARCHAR) AS {target}) END")
        kind = "bad_integer" if col.type is ColumnType.INTEGER else "bad_decimal"
        reasons.append(f"CASE WHEN {v} IS NOT NULL AND {t} IS NULL THEN '{kind}:{col.name}' END")
    if col.required:
        reasons.append(f"CASE WHEN {v} IS NULL THEN 'missing_required:{col.name}' END")
    return expr, reasons


def _typed_expr(col: Column, source_tz: str) -> tuple[str, list[str]]:
    """(typed SQL expression over the text column, [SQL yielding a reason code or NULL]).

    The reason expressions refer to the text value by the column's name and to the typed value
    as `"__typed_<name>"`, so each value is parsed once (see `typed_select`)."""
    v = quote(col.name)
    t = quote(f"__typed_{col.name}")
    blank = f"(nullif(trim({v}), '') IS NULL)"
    reasons: list[str] = []
    if col.type is ColumnType.ID:
        expr = f"nullif(trim({v}), '')"
    elif col.type is ColumnType.TEXT:
        expr = f"nullif({v}, '')"
    elif col.type is ColumnType.ENUM:
        expr = f"nullif(lower(trim({v})), '')"
        allowed = ", ".join(literal(x) for x in col.values)
        reasons.append(f"CASE WHEN {t} NOT IN ({allowed}) THEN 'invalid_value:{col.name}' END")
    elif col.type is ColumnType.TIMESTAMP:
        text = f"trim({v})"
        if source_tz in UTC_NAMES:
            # The session is UTC, so naive text casts as UTC and an offset is honoured.
            expr = f"try_cast({text} AS TIMESTAMPTZ)"
        else:
            expr = (
                f"CASE WHEN regexp_matches({text}, {literal(OFFSET_PATTERN)}) "
                f"THEN try_cast({text} AS TIMESTAMPTZ) "
                f"ELSE timezone({literal(source_tz)}, try_cast({text} AS TIMESTAMP)) END"
            )
        reasons.append(f"CASE WHEN NOT {blank} AND {t} IS NULL THEN 'bad_timestamp:{col.name}' END")
    elif col.type is ColumnType.DECIMAL:
        expr = f"try_cast(trim({v}) AS DECIMAL(18, 2))"
        reasons.append(f"CASE WHEN NOT {blank} AND {t} IS NULL THEN 'bad_decimal:{col.name}' END")
    else:
        expr = f"try_cast(trim({v}) AS BIGINT)"
        reasons.append(f"CASE WHEN NOT {blank} AND {t} IS NULL THEN 'bad_integer:{col.name}' END")
    if col.required:
        reasons.append(f"CASE WHEN {blank} THEN 'missing_required:{col.name}' END")
    return expr, reasons


def typed_select(
    contract: Contract,
    source: str,
    source_tz: str,
    loaded_at: dt.datetime,
    extra_reasons: tuple[str, ...] = (),
    native: Mapping[str, str] | None = None,
) -> str:
    """SQL typing a text source (`_ordinal` + contract columns as text) by the contract; the
    columns in `native` (name -> DuckDB type, see `native_type`) come typed already.

    Gives `_ordinal`, every contract column in its SQL type, `_reasons` (reason codes joined by
    ';', empty for a row that loads), `_defects` (reason codes of a do-not-contact row that loads
    anyway, failing closed; empty otherwise) and `_raw_record` (the text values as JSON, for
    rejected and defective rows only). Three layers, so every value is parsed once: typed values
    beside the text, then the reasons, then the output columns.
    """
    dnc = contract.do_not_contact
    native = native or {}
    stamp = f"{literal(loaded_at.isoformat())}::TIMESTAMPTZ"
    typed: list[str] = []
    # Reasons that always quarantine, and those a do-not-contact row carries as defects.
    hard: list[str] = list(extra_reasons)
    if contract.any_of:
        blanks = " AND ".join(f"nullif(trim({quote(c)}), '') IS NULL" for c in contract.any_of)
        hard.append(f"CASE WHEN {blanks} THEN 'missing_any_of:{'|'.join(contract.any_of)}' END")
    soft: list[str] = []
    outputs: list[str] = []
    for col in contract.columns:
        t = quote(f"__typed_{col.name}")
        expr, col_reasons = (_native_expr(col, native[col.name], source_tz)
                             if col.name in native else _typed_expr(col, source_tz))
        typed.append(f"({expr})::{col.sql_type} AS {t}")
        future = f"{t} > {stamp}" if col.name in contract.no_future else None
        if future:
            col_reasons.append(f"CASE WHEN {future} THEN 'future_timestamp:{col.name}' END")
        (hard if dnc is None or col.name in dnc.identity else soft).extend(col_reasons)
        outputs.append(f"{_fail_closed_value(col, dnc, t, stamp, future, col.name in native)} "
                       f"AS {quote(col.name)}")
    if dnc is None:
        fail_closed = "false"
    elif dnc.grant is None:
        fail_closed = "true"
    else:
        column, value = dnc.grant
        fail_closed = f"NOT coalesce({quote(f'__typed_{column}')} = {literal(value)}, false)"
    # The values as delivered (as text, also for the native columns), for the bad rows only.
    raw_record = "to_json(struct_pack(" + ", ".join(
        f"{quote(c.name)} := CAST({quote(c.name)} AS VARCHAR)" if c.name in native
        else f"{quote(c.name)} := {quote(c.name)}" for c in contract.columns
    ) + "))::VARCHAR"
    return (
        f"SELECT _ordinal, {', '.join(outputs)}, _reasons, _defects, "
        f"CASE WHEN _reasons <> '' OR _defects <> '' THEN {raw_record} END AS _raw_record "
        "FROM (SELECT *, "
        "CASE WHEN __fail_closed AND __hard = '' THEN '' "
        "ELSE concat_ws(';', nullif(__hard, ''), nullif(__soft, '')) END AS _reasons, "
        "CASE WHEN __fail_closed AND __hard = '' THEN __soft ELSE '' END AS _defects "
        f"FROM (SELECT *, {fail_closed} AS __fail_closed, "
        f"concat_ws(';', {', '.join(hard) or 'NULL'}) AS __hard, "
        f"concat_ws(';', {', '.join(soft) or 'NULL'}) AS __soft "
        f"FROM (SELECT *, {', '.join(typed)} FROM ({source}))))"
    )


def _fail_closed_value(
    col: Column, dnc: DoNotContact | None, typed: str, stamp: str, future: str | None,
    native: bool = False,
) -> str:
    """The stored value of a column: its typed value, or for a do-not-contact row the value
    that keeps it blocking (the load time for a flawed timestamp, the `unreadable` value for
    an enum outside the list)."""
    if dnc is None or col.name in dnc.identity:
        return typed
    fallbacks = dict(dnc.unreadable)
    if col.type is ColumnType.TIMESTAMP:
        delivered = (f"{quote(col.name)} IS NOT NULL" if native
                     else f"nullif(trim({quote(col.name)}), '') IS NOT NULL")
        flawed = [f"{typed} IS NULL"] if col.required else [
            f"({typed} IS NULL AND {delivered})"
        ]
        flawed += [future] if future else []
        return f"CASE WHEN __fail_closed AND ({' OR '.join(flawed)}) THEN {stamp} ELSE {typed} END"
    if col.name in fallbacks:
        allowed = ", ".join(literal(x) for x in col.values)
        fallback = fallbacks[col.name]
        value = "NULL" if fallback is None else literal(fallback)
        return (
            f"CASE WHEN __fail_closed AND ({typed} IS NULL OR {typed} NOT IN ({allowed})) "
            f"THEN {value}::{col.sql_type} ELSE {typed} END"
        )
    return typed


def check_header(path: Path, name: str, header: list[str], contract: Contract) -> list[str]:
    dupes = sorted(h for h, n in Counter(header).items() if n > 1)
    if dupes:
        raise IngestError(f"{name}: duplicate header column(s) {dupes}. Fix the export.")
    missing = [c for c in contract.required_columns if c not in header]
    if missing and path.suffix.lower() not in JSONL_SUFFIXES:
        raise IngestError(
            f"{name}: required column(s) {missing} missing from the header "
            f"(found {header}). The {contract.entity} contract needs "
            f"{list(contract.required_columns)}; rename the columns and deliver the file again."
        )
    return missing


def scan_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    name: str,
    header: list[str],
    contract: Contract,
    source_tz: str,
    loaded_at: dt.datetime,
    scan: str,
    encoding: str,
) -> str | None:
    """Type the file into temp table `scan` (column `_source_row`); for CSV, the malformed
    records land in `<scan>_bad`. Returns the SQL of the malformed-record quarantine rows."""
    is_csv = path.suffix.lower() in CSV_SUFFIXES
    is_json = path.suffix.lower() in JSONL_SUFFIXES
    extra = ("CASE WHEN NOT _json_ok THEN 'malformed_json' END",) if is_json else ()
    try:
        native = (parquet_native_columns(con, path, contract)
                  if path.suffix.lower() in PARQUET_SUFFIXES else {})
        select = typed_select(
            contract, _source_select(path, header, contract, scan, encoding, native),
            source_tz, loaded_at, extra, native,
        )
        con.execute(f"CREATE OR REPLACE TEMP TABLE {scan}_typed AS {select}")
    except duckdb.InvalidInputException as exc:
        if "unicode" in str(exc).lower() or "utf" in str(exc).lower():
            raise _not_utf8(name, encoding) from None
        # DuckDB's message can quote row content, so it is not passed on.
        raise IngestError(
            f"{name}: unreadable as {path.suffix} ({type(exc).__name__}). Check that "
            "the file is complete and in the format its name says."
        ) from None
    if not is_csv:
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {scan} AS "
            f"SELECT _ordinal AS _source_row, * EXCLUDE (_ordinal) FROM {scan}_typed"
        )
        return None
    # Structurally malformed lines (column count, unterminated quote) land in DuckDB's reject
    # table; good rows are numbered among themselves, so map them back to record numbers:
    # a good row's record number is its ordinal plus the number of bad records before it.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {scan}_bad AS SELECT line - 1 AS record, "
        f"row_number() OVER (ORDER BY line) AS k, error_type, csv_line FROM ("
        f"SELECT line, min(error_type::VARCHAR) AS error_type, min(csv_line) AS csv_line "
        f"FROM {scan}_rejects GROUP BY line)"
    )
    if con.execute(f"SELECT count(*) FROM {scan}_bad").fetchone()[0] == 0:
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {scan} AS "
            f"SELECT _ordinal AS _source_row, * EXCLUDE (_ordinal) FROM {scan}_typed"
        )
    else:
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {scan} AS "
            f"SELECT t._ordinal + coalesce(b.k, 0) AS _source_row, t.* EXCLUDE (_ordinal) "
            f"FROM {scan}_typed t ASOF LEFT JOIN (SELECT record - k + 1 AS first_ordinal, "
            f"max(k) AS k FROM {scan}_bad GROUP BY ALL) b ON t._ordinal >= b.first_ordinal "
            "ORDER BY _source_row"
        )
    return (
        f"SELECT record AS source_row, 'malformed_row:' || lower(replace(error_type, ' ', '_')) "
        f"AS reason, csv_line AS raw_record FROM {scan}_bad"
    )


def read_unloaded_rows(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    landing_dir: Path,
    table: str,
    loaded_sha256: Collection[str],
    *,
    source_tz: str = "UTC",
    encoding: str = "utf-8",
    read_at: dt.datetime | None = None,
    hash_cache: str = HASH_CACHE,
) -> int:
    """Create `table` (contract columns) holding the rows that would load (`_reasons` empty,
    do-not-contact rows with defects included, failing closed as of `read_at`) from every
    complete file of the entity's folder whose content is not in `loaded_sha256`; an absent
    folder gives an empty table. A file that cannot be read (header, encoding, format) raises
    IngestError. Returns the row count. Files are hashed through the cache table `hash_cache`
    (read only: `con` may hold the warehouse read-only)."""
    read_at = read_at or dt.datetime.now(dt.UTC)
    column_defs = ", ".join(f"{quote(c.name)} {c.sql_type}" for c in contract.columns)
    con.execute(f"CREATE OR REPLACE TABLE {table} ({column_defs})")
    folder = landing_dir / contract.entity
    if not folder.is_dir():
        return 0
    scan = "_read_scan"
    columns = ", ".join(quote(c) for c in contract.column_names)
    files = landing_files(folder)[0]
    for path, (sha256, _) in zip(files, landing_sha256s(con, files, cache=hash_cache,
                                                        record=False), strict=True):
        if sha256 in loaded_sha256:
            continue
        name = str(path.relative_to(landing_dir))
        if path.stat().st_size == 0:
            raise IngestError(f"{name}: the file is empty. Remove or replace it.")
        header = read_header(path, name, con, encoding)
        check_header(path, name, header, contract)
        try:
            scan_file(con, path, name, header, contract, source_tz, read_at, scan, encoding)
            con.execute(f"INSERT INTO {table} SELECT {columns} FROM {scan} WHERE _reasons = ''")
        finally:
            drop_scan(con, scan)
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def drop_scan(con: duckdb.DuckDBPyConnection, scan: str) -> None:
    """Drop the temp objects `scan_file` made for `scan`."""
    con.execute(f"DROP VIEW IF EXISTS {scan}")
    for suffix in ("_typed", "_bad", "_rejects", "_scans"):
        con.execute(f"DROP TABLE IF EXISTS {scan}{suffix}")

"""Load landing files into the warehouse's `raw` schema, typed by contract, losing no row.

Every data row of every file ends up either in `raw.<entity>` (with lineage columns
`_source_file`, `_source_row`, `_loaded_at`) or in `raw.quarantine` with a reason code, and the
counts are reconciled before anything is committed. The heavy lifting (parsing, typing) runs in
DuckDB; Python only inspects headers, hashes files and builds SQL.

Exactly once: `raw.ingest_ledger` records the SHA-256 of every file loaded. A file whose content
is already in the ledger (under any name) is skipped and reported. Each new file is appended in
its own transaction: its rows, its quarantine rows and its ledger entry commit together or not
at all, so a crash or a failing file leaves nothing behind and the file can be delivered again.
A file under an already-loaded name with different content is a new delivery: its rows are
appended with the lineage name `<name>@<n>` (its n-th delivery), and the versions of a record
are resolved downstream by `updated_at` (ties: the later lineage name wins).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from orchestration.lib.contracts import CONTRACTS, Column, ColumnType, Contract

CSV_SUFFIXES = {".csv"}
PARQUET_SUFFIXES = {".parquet"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
IN_FLIGHT_SUFFIXES = {".tmp", ".part", ".partial", ".crdownload"}
OFFSET_PATTERN = r"(Z|z|[+-]\d{2}(:?\d{2})?)$"
# CASE keeps DuckDB from evaluating json_type on text that is not JSON (which raises).
_JSON_OBJECT = "CASE WHEN json_valid(_line) THEN json_type(_line) = 'OBJECT' ELSE false END"
_HASH_CHUNK = 1 << 20
# CSV encodings a source may declare (DuckDB reads these natively) -> Python codec for headers.
CSV_ENCODINGS = {"utf-8": "utf-8-sig", "utf-16": "utf-16", "latin-1": "latin-1"}
UTC_NAMES = {"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Zulu", "Etc/Zulu", "Universal"}

QUARANTINE_DDL = """
CREATE TABLE IF NOT EXISTS raw.quarantine (
    entity VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    source_row BIGINT,
    reason VARCHAR NOT NULL,
    raw_record VARCHAR,
    loaded_at TIMESTAMPTZ NOT NULL
)
"""

LEDGER_DDL = """
CREATE TABLE IF NOT EXISTS raw.ingest_ledger (
    entity VARCHAR NOT NULL,
    sha256 VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    file_bytes BIGINT NOT NULL,
    rows_read BIGINT NOT NULL,
    rows_loaded BIGINT NOT NULL,
    rows_quarantined BIGINT NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (entity, sha256)
)
"""


class IngestError(ValueError):
    """A landing file cannot be loaded. Messages name the file and rule, never row values."""


@dataclass
class FileReport:
    source_file: str
    sha256: str = ""
    rows_read: int = 0
    loaded: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    duplicate_keys: int = 0
    extra_columns: tuple[str, ...] = ()
    missing_optional_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class SkippedFile:
    """A complete file whose content was loaded before (perhaps under another name)."""

    source_file: str
    sha256: str
    loaded_as: str


@dataclass
class EntityReport:
    entity: str
    folder_present: bool
    files: list[FileReport] = field(default_factory=list)
    skipped_already_loaded: list[SkippedFile] = field(default_factory=list)
    skipped_in_flight: list[str] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def loaded(self) -> int:
        return sum(f.loaded for f in self.files)

    @property
    def duplicate_keys(self) -> int:
        return sum(f.duplicate_keys for f in self.files)

    @property
    def quarantined(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for f in self.files:
            total.update(f.quarantined)
        return total


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


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


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _not_utf8(name: str, encoding: str) -> IngestError:
    entity = name.split("/", 1)[0]
    return IngestError(
        f"{name}: not valid {encoding.upper()} text. Re-export the file as UTF-8, or declare "
        f"its encoding with WINBACK_{entity.upper()}_ENCODING ({', '.join(CSV_ENCODINGS)})."
    )


def _read_header(
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
        f"FROM read_csv({_literal(str(path))}, columns = {{'_line': 'VARCHAR'}}, header = false, "
        "delim = '\x1e', quote = '', escape = '', auto_detect = false)) "
        "WHERE trim(coalesce(_line, '')) <> ''"
    )


def _source_select(
    path: Path, header: list[str], contract: Contract, scan: str, encoding: str = "utf-8"
) -> str:
    """SQL giving `_ordinal` (the record number, for CSV among readable records) plus every
    contract column as text (NULL when absent); JSON Lines add `_json_ok`."""
    present = set(header)
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        columns = ", ".join(f"{_literal(h)}: 'VARCHAR'" for h in header)
        reader = (
            f"read_csv({_literal(str(path))}, header = true, auto_detect = false, "
            f"encoding = {_literal(encoding)}, "
            f"columns = {{{columns}}}, delim = ',', quote = '\"', escape = '\"', "
            f"store_rejects = true, rejects_table = '{scan}_rejects', "
            f"rejects_scan = '{scan}_scans')"
        )
        cols = [
            f"{_quote(c.name)}" if c.name in present else f"NULL::VARCHAR AS {_quote(c.name)}"
            for c in contract.columns
        ]
        return f"SELECT row_number() OVER () AS _ordinal, {', '.join(cols)} FROM {reader}"
    if suffix in PARQUET_SUFFIXES:
        cols = [
            f"CAST({_quote(c.name)} AS VARCHAR) AS {_quote(c.name)}"
            if c.name in present
            else f"NULL::VARCHAR AS {_quote(c.name)}"
            for c in contract.columns
        ]
        return (
            f"SELECT file_row_number + 1 AS _ordinal, {', '.join(cols)} "
            f"FROM read_parquet({_literal(str(path))}, file_row_number = true)"
        )
    cols = [
        f"CASE WHEN {_JSON_OBJECT} THEN _line ->> {_literal(c.name)} END AS {_quote(c.name)}"
        for c in contract.columns
    ]
    return (
        f"SELECT _source_row AS _ordinal, {_JSON_OBJECT} AS _json_ok, "
        f"{', '.join(cols)} FROM ({_jsonl_lines(path)})"
    )


def _typed_expr(col: Column, source_tz: str) -> tuple[str, list[str]]:
    """(typed SQL expression over the text column, [SQL yielding a reason code or NULL]).

    The reason expressions refer to the text value by the column's name and to the typed value
    as `"__typed_<name>"`, so each value is parsed once (see `typed_select`)."""
    v = _quote(col.name)
    t = _quote(f"__typed_{col.name}")
    blank = f"(nullif(trim({v}), '') IS NULL)"
    reasons: list[str] = []
    if col.type is ColumnType.ID:
        expr = f"nullif(trim({v}), '')"
    elif col.type is ColumnType.TEXT:
        expr = f"nullif({v}, '')"
    elif col.type is ColumnType.ENUM:
        expr = f"nullif(lower(trim({v})), '')"
        allowed = ", ".join(_literal(x) for x in col.values)
        reasons.append(f"CASE WHEN {t} NOT IN ({allowed}) THEN 'invalid_value:{col.name}' END")
    elif col.type is ColumnType.TIMESTAMP:
        text = f"trim({v})"
        if source_tz in UTC_NAMES:
            # The session is UTC, so naive text casts as UTC and an offset is honoured.
            expr = f"try_cast({text} AS TIMESTAMPTZ)"
        else:
            expr = (
                f"CASE WHEN regexp_matches({text}, {_literal(OFFSET_PATTERN)}) "
                f"THEN try_cast({text} AS TIMESTAMPTZ) "
                f"ELSE timezone({_literal(source_tz)}, try_cast({text} AS TIMESTAMP)) END"
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


def ensure_raw_tables(con: duckdb.DuckDBPyConnection, contract: Contract) -> None:
    """Create the raw schema, quarantine, ledger and the entity's append-only table if absent."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute(QUARANTINE_DDL)
    raw_tables = {
        r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw' "
            "AND database_name = current_database()"
        ).fetchall()
    }
    if "ingest_ledger" not in raw_tables:
        # Warehouses from before the ledger rebuilt raw.<entity> from every file on each run.
        # Those rows are not in any ledger: clear them once so the files load through it.
        con.execute("BEGIN TRANSACTION")
        for entity in sorted(raw_tables & set(CONTRACTS)):
            con.execute(f"DELETE FROM raw.{_quote(entity)}")
        con.execute("DELETE FROM raw.quarantine")
        con.execute(LEDGER_DDL)
        con.execute("COMMIT")
    column_defs = ", ".join(f"{_quote(c.name)} {c.sql_type}" for c in contract.columns)
    con.execute(
        f"CREATE TABLE IF NOT EXISTS raw.{_quote(contract.entity)} ({column_defs}, "
        "_source_file VARCHAR NOT NULL, _source_row BIGINT NOT NULL, "
        "_loaded_at TIMESTAMPTZ NOT NULL)"
    )


def typed_select(
    contract: Contract,
    source: str,
    source_tz: str,
    loaded_at: dt.datetime,
    extra_reasons: tuple[str, ...] = (),
) -> str:
    """SQL typing a text source (`_ordinal` + contract columns as text) by the contract.

    Gives `_ordinal`, every contract column in its SQL type, `_reasons` (reason codes joined by
    ';', empty for a good row) and `_raw_record` (the text values as JSON, for rejected rows only).
    Three layers, so every value is parsed once: typed values beside the text, then the reasons,
    then the output columns.
    """
    typed: list[str] = []
    reasons: list[str] = list(extra_reasons)
    for col in contract.columns:
        expr, col_reasons = _typed_expr(col, source_tz)
        typed.append(f"({expr})::{col.sql_type} AS {_quote(f'__typed_{col.name}')}")
        reasons.extend(col_reasons)
        if col.name in contract.no_future:
            reasons.append(
                f"CASE WHEN {_quote(f'__typed_{col.name}')} > "
                f"{_literal(loaded_at.isoformat())}::TIMESTAMPTZ "
                f"THEN 'future_timestamp:{col.name}' END"
            )
    raw_record = "to_json(struct_pack(" + ", ".join(
        f"{_quote(c.name)} := {_quote(c.name)}" for c in contract.columns
    ) + "))::VARCHAR"
    outputs = ", ".join(
        f"{_quote(f'__typed_{c.name}')} AS {_quote(c.name)}" for c in contract.columns
    )
    return (
        f"SELECT _ordinal, {outputs}, _reasons, "
        f"CASE WHEN _reasons <> '' THEN {raw_record} END AS _raw_record FROM ("
        f"SELECT *, concat_ws(';', {', '.join(reasons)}) AS _reasons "
        f"FROM (SELECT *, {', '.join(typed)} FROM ({source})))"
    )


def _lineage_name(con: duckdb.DuckDBPyConnection, entity: str, name: str) -> str:
    """`name` for its first delivery, `name@<n>` (zero-padded, so later sorts last) after."""
    earlier = con.execute(
        "SELECT count(*) FROM raw.ingest_ledger WHERE entity = ? "
        "AND (source_file = ? OR starts_with(source_file, ?))",
        [entity, name, name + "@"],
    ).fetchone()[0]
    return name if earlier == 0 else f"{name}@{earlier + 1:04d}"


def _check_header(path: Path, name: str, header: list[str], contract: Contract) -> list[str]:
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


def _scan_file(
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
    select = typed_select(
        contract, _source_select(path, header, contract, scan, encoding), source_tz, loaded_at,
        extra,
    )
    try:
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


def count_duplicate_keys(
    con: duckdb.DuckDBPyConnection, contract: Contract, new_rows: str
) -> int:
    """Rows among `new_rows` (good rows only) whose key was seen before: earlier in the same
    rows or already in `raw.<entity>`. Each is a further version resolved downstream."""
    key = ", ".join(_quote(k) for k in contract.key)
    within, distinct = con.execute(
        f"SELECT count(*), count(DISTINCT ({key})) FROM {new_rows}"
    ).fetchone()
    already = con.execute(
        f"SELECT count(*) FROM (SELECT DISTINCT {key} FROM {new_rows}) n "
        f"SEMI JOIN raw.{_quote(contract.entity)} r USING ({key})"
    ).fetchone()[0]
    return within - distinct + already


def _load_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    relative_name: str,
    sha256: str,
    signature: tuple[int, int],
    contract: Contract,
    *,
    source_tz: str,
    max_reject_share: float,
    loaded_at: dt.datetime,
    encoding: str,
) -> FileReport:
    """Append one new file: rows, quarantine rows and its ledger entry in one transaction."""
    if path.stat().st_size == 0:
        raise IngestError(f"{relative_name}: the file is empty. Remove or replace it.")
    header = _read_header(path, relative_name, con, encoding)
    missing = _check_header(path, relative_name, header, contract)
    lineage = _lineage_name(con, contract.entity, relative_name)
    report = FileReport(
        lineage,
        sha256=sha256,
        extra_columns=tuple(sorted(set(header) - set(contract.column_names))),
        missing_optional_columns=tuple(
            c for c in contract.column_names if c not in header and c not in missing
        ),
    )
    scan = "_scan"
    entity = _quote(contract.entity)
    stamp = f"{_literal(loaded_at.isoformat())}::TIMESTAMPTZ"
    con.execute("BEGIN TRANSACTION")
    try:
        malformed = _scan_file(
            con, path, relative_name, header, contract, source_tz, loaded_at, scan, encoding
        )
        report.rows_read = con.execute(f"SELECT count(*) FROM {scan}").fetchone()[0] + (
            con.execute(f"SELECT count(*) FROM {scan}_bad").fetchone()[0] if malformed else 0
        )
        quarantine_selects = [
            f"SELECT _source_row, _reasons, _raw_record FROM {scan} WHERE _reasons <> ''"
        ] + ([malformed] if malformed else [])
        everything_rejected = " UNION ALL ".join(quarantine_selects)
        report.quarantined.update(dict(con.execute(
            f"SELECT split_part(_reasons, ';', 1), count(*) FROM ({everything_rejected}) "
            "GROUP BY ALL ORDER BY 1"
        ).fetchall()))
        bad = sum(report.quarantined.values())
        if report.rows_read and bad / report.rows_read > max_reject_share:
            raise IngestError(
                f"{relative_name}: {bad} of {report.rows_read} rows rejected "
                f"({bad / report.rows_read:.1%}, limit {max_reject_share:.0%}; reasons "
                f"{dict(sorted(report.quarantined.items()))}). Nothing from this file was loaded; "
                "fix the file and deliver it again, or raise WINBACK_MAX_REJECT_SHARE."
            )
        report.duplicate_keys = count_duplicate_keys(
            con, contract, f"(SELECT * FROM {scan} WHERE _reasons = '')"
        )
        stored_bad = con.execute(
            f"INSERT INTO raw.quarantine SELECT {_literal(contract.entity)}, "
            f"{_literal(lineage)}, q.*, {stamp} FROM ({everything_rejected}) q"
        ).fetchone()[0]
        columns = ", ".join(_quote(c) for c in contract.column_names)
        report.loaded = con.execute(
            f"INSERT INTO raw.{entity} SELECT {columns}, {_literal(lineage)}, _source_row, "
            f"{stamp} FROM {scan} WHERE _reasons = ''"
        ).fetchone()[0]
        if report.loaded + stored_bad != report.rows_read:
            raise IngestError(
                f"{relative_name}: {report.rows_read} rows read but {report.loaded} loaded and "
                f"{stored_bad} quarantined; nothing was loaded."
            )
        now = path.stat()
        if (now.st_size, now.st_mtime_ns) != signature:
            raise IngestError(
                f"{relative_name}: the file changed while it was loading; nothing was loaded. "
                "Deliver files under a .tmp or .part name and rename them when complete."
            )
        con.execute(
            "INSERT INTO raw.ingest_ledger VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [contract.entity, sha256, lineage, now.st_size, report.rows_read,
             report.loaded, stored_bad, loaded_at],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.execute(f"DROP VIEW IF EXISTS {scan}")
        for suffix in ("_typed", "_bad", "_rejects", "_scans"):
            con.execute(f"DROP TABLE IF EXISTS {scan}{suffix}")
    return report


def already_loaded(
    con: duckdb.DuckDBPyConnection, entity: str, sha256: str
) -> str | None:
    """The lineage name under which this content was loaded, or None."""
    row = con.execute(
        "SELECT source_file FROM raw.ingest_ledger WHERE entity = ? AND sha256 = ?",
        [entity, sha256],
    ).fetchone()
    return row[0] if row else None


def load_entity(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    landing_dir: Path,
    *,
    source_tz: str = "UTC",
    max_reject_share: float = 0.05,
    loaded_at: dt.datetime | None = None,
    encoding: str = "utf-8",
) -> EntityReport:
    """Append every complete file of the entity's folder not loaded before, each in its own
    transaction. Files that fail (header, encoding, reject share) publish nothing and are not
    recorded; the others still load, then one IngestError lists every failure."""
    loaded_at = loaded_at or dt.datetime.now(dt.UTC).replace(microsecond=0)
    folder = landing_dir / contract.entity
    report = EntityReport(contract.entity, folder_present=folder.is_dir())
    if not report.folder_present and contract.required_entity:
        raise IngestError(
            f"Required input folder {folder} is missing. Put the {contract.entity} files there "
            f"(columns: {', '.join(contract.column_names)}) or set WINBACK_LANDING_DIR."
        )
    files, in_flight = landing_files(folder) if report.folder_present else ([], [])
    report.skipped_in_flight = [str(p.relative_to(landing_dir)) for p in in_flight]
    if report.folder_present and not files and contract.required_entity:
        raise IngestError(f"Required input folder {folder} holds no .csv, .parquet or .jsonl file.")

    con.execute("SET TimeZone = 'UTC'")
    ensure_raw_tables(con, contract)
    failures: list[str] = []
    for path in files:
        relative = str(path.relative_to(landing_dir))
        before = path.stat()
        sha256 = file_sha256(path)
        loaded_as = already_loaded(con, contract.entity, sha256)
        if loaded_as is not None:
            report.skipped_already_loaded.append(SkippedFile(relative, sha256, loaded_as))
            continue
        try:
            report.files.append(
                _load_file(
                    con, path, relative, sha256, (before.st_size, before.st_mtime_ns), contract,
                    source_tz=source_tz,
                    max_reject_share=max_reject_share, loaded_at=loaded_at, encoding=encoding,
                )
            )
        except IngestError as exc:
            failures.append(str(exc))
    if failures:
        raise IngestError("\n".join(failures))
    return report


def reconcile_run(
    con: duckdb.DuckDBPyConnection, entity: str, loaded_at: dt.datetime
) -> tuple[int, int]:
    """(rows in `raw.<entity>`, rows in quarantine) stored by the run stamped `loaded_at`."""
    stored = con.execute(
        f"SELECT count(*) FROM raw.{_quote(entity)} WHERE _loaded_at = ?", [loaded_at]
    ).fetchall()[0][0]
    quarantined = con.execute(
        "SELECT count(*) FROM raw.quarantine WHERE entity = ? AND loaded_at = ?",
        [entity, loaded_at],
    ).fetchall()[0][0]
    return stored, quarantined

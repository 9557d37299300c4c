"""Load landing files into the warehouse's `raw` schema, typed by contract, losing no row.

Every data row of every file ends up either in `raw.<entity>` (with lineage columns
`_source_file`, `_source_row`, `_loaded_at`) or in `raw.quarantine` with a reason code, and the
counts are reconciled before anything is committed. The heavy lifting (parsing, typing) runs in
DuckDB; Python only inspects headers and builds SQL.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from orchestration.lib.contracts import Column, ColumnType, Contract

CSV_SUFFIXES = {".csv"}
PARQUET_SUFFIXES = {".parquet"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
IN_FLIGHT_SUFFIXES = {".tmp", ".part", ".partial", ".crdownload"}
OFFSET_PATTERN = r"(Z|z|[+-]\d{2}(:?\d{2})?)$"
# CASE keeps DuckDB from evaluating json_type on text that is not JSON (which raises).
_JSON_OBJECT = "CASE WHEN json_valid(_line) THEN json_type(_line) = 'OBJECT' ELSE false END"

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


class IngestError(ValueError):
    """A landing file cannot be loaded. Messages name the file and rule, never row values."""


@dataclass
class FileReport:
    source_file: str
    rows_read: int = 0
    loaded: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    extra_columns: tuple[str, ...] = ()
    missing_optional_columns: tuple[str, ...] = ()


@dataclass
class EntityReport:
    entity: str
    folder_present: bool
    files: list[FileReport] = field(default_factory=list)
    skipped_in_flight: list[str] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def loaded(self) -> int:
        return sum(f.loaded for f in self.files)

    @property
    def quarantined(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for f in self.files:
            total.update(f.quarantined)
        return total


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


def _read_header(path: Path, name: str, con: duckdb.DuckDBPyConnection) -> list[str]:
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        try:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                header = next(csv.reader(handle), None)
        except UnicodeDecodeError as exc:
            raise IngestError(f"{name}: not valid UTF-8 text. Re-export the file as UTF-8.") from None
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


def _source_select(path: Path, header: list[str], contract: Contract, scan: str) -> str:
    """SQL giving `_source_row` plus every contract column as text (NULL when absent)."""
    present = set(header)
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        columns = ", ".join(f"{_literal(h)}: 'VARCHAR'" for h in header)
        reader = (
            f"read_csv({_literal(str(path))}, header = true, auto_detect = false, "
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
            f"SELECT file_row_number + 1 AS _source_row, {', '.join(cols)} "
            f"FROM read_parquet({_literal(str(path))}, file_row_number = true)"
        )
    cols = [
        f"CASE WHEN {_JSON_OBJECT} THEN _line ->> {_literal(c.name)} END AS {_quote(c.name)}"
        for c in contract.columns
    ]
    return (
        f"SELECT _source_row, {_JSON_OBJECT} AS _json_ok, "
        f"{', '.join(cols)} FROM ({_jsonl_lines(path)})"
    )


def _typed_expr(col: Column, source_tz: str) -> tuple[str, list[str]]:
    """(typed SQL expression, [SQL yielding a reason code or NULL]) for one text column."""
    v = _quote(col.name)
    blank = f"(nullif(trim({v}), '') IS NULL)"
    reasons: list[str] = []
    if col.type is ColumnType.ID:
        expr = f"nullif(trim({v}), '')"
    elif col.type is ColumnType.TEXT:
        expr = f"nullif({v}, '')"
    elif col.type is ColumnType.ENUM:
        expr = f"nullif(lower(trim({v})), '')"
        allowed = ", ".join(_literal(x) for x in col.values)
        reasons.append(
            f"CASE WHEN NOT {blank} AND {expr} NOT IN ({allowed}) "
            f"THEN 'invalid_value:{col.name}' END"
        )
    elif col.type is ColumnType.TIMESTAMP:
        t = f"trim({v})"
        expr = (
            f"CASE WHEN regexp_matches({t}, {_literal(OFFSET_PATTERN)}) "
            f"THEN try_cast({t} AS TIMESTAMPTZ) "
            f"ELSE timezone({_literal(source_tz)}, try_cast({t} AS TIMESTAMP)) END"
        )
        reasons.append(f"CASE WHEN NOT {blank} AND ({expr}) IS NULL THEN 'bad_timestamp:{col.name}' END")
    elif col.type is ColumnType.DECIMAL:
        expr = f"try_cast(trim({v}) AS DECIMAL(18, 2))"
        reasons.append(f"CASE WHEN NOT {blank} AND {expr} IS NULL THEN 'bad_decimal:{col.name}' END")
    else:
        expr = f"try_cast(trim({v}) AS BIGINT)"
        reasons.append(f"CASE WHEN NOT {blank} AND {expr} IS NULL THEN 'bad_integer:{col.name}' END")
    if col.required:
        reasons.append(f"CASE WHEN {blank} THEN 'missing_required:{col.name}' END")
    return expr, reasons


def _load_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    relative_name: str,
    contract: Contract,
    source_tz: str,
    loaded_at: dt.datetime,
    scan_no: int,
) -> FileReport:
    if path.stat().st_size == 0:
        raise IngestError(f"{relative_name}: the file is empty. Remove or replace it.")
    header = _read_header(path, relative_name, con)
    dupes = sorted(h for h, n in Counter(header).items() if n > 1)
    if dupes:
        raise IngestError(f"{relative_name}: duplicate header column(s) {dupes}. Fix the export.")
    missing = [c for c in contract.required_columns if c not in header]
    if missing and path.suffix.lower() not in JSONL_SUFFIXES:
        raise IngestError(
            f"{relative_name}: required column(s) {missing} missing from the header "
            f"(found {header}). The {contract.entity} contract needs "
            f"{list(contract.required_columns)}; rename the columns and deliver the file again."
        )
    report = FileReport(
        relative_name,
        extra_columns=tuple(sorted(set(header) - set(contract.column_names))),
        missing_optional_columns=tuple(
            c for c in contract.column_names if c not in header and c not in missing
        ),
    )
    scan = f"_scan{scan_no}"
    is_csv = path.suffix.lower() in CSV_SUFFIXES
    is_json = path.suffix.lower() in JSONL_SUFFIXES
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {scan} AS "
            f"{_source_select(path, header, contract, scan)}"
        )
    except duckdb.InvalidInputException as exc:
        if "unicode" in str(exc).lower() or "utf" in str(exc).lower():
            raise IngestError(
                f"{relative_name}: not valid UTF-8 text. Re-export the file as UTF-8."
            ) from None
        # DuckDB's message can quote row content, so it is not passed on.
        raise IngestError(
            f"{relative_name}: unreadable as {path.suffix} ({type(exc).__name__}). Check that "
            "the file is complete and in the format its name says."
        ) from None

    quarantine_rows: list[str] = []
    if is_csv:
        # Structurally malformed lines (column count, unterminated quote) land in DuckDB's reject
        # table; good rows are numbered among themselves, so map them back to record numbers.
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {scan}_bad AS SELECT line - 1 AS record, "
            f"row_number() OVER (ORDER BY line) AS k, error_type, csv_line FROM ("
            f"SELECT line, min(error_type::VARCHAR) AS error_type, min(csv_line) AS csv_line "
            f"FROM {scan}_rejects GROUP BY line)"
        )
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {scan}_numbered AS SELECT s.* EXCLUDE (_ordinal), "
            f"s._ordinal + (SELECT count(*) FROM {scan}_bad b WHERE b.record - b.k + 1 <= "
            f"s._ordinal) AS _source_row FROM {scan} s"
        )
        quarantine_rows.append(
            f"SELECT record AS source_row, 'malformed_row:' || lower(replace(error_type, ' ', '_')) "
            f"AS reason, csv_line AS raw_record FROM {scan}_bad"
        )
        source = f"{scan}_numbered"
    else:
        source = scan

    typed: list[str] = []
    reason_exprs: list[str] = ["CASE WHEN NOT _json_ok THEN 'malformed_json' END"] if is_json else []
    for col in contract.columns:
        expr, reasons = _typed_expr(col, source_tz)
        typed.append(f"({expr})::{col.sql_type} AS {_quote(col.name)}")
        reason_exprs.extend(reasons)
        if col.name in contract.no_future:
            reason_exprs.append(
                f"CASE WHEN ({expr}) > {_literal(loaded_at.isoformat())}::TIMESTAMPTZ "
                f"THEN 'future_timestamp:{col.name}' END"
            )
    raw_record = "to_json(struct_pack(" + ", ".join(
        f"{_quote(c.name)} := {_quote(c.name)}" for c in contract.columns
    ) + "))::VARCHAR"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {scan}_typed AS SELECT _source_row, "
        f"{raw_record} AS _raw_record, {', '.join(typed)}, "
        f"list_filter([{', '.join(reason_exprs)}], lambda r: r IS NOT NULL) AS _reasons FROM {source}"
    )
    quarantine_rows.append(
        f"SELECT _source_row, array_to_string(_reasons, ';'), _raw_record "
        f"FROM {scan}_typed WHERE len(_reasons) > 0"
    )
    for select in quarantine_rows:
        con.execute(
            f"INSERT INTO _quarantine_batch SELECT {_literal(contract.entity)}, "
            f"{_literal(relative_name)}, q.*, {_literal(loaded_at.isoformat())}::TIMESTAMPTZ "
            f"FROM ({select}) q"
        )
    columns = ", ".join(_quote(c) for c in contract.column_names)
    con.execute(
        f"INSERT INTO _load_batch SELECT {columns}, {_literal(relative_name)}, _source_row, "
        f"{_literal(loaded_at.isoformat())}::TIMESTAMPTZ FROM {scan}_typed WHERE len(_reasons) = 0"
    )
    report.loaded = con.execute(
        f"SELECT count(*) FROM {scan}_typed WHERE len(_reasons) = 0"
    ).fetchone()[0]
    for reason, n in con.execute(
        f"SELECT split_part(reason, ';', 1), count(*) FROM _quarantine_batch "
        f"WHERE source_file = {_literal(relative_name)} GROUP BY ALL ORDER BY 1"
    ).fetchall():
        report.quarantined[reason] = n
    malformed = (
        con.execute(f"SELECT count(*) FROM {scan}_bad").fetchone()[0] if is_csv else 0
    )
    report.rows_read = con.execute(f"SELECT count(*) FROM {scan}_typed").fetchone()[0] + malformed
    if report.loaded + sum(report.quarantined.values()) != report.rows_read:
        raise IngestError(
            f"{relative_name}: {report.rows_read} rows read but {report.loaded} loaded and "
            f"{sum(report.quarantined.values())} quarantined; nothing was loaded."
        )
    for suffix in ("", "_bad", "_numbered", "_typed", "_rejects", "_scans"):
        con.execute(f"DROP TABLE IF EXISTS {scan}{suffix}")
    return report


def load_entity(
    con: duckdb.DuckDBPyConnection,
    contract: Contract,
    landing_dir: Path,
    *,
    source_tz: str = "UTC",
    max_reject_share: float = 0.05,
    loaded_at: dt.datetime | None = None,
) -> EntityReport:
    """Replace `raw.<entity>` and its quarantine rows from every file in the entity's folder.

    One transaction: either the whole entity publishes with reconciled counts, or nothing changes.
    """
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

    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute(QUARANTINE_DDL)
    column_defs = ", ".join(f"{_quote(c.name)} {c.sql_type}" for c in contract.columns)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _load_batch ({column_defs}, _source_file VARCHAR, "
            "_source_row BIGINT, _loaded_at TIMESTAMPTZ)"
        )
        con.execute("CREATE OR REPLACE TEMP TABLE _quarantine_batch AS FROM raw.quarantine LIMIT 0")
        for n, path in enumerate(files):
            relative = str(path.relative_to(landing_dir))
            file_report = _load_file(
                con, path, relative, contract, source_tz, loaded_at, n
            )
            bad = sum(file_report.quarantined.values())
            if file_report.rows_read and bad / file_report.rows_read > max_reject_share:
                raise IngestError(
                    f"{relative}: {bad} of {file_report.rows_read} rows rejected "
                    f"({bad / file_report.rows_read:.1%}, limit {max_reject_share:.0%}; reasons "
                    f"{dict(file_report.quarantined)}). Nothing from {contract.entity} was loaded; "
                    "fix the file or raise WINBACK_MAX_REJECT_SHARE."
                )
            report.files.append(file_report)
        con.execute(
            f"CREATE OR REPLACE TABLE raw.{_quote(contract.entity)} AS "
            "SELECT * FROM _load_batch ORDER BY _source_file, _source_row"
        )
        con.execute("DELETE FROM raw.quarantine WHERE entity = ?", [contract.entity])
        con.execute("INSERT INTO raw.quarantine SELECT * FROM _quarantine_batch")
        stored = con.execute(f"SELECT count(*) FROM raw.{_quote(contract.entity)}").fetchone()[0]
        quarantined = con.execute(
            "SELECT count(*) FROM raw.quarantine WHERE entity = ?", [contract.entity]
        ).fetchone()[0]
        if stored + quarantined != report.rows_read:
            raise IngestError(
                f"{contract.entity}: {report.rows_read} rows read but {stored} loaded and "
                f"{quarantined} quarantined; nothing was committed."
            )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.execute("DROP TABLE IF EXISTS _load_batch")
        con.execute("DROP TABLE IF EXISTS _quarantine_batch")
    return report

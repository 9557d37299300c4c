"""One audience's files for one platform and as-of date: the import file (split at the
platform's limits), the adds and removes since the previous export, and the manifest, last.

Layout: <export_dir>/<audience>/<platform>/<as_of>/
    <audience>.csv | <audience>-001.csv ...         who is in the audience (treatment only)
    <audience>_adds.csv                              rows not in the previous export
    <audience>_removes.csv                           identifier columns of rows that left
    manifest.json                                    rows and sha256 per part, definition, run

The delta compares the files themselves (DuckDB scans the previous export's parts as listed in
its manifest), on the platform's identifier columns, so it needs no other state and works on
hashed files too. The previous export is the newest complete one (with a manifest) dated
before this one: a rerun of a date compares with the same predecessor and is byte-identical.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb

from orchestration.defs.activation.atomic_files import (
    WrittenFile,
    publish_folder,
    staging_folder,
    sweep_staging,
    write_csv_parts,
    write_manifest,
)
from orchestration.defs.activation.platforms import Limits, Platform

MANIFEST_NAME = "manifest.json"
STAGING_DIR = ".staging"
FETCH_ROWS = 10_000


@dataclass(frozen=True)
class ExportResult:
    folder: Path
    files: list[WrittenFile]
    adds: list[WrittenFile]
    removes: list[WrittenFile]
    previous_as_of: str | None
    manifest: dict[str, Any] = field(repr=False)
    published_as: Path | None = None

    def published(self) -> ExportResult:
        """The same result with paths in the published folder."""
        folder = self.published_as or self.folder

        def moved(group: list[WrittenFile]) -> list[WrittenFile]:
            return [replace(f, path=folder / f.path.name) for f in group]

        return ExportResult(folder, moved(self.files), moved(self.adds), moved(self.removes),
                            self.previous_as_of, self.manifest)

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def added(self) -> int:
        return sum(f.rows for f in self.adds)

    @property
    def removed(self) -> int:
        return sum(f.rows for f in self.removes)


@dataclass(frozen=True)
class PreviousExport:
    as_of: str
    files: list[Path]
    columns: list[str]


def previous_export(platform_dir: Path, as_of: dt.date) -> PreviousExport | None:
    """The newest complete export (with a manifest) dated before `as_of`."""
    if not platform_dir.is_dir():
        return None
    dated = []
    for folder in platform_dir.iterdir():
        try:
            day = dt.date.fromisoformat(folder.name)
        except ValueError:
            continue
        if day < as_of and (folder / MANIFEST_NAME).is_file():
            dated.append(day)
    if not dated:
        return None
    folder = platform_dir / max(dated).isoformat()
    manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    return PreviousExport(folder.name, [folder / f["name"] for f in manifest["files"]],
                          manifest["columns"])


def _scan(paths: Sequence[Path], header: Sequence[str]) -> str:
    files = ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths)
    columns = ", ".join(f"'{c}': 'VARCHAR'" for c in header)
    # Every cell as text exactly as written; no sniffing, quoted newlines allowed.
    return (
        f"read_csv([{files}], header = true, auto_detect = false, columns = {{{columns}}}, "
        "delim = ',', quote = '\"', escape = '\"', strict_mode = false)"
    )


def _quoted(columns: Sequence[str]) -> list[str]:
    return ['"' + c.replace('"', '""') + '"' for c in columns]


def _stream(con: duckdb.DuckDBPyConnection, sql: str) -> Iterator[tuple]:
    cursor = con.cursor()
    cursor.execute(sql)
    try:
        while batch := cursor.fetchmany(FETCH_ROWS):
            yield from batch
    finally:
        cursor.close()


def export_audience(
    export_dir: Path,
    *,
    audience: str,
    platform: Platform,
    limits: Limits,
    as_of: dt.date,
    members: Iterable[Mapping[str, Any]],
    definition: Mapping[str, Any],
    source_run: str,
    extra: Mapping[str, Any] | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
    removal_reason_sql: str | None = None,
) -> ExportResult:
    """Write the import file, deltas and manifest (last) for one audience and platform.

    `members` must come ordered (the sync model's order), so files are deterministic.
    `definition` (e.g. the audience definition hash and config version) and `extra` (counts
    with no personal data) go into the manifest as they are. `source_run` is the run that
    first wrote these exact files: a rerun that writes identical files keeps the earlier id,
    so the manifest stays byte-identical.

    `con` is a DuckDB connection to run the comparison on (default: a fresh in-memory one);
    with `removal_reason_sql`, an SQL expression over the previous row `o` evaluated on `con`,
    the removes file gets a `removal_reason` column and the manifest counts by reason."""
    platform_dir = export_dir / audience / platform.name
    folder = platform_dir / as_of.isoformat()
    staging = export_dir / STAGING_DIR
    sweep_staging(staging)
    staged = staging_folder(staging)
    try:
        result = _write_folder(staged, folder, audience=audience, platform=platform,
                               limits=limits, as_of=as_of, members=members,
                               definition=definition, source_run=source_run, extra=extra,
                               con=con, removal_reason_sql=removal_reason_sql)
        publish_folder(staged, folder)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return result.published()


def _write_folder(
    staged: Path,
    folder: Path,
    *,
    audience: str,
    platform: Platform,
    limits: Limits,
    as_of: dt.date,
    members: Iterable[Mapping[str, Any]],
    definition: Mapping[str, Any],
    source_run: str,
    extra: Mapping[str, Any] | None,
    con: duckdb.DuckDBPyConnection | None,
    removal_reason_sql: str | None,
) -> ExportResult:
    platform_dir = folder.parent
    split = {"max_rows": limits.max_rows, "max_bytes": limits.max_bytes}
    files = write_csv_parts(staged, audience, platform.header,
                            (platform.row(m) for m in members), **split)
    previous = previous_export(platform_dir, as_of)
    own = con is None
    con = duckdb.connect(":memory:") if con is None else con
    reasons: Counter[str] = Counter()
    removes_header = tuple(platform.identifiers)
    if removal_reason_sql:
        removes_header += ("removal_reason",)
    try:
        current_scan = _scan([f.path for f in files], platform.header)
        key = _quoted(platform.identifiers)
        if previous is None:
            adds_sql = f"SELECT * FROM {current_scan} ORDER BY {', '.join(key)}"
            removes_sql = None
        else:
            # Read by the previous file's own header: personalisation fields may have changed.
            previous_scan = _scan(previous.files, previous.columns)
            match = " AND ".join(f"o.{k} IS NOT DISTINCT FROM n.{k}" for k in key)
            adds_sql = (
                f"SELECT * FROM {current_scan} AS n WHERE NOT EXISTS "
                f"(SELECT 1 FROM {previous_scan} AS o WHERE {match}) "
                f"ORDER BY {', '.join('n.' + k for k in key)}"
            )
            reason = f", {removal_reason_sql} AS removal_reason" if removal_reason_sql else ""
            removes_sql = (
                f"SELECT DISTINCT {', '.join('o.' + k for k in key)}{reason} "
                f"FROM {previous_scan} AS o "
                f"WHERE NOT EXISTS (SELECT 1 FROM {current_scan} AS n WHERE {match}) "
                f"ORDER BY {', '.join('o.' + k for k in key)}"
            )
        adds = write_csv_parts(staged, f"{audience}_adds", platform.header,
                               _stream(con, adds_sql), **split)
        def removed_rows() -> Iterator[tuple]:
            if removes_sql is None:
                return
            for row in _stream(con, removes_sql):
                if removal_reason_sql:
                    reasons[row[-1]] += 1
                yield row

        removes = write_csv_parts(staged, f"{audience}_removes", removes_header,
                                  removed_rows(), **split)
    finally:
        if own:
            con.close()

    body: dict[str, Any] = {
        "audience": audience,
        "platform": platform.name,
        "as_of_date": as_of.isoformat(),
        **dict(definition),
        "columns": list(platform.header),
        "identifier_columns": list(platform.identifiers),
        "hashed": platform.hashed,
        "limits": limits.as_manifest(),
        "rows": sum(f.rows for f in files),
        "files": [f.as_manifest() for f in files],
        "previous_export_as_of": previous.as_of if previous else None,
        "adds": {"rows": sum(f.rows for f in adds), "files": [f.as_manifest() for f in adds]},
        "removes": {"rows": sum(f.rows for f in removes),
                    "files": [f.as_manifest() for f in removes],
                    **({"by_reason": dict(sorted(reasons.items()))} if removal_reason_sql
                       else {})},
        "warnings": (["below_min_rows"] if limits.min_rows
                     and sum(f.rows for f in files) < limits.min_rows else []),
        **dict(extra or {}),
    }
    body["source_run"] = _source_run(folder / MANIFEST_NAME, body, source_run)
    write_manifest(staged / MANIFEST_NAME, body)
    return ExportResult(staged, files, adds, removes, body["previous_export_as_of"], body,
                        published_as=folder)


def _source_run(manifest_path: Path, body: Mapping[str, Any], run_id: str) -> str:
    if manifest_path.is_file():
        try:
            old = json.loads(manifest_path.read_text(encoding="utf-8"))
        except ValueError:
            return run_id
        if {k: v for k, v in old.items() if k != "source_run"} == body:
            return old.get("source_run", run_id)
    return run_id


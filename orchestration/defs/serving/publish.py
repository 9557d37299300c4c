"""The serving publication: the marts readers use, as Parquet files and a DuckDB file that DuckDB
1.x can open, with a manifest, swapped in as a whole after each successful run.

Layout of WINBACK_SERVING_DIR:

    publications/<publication id>/winback.duckdb        one table per served mart
    publications/<publication id>/parquet/<schema>.<table>.parquet
    publications/<publication id>/manifest.json         written last: tables, rows, sha256, columns
    current -> publications/<publication id>             swapped by one rename
    winback.duckdb -> current/winback.duckdb             the stable path BI tools point at

Readers never open the warehouse, so they can never block a run (DuckDB lets no other process
open a file it writes). A publication is built complete under a temp name, then `current` is
replaced by renaming a new symlink over it: a reader resolves either the previous complete
publication or the new one. A symlink swap was chosen over renameat2 folder exchange (as the
export folders use) because readers hold files open for a long time: with versioned folders the
previous publication stays intact on disk for a reader that resolved it before the swap, and
pruning keeps it until the next publication. A DuckDB connection keeps its open file even after
the folder is pruned (Linux keeps unlinked open files).

What is published comes from the dbt manifest, declared once beside each model: a model with
`meta: {serving: true}` is published; with `personal: true` as well only when personal data is
configured (WINBACK_SERVING_PERSONAL_DATA); a column with `meta: {personal: true}` is left out
unless personal data is configured. Any other column whose name looks personal stops the
publication, so a new personal column cannot slip into the default set untagged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from orchestration.lib.warehouse import release

# duckdb 2.0 writes files DuckDB 1.x cannot read unless it is told the older storage format;
# v1.0.0 is read by every DuckDB from 1.0 on (checked with duckdb 1.1.3).
STORAGE_VERSION = "v1.0.0"
DATABASE = "winback.duckdb"
MANIFEST = "manifest.json"
PARQUET = "parquet"
PUBLICATIONS = "publications"
CURRENT = "current"
TEMP_PREFIX = ".tmp-"
MANIFEST_VERSION = 1
# (file, folder) modes: readable by the BI tools' users, or owner-only like the export files
# when the publication holds personal data.
SHARED_MODES = (0o644, 0o755)
PERSONAL_MODES = (0o600, 0o700)

# Names that hold contact data or identify a person; they must carry `personal: true`. Flags
# (is_contactable_email, has_...) say something about the value without holding it.
PERSONAL_NAME = re.compile(
    r"^(?!is_|has_)(.*_)?(email|phone|first_name|last_name|full_name|postal_code|zip_code|address|"
    r"date_of_birth)(_normalized|_e164|_raw|_extension)?$"
)


class ServingConfigError(ValueError):
    """The dbt manifest declares something the serving publication must not publish."""


@dataclass(frozen=True)
class ServedColumn:
    name: str
    description: str


@dataclass(frozen=True)
class ServedTable:
    schema: str
    name: str
    description: str
    columns: tuple[ServedColumn, ...]

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class Publication:
    id: str
    path: Path
    tables: int
    rows: int
    bytes: int
    personal_data: bool


def _meta(node: Mapping[str, Any]) -> dict[str, Any]:
    return {**node.get("meta", {}), **node.get("config", {}).get("meta", {})}


def served_tables(manifest: Mapping[str, Any], *, personal_data: bool) -> list[ServedTable]:
    """The tables and columns to publish, from the meta of the dbt models, sorted by name."""
    tables = []
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or not _meta(node).get("serving"):
            continue
        if _meta(node).get("personal") and not personal_data:
            continue
        columns = []
        for column in node["columns"].values():
            personal = bool(_meta(column).get("personal"))
            if not personal and PERSONAL_NAME.search(column["name"].lower()):
                raise ServingConfigError(
                    f"dbt model {node['name']}: column {column['name']} looks personal but has no "
                    "`meta: {personal: true}`; tag it (or rename it) in the model's yml"
                )
            if personal and not personal_data:
                continue
            columns.append(ServedColumn(column["name"], column.get("description", "")))
        if not columns:
            raise ServingConfigError(
                f"dbt model {node['name']} has `serving: true` but no documented columns")
        tables.append(ServedTable(node["schema"], node["alias"], node.get("description", ""),
                                  tuple(columns)))
    return sorted(tables, key=lambda t: t.qualified)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _identifier(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _sweep(folder: Path) -> None:
    """Remove temp folders and links left by writers that were killed (their pid is gone)."""
    for stale in folder.glob(f"{TEMP_PREFIX}*"):
        pid = stale.name.removeprefix(TEMP_PREFIX).split("-", 1)[0]
        if not pid.isdigit() or not _alive(int(pid)):
            _remove(stale)


def _write_tables(warehouse: Path, folder: Path, tables: Iterable[ServedTable]) -> list[dict]:
    """Copy each served table into `folder`'s DuckDB file and a Parquet file; their entries."""
    entries = []
    release(warehouse)  # a run's kept connection would hold the file (lib/warehouse.py)
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH {_quote(str(warehouse))} AS warehouse (READ_ONLY)")
        con.execute(f"ATTACH {_quote(str(folder / DATABASE))} AS serving "
                    f"(STORAGE_VERSION {_quote(STORAGE_VERSION)})")
        for table in tables:
            schema, name = _identifier(table.schema), _identifier(table.name)
            target = f"serving.{schema}.{name}"
            columns = ", ".join(_identifier(c.name) for c in table.columns)
            con.execute(f"CREATE SCHEMA IF NOT EXISTS serving.{schema}")
            con.execute(f"CREATE TABLE {target} AS SELECT {columns} FROM warehouse.{schema}.{name}")
            con.execute(f"COMMENT ON TABLE {target} IS {_quote(table.description)}")
            for column in table.columns:
                con.execute(f"COMMENT ON COLUMN {target}.{_identifier(column.name)} "
                            f"IS {_quote(column.description)}")
            parquet = folder / PARQUET / f"{table.qualified}.parquet"
            con.execute(f"COPY {target} TO {_quote(str(parquet))} (FORMAT parquet)")
            (rows,) = con.execute(f"SELECT count(*) FROM {target}").fetchone()
            types = dict(con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_catalog = 'serving' AND table_schema = ? AND table_name = ?",
                [table.schema, table.name]).fetchall())
            entries.append({
                "schema": table.schema,
                "name": table.name,
                "description": table.description,
                "rows": rows,
                "parquet": {"path": f"{PARQUET}/{parquet.name}", "sha256": _sha256(parquet),
                            "bytes": parquet.stat().st_size},
                "columns": [{"name": c.name, "type": types[c.name], "description": c.description}
                            for c in table.columns],
            })
        con.execute("DETACH serving")
    finally:
        con.close()
    return entries


def _swap_current(serving_dir: Path, publication_id: str) -> str | None:
    """Point `current` at the publication with one rename; returns the id it pointed at."""
    current = serving_dir / CURRENT
    previous = os.readlink(current).rsplit("/", 1)[-1] if current.is_symlink() else None
    link = serving_dir / f"{TEMP_PREFIX}{os.getpid()}-{CURRENT}"
    link.unlink(missing_ok=True)
    link.symlink_to(f"{PUBLICATIONS}/{publication_id}")
    os.replace(link, current)
    stable = serving_dir / DATABASE
    if not stable.is_symlink() or os.readlink(stable) != f"{CURRENT}/{DATABASE}":
        # First publication, or a serving folder from before publications (a plain file there).
        link = serving_dir / f"{TEMP_PREFIX}{os.getpid()}-{DATABASE}"
        link.unlink(missing_ok=True)
        link.symlink_to(f"{CURRENT}/{DATABASE}")
        os.replace(link, stable)
    _fsync(serving_dir)
    return previous


def _prune(publications: Path, keep: set[str]) -> None:
    for folder in publications.iterdir():
        if folder.name not in keep and not folder.name.startswith(TEMP_PREFIX):
            _remove(folder)


def publish(
    warehouse: Path,
    serving_dir: Path,
    tables: list[ServedTable],
    *,
    as_of: dt.date,
    run_id: str,
    personal_data: bool,
    now: dt.datetime | None = None,
) -> Publication:
    """Publish `tables` of `warehouse` as a new publication in `serving_dir`, make it current,
    and remove every older publication but the one it replaces."""
    now = now or dt.datetime.now(dt.UTC)
    publication_id = f"{now:%Y%m%dT%H%M%S%fZ}-{run_id[:8]}"
    publications = serving_dir / PUBLICATIONS
    publications.mkdir(parents=True, exist_ok=True)
    _sweep(publications)
    _sweep(serving_dir)
    staged = publications / f"{TEMP_PREFIX}{os.getpid()}-{publication_id}"
    # Owner-only while it is written; opened up (or not) once complete.
    staged.mkdir(mode=PERSONAL_MODES[1])
    (staged / PARQUET).mkdir(mode=PERSONAL_MODES[1])
    try:
        entries = _write_tables(warehouse, staged, tables)
        database = staged / DATABASE
        manifest = {
            "manifest_version": MANIFEST_VERSION,
            "publication_id": publication_id,
            "run_id": run_id,
            "as_of_date": as_of.isoformat(),
            "published_at": now.isoformat(timespec="seconds"),
            "personal_data": personal_data,
            "database": {"path": DATABASE, "storage_version": STORAGE_VERSION,
                         "sha256": _sha256(database), "bytes": database.stat().st_size},
            "tables": entries,
        }
        (staged / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        file_mode, folder_mode = PERSONAL_MODES if personal_data else SHARED_MODES
        for path in (*(staged / PARQUET).iterdir(), database, staged / MANIFEST):
            os.chmod(path, file_mode)
            _fsync(path)
        for folder in (staged / PARQUET, staged):
            os.chmod(folder, folder_mode)
            _fsync(folder)
        final = publications / publication_id
        os.rename(staged, final)
        _fsync(publications)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    previous = _swap_current(serving_dir, publication_id)
    _prune(publications, {publication_id} | ({previous} if previous else set()))
    return Publication(
        id=publication_id,
        path=final,
        tables=len(entries),
        rows=sum(e["rows"] for e in entries),
        bytes=sum(p.stat().st_size for p in final.rglob("*") if p.is_file()),
        personal_data=personal_data,
    )


def current_publication(serving_dir: Path) -> Path:
    """The folder of the current publication, resolved once: read every file of one
    publication from it (the `current` link may be swapped by the next run meanwhile)."""
    return (serving_dir / CURRENT).resolve(strict=True)


def stable_database_path(serving_dir: Path) -> Path:
    """The path BI tools and notebooks open read-only; always the newest publication."""
    return serving_dir / DATABASE

"""The serving copy: the whole warehouse copied into a DuckDB file that DuckDB 1.x can open,
written under a temp name and renamed into place.

Readers (analysts, BI tools) open the serving copy, never the warehouse, so a reader can never
block a run: DuckDB lets no process open a file while another writes it. A reader that keeps a
connection open keeps reading the complete copy it opened (the rename replaces the directory
entry, not the open file); a new connection sees the newest copy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

# duckdb 2.0 writes files DuckDB 1.x cannot read unless it is told the older storage format;
# v1.0.0 is read by every DuckDB from 1.0 on (checked with duckdb 1.1.3).
STORAGE_VERSION = "v1.0.0"
TEMP_SUFFIX = ".tmp"


@dataclass(frozen=True)
class ServingCopy:
    path: Path
    tables: int
    views: int
    bytes: int


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _identifier(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sweep(serving_dir: Path, name: str) -> None:
    """Remove temp copies left by killed writers (the pid in the name no longer runs); another
    warehouse of the same file name may be publishing to the same folder right now."""
    for stale in serving_dir.glob(f".{name}.*{TEMP_SUFFIX}"):
        pid = stale.name.removeprefix(f".{name}.").removesuffix(TEMP_SUFFIX)
        if not pid.isdigit() or not _alive(int(pid)):
            stale.unlink(missing_ok=True)


def publish_serving_copy(warehouse: Path, serving_dir: Path) -> ServingCopy:
    """Copy `warehouse` to `serving_dir/<warehouse file name>` atomically. The copy keeps the
    warehouse's file name because dbt's views name the database (the file's stem)."""
    serving_dir.mkdir(parents=True, exist_ok=True)
    _sweep(serving_dir, warehouse.name)
    target = serving_dir / warehouse.name
    temp = serving_dir / f".{warehouse.name}.{os.getpid()}{TEMP_SUFFIX}"
    try:
        con = duckdb.connect()
        try:
            con.execute(f"ATTACH {_quote(str(warehouse))} AS {_identifier(warehouse.stem)} "
                        "(READ_ONLY)")
            con.execute(f"ATTACH {_quote(str(temp))} AS serving_copy "
                        f"(STORAGE_VERSION {_quote(STORAGE_VERSION)})")
            con.execute(f"COPY FROM DATABASE {_identifier(warehouse.stem)} TO serving_copy")
            tables, views = con.execute(
                "SELECT count(*) FILTER (WHERE table_type = 'BASE TABLE'), "
                "count(*) FILTER (WHERE table_type = 'VIEW') FROM information_schema.tables "
                "WHERE table_catalog = 'serving_copy'"
            ).fetchone()
            con.execute("DETACH serving_copy")
        finally:
            con.close()
        os.chmod(temp, warehouse.stat().st_mode & 0o777)
        with temp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, target)
        directory = os.open(serving_dir, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    finally:
        temp.unlink(missing_ok=True)
        temp.with_name(temp.name + ".wal").unlink(missing_ok=True)
    return ServingCopy(path=target, tables=tables, views=views, bytes=target.stat().st_size)

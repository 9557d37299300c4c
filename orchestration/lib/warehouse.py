"""Opening the DuckDB warehouse: UTC sessions, the configured memory limit, threads and spill
folder (WINBACK_DUCKDB_*), and a clear error when another process holds it.

Starting a DuckDB database costs ~19 ms of CPU even in memory (plus ~4 ms to read the tiny
warehouse's catalog), and a daily run opens the warehouse ~25 times in its process, one step
after another. During a run (`kept_open`, held by the run's WinbackConfig resource with the run
lock, however the run was started), the first connection
stays open as an anchor and every other connection is a cursor of it (~2 ms). The file stays
locked by the run's process meanwhile, except where something else must open it: dbt's process
and the steps that ATTACH the file to another database call `release` first, and the next
connection opens the anchor again.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from orchestration.lib.settings import DuckDBSettings, load_duckdb_settings


class WarehouseLockedError(RuntimeError):
    pass


@contextmanager
def lock_errors_named(path: Path) -> Iterator[None]:
    """DuckDB's lock error on opening or attaching `path` as WarehouseLockedError, which names
    the file and what to do."""
    try:
        yield
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise WarehouseLockedError(
                f"The warehouse {path} is in use by another process (DuckDB allows one writer). "
                "Wait for that run to finish, or stop it, then try again."
            ) from exc
        raise


# Warehouse files kept open during a run: resolved path -> anchor connection (None: kept, but
# released until the next connection).
_kept: dict[str, duckdb.DuckDBPyConnection | None] = {}
_kept_lock = threading.Lock()


def _key(path: Path) -> str:
    return str(path.resolve())


@contextmanager
def kept_open(path: Path) -> Iterator[None]:
    """While the block runs, connections to `path` in this process share one open database (a
    read-only request gets a cursor of the read-write anchor: this process is the file's only
    user then). Closed at the end of the block; a nested block leaves it to the outer one."""
    key = _key(path)
    with _kept_lock:
        if key in _kept:
            owner = False
        else:
            _kept[key] = None
            owner = True
    try:
        yield
    finally:
        if owner:
            with _kept_lock:
                anchor = _kept.pop(key, None)
            if anchor is not None:
                anchor.close()


def release(path: Path) -> None:
    """Close the kept anchor of `path` (if any) before another process (dbt) or another database
    (ATTACH) opens the file; the next `connect` in this process opens it again."""
    key = _key(path)
    with _kept_lock:
        anchor = _kept.get(key)
        if anchor is not None:
            _kept[key] = None
    if anchor is not None:
        anchor.close()


def _open(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    key = _key(path)
    with _kept_lock:
        if key not in _kept:
            anchor = None
        else:
            anchor = _kept[key]
            if anchor is None:
                with lock_errors_named(path):
                    anchor = _kept[key] = duckdb.connect(str(path))
    if anchor is not None:
        return anchor.cursor()
    with lock_errors_named(path):
        return duckdb.connect(str(path), read_only=read_only)


def connect(
    path: Path, *, read_only: bool = False, limits: DuckDBSettings | None = None
) -> duckdb.DuckDBPyConnection:
    """A session on the warehouse. `limits` default to the WINBACK_DUCKDB_* environment, which
    dbt's profile reads too, so every connection of a run shares one memory budget."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = _open(path, read_only)
    con.execute("SET TimeZone = 'UTC'")
    # SET rather than connect(config=...): DuckDB refuses a second in-process connection to the
    # same file with a different config, and callers may already hold a plain one.
    # DuckDB refuses any SET of temp_directory (even to the same folder) once a query of this
    # process has spilled there, and a second connection to the file shares that state: set only
    # what differs.
    for name, value in (limits or load_duckdb_settings(os.environ)).for_warehouse(path).items():
        if name == "temp_directory" and _setting(con, name) == value:
            continue
        quoted = value.replace("'", "''")
        con.execute(f"SET {name} = '{quoted}'")
    return con


def _setting(con: duckdb.DuckDBPyConnection, name: str) -> str:
    # fetchall, not fetchone: an unfinished result blocks the caller's next query on `con`.
    return str(con.execute("SELECT current_setting(?)", [name]).fetchall()[0][0])


@contextmanager
def open_warehouse(
    path: Path, *, read_only: bool = False, limits: DuckDBSettings | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(path, read_only=read_only, limits=limits)
    try:
        yield con
    finally:
        con.close()

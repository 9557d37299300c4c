"""Opening the DuckDB warehouse: UTC sessions, the configured memory limit, threads and spill
folder (WINBACK_DUCKDB_*), and a clear error when another process holds it."""

from __future__ import annotations

import os
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


def connect(
    path: Path, *, read_only: bool = False, limits: DuckDBSettings | None = None
) -> duckdb.DuckDBPyConnection:
    """A session on the warehouse. `limits` default to the WINBACK_DUCKDB_* environment, which
    dbt's profile reads too, so every connection of a run shares one memory budget."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with lock_errors_named(path):
        con = duckdb.connect(str(path), read_only=read_only)
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

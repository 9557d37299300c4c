"""Opening the DuckDB warehouse: UTC sessions and a clear error when another process holds it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb


class WarehouseLockedError(RuntimeError):
    pass


def connect(path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise WarehouseLockedError(
                f"The warehouse {path} is in use by another process (DuckDB allows one writer). "
                "Wait for that run to finish, or stop it, then try again."
            ) from exc
        raise
    con.execute("SET TimeZone = 'UTC'")
    return con


@contextmanager
def open_warehouse(path: Path, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(path, read_only=read_only)
    try:
        yield con
    finally:
        con.close()

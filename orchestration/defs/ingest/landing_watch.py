"""Which complete landing files hold content the warehouse has not loaded yet (for the sensor).

Hashing is the truth (the same content under a new name is not new); (size, mtime) only saves
re-hashing files already seen. Files still being written are left for a later check: in-flight
names (`.tmp`, `.part`) and files modified less than `settle_seconds` ago.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from orchestration.lib.contracts import CONTRACTS
from orchestration.lib.landing import (
    CSV_SUFFIXES,
    JSONL_SUFFIXES,
    PARQUET_SUFFIXES,
    file_sha256,
)
from orchestration.lib.warehouse import connect

LOADABLE = CSV_SUFFIXES | PARQUET_SUFFIXES | JSONL_SUFFIXES


@dataclass
class LandingScan:
    pending: dict[str, str] = field(default_factory=dict)  # relative path -> sha256, not loaded
    seen: dict[str, list] = field(default_factory=dict)  # relative path -> [size, mtime_ns, sha]
    settling: list[str] = field(default_factory=list)


def complete_files(landing_dir: Path) -> list[tuple[str, Path]]:
    """(entity, path) of every loadable file in the entity folders, in-flight names excluded."""
    found = []
    for entity in CONTRACTS:
        folder = landing_dir / entity
        if folder.is_dir():
            for path in sorted(folder.rglob("*")):
                if (
                    path.is_file()
                    and not path.name.startswith((".", "_"))
                    and path.suffix.lower() in LOADABLE
                ):
                    found.append((entity, path))
    return found


def loaded_hashes(warehouse: Path) -> set[tuple[str, str]]:
    """(entity, sha256) pairs in the ledger; empty before the first load.

    Raises WarehouseLockedError while a run is writing (DuckDB allows no second reader then).
    """
    if not warehouse.exists():
        return set()
    con = connect(warehouse, read_only=True)
    try:
        has_ledger = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'raw' "
            "AND table_name = 'ingest_ledger'"
        ).fetchall()[0][0]
        if not has_ledger:
            return set()
        rows = con.execute("SELECT entity, sha256 FROM raw.ingest_ledger").fetchall()
        return {(entity, sha) for entity, sha in rows}
    finally:
        con.close()


def scan_landing(
    landing_dir: Path,
    seen: dict[str, list],
    loaded: set[tuple[str, str]],
    *,
    now: dt.datetime,
    settle_seconds: float = 30.0,
) -> LandingScan:
    scan = LandingScan()
    for entity, path in complete_files(landing_dir):
        relative = str(path.relative_to(landing_dir))
        stat = path.stat()
        if now.timestamp() - stat.st_mtime < settle_seconds:
            scan.settling.append(relative)
            continue
        cached = seen.get(relative)
        if cached and cached[:2] == [stat.st_size, stat.st_mtime_ns]:
            sha = cached[2]
        else:
            sha = file_sha256(path)
        scan.seen[relative] = [stat.st_size, stat.st_mtime_ns, sha]
        if (entity, sha) not in loaded:
            scan.pending[relative] = sha
    return scan

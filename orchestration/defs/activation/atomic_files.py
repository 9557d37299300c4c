"""Atomic, deterministic audience files: temp file, fsync, rename; owner-only; manifest last.

Data is written to a temp file in a staging folder on the same file system (by default the
target folder itself, as a hidden file), fsynced, then renamed over the target, so a reader sees
either the previous file or the complete new one. Temp names carry the writer's process id:
`sweep_staging` removes those left by a process that died (a SIGKILL cannot clean up).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FILE_MODE = 0o600


class ExportLimitError(ValueError):
    """A single row is larger than a platform's file size limit."""


@dataclass(frozen=True)
class WrittenFile:
    path: Path
    rows: int
    sha256: str
    bytes: int

    def as_manifest(self) -> dict[str, Any]:
        return {"name": self.path.name, "rows": self.rows, "sha256": self.sha256,
                "bytes": self.bytes}


TEMP_PREFIX = ".winback-"
TEMP_SUFFIX = ".tmp"


def sweep_staging(staging: Path) -> int:
    """Remove temp files left in `staging` by writers that no longer run; returns how many."""
    removed = 0
    if not staging.is_dir():
        return removed
    for path in staging.glob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
        try:
            pid = int(path.name[len(TEMP_PREFIX):].split("-", 1)[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            path.unlink(missing_ok=True)
            removed += 1
        except (ValueError, PermissionError):
            continue
    return removed


class _PendingFile:
    """Bytes written to a temp file that gets its real name only in `commit`."""

    def __init__(self, staging: Path) -> None:
        staging.mkdir(parents=True, exist_ok=True)
        fd, self.tmp_name = tempfile.mkstemp(
            prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=TEMP_SUFFIX, dir=staging)
        os.fchmod(fd, FILE_MODE)
        self.handle = os.fdopen(fd, "wb")
        self.digest = hashlib.sha256()
        self.size = 0
        self.rows = 0

    def write(self, data: bytes) -> None:
        self.handle.write(data)
        self.digest.update(data)
        self.size += len(data)

    def commit(self, path: Path) -> WrittenFile:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.tmp_name, path)
        self.tmp_name = None
        return WrittenFile(path, self.rows, self.digest.hexdigest(), self.size)

    def discard(self) -> None:
        if not self.handle.closed:
            self.handle.close()
        if self.tmp_name is not None:
            Path(self.tmp_name).unlink(missing_ok=True)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _encode_row(row: Sequence[Any]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(["" if v is None else v for v in row])
    return buffer.getvalue().encode("utf-8")


def part_names(stem: str, parts: int) -> list[str]:
    """`<stem>.csv` for one part, `<stem>-001.csv`, `<stem>-002.csv`, ... for more."""
    if parts == 1:
        return [f"{stem}.csv"]
    return [f"{stem}-{i:03d}.csv" for i in range(1, parts + 1)]


def write_csv_parts(
    folder: Path,
    stem: str,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    max_rows: int | None = None,
    max_bytes: int | None = None,
    staging: Path | None = None,
) -> list[WrittenFile]:
    """RFC 4180 CSV (UTF-8 without BOM, CRLF), split so that each part has at most `max_rows`
    data rows and `max_bytes` bytes, each part with the header. Rows are streamed; no part is
    visible until every part is complete. An empty input still gives one header-only file."""
    header_bytes = _encode_row(header)
    pending: list[_PendingFile] = []

    def new_part() -> _PendingFile:
        part = _PendingFile(staging or folder)
        pending.append(part)
        part.write(header_bytes)
        return part

    try:
        part = new_part()
        for row in rows:
            data = _encode_row(row)
            if max_bytes is not None and len(header_bytes) + len(data) > max_bytes:
                raise ExportLimitError(f"a row of {len(data)} bytes does not fit the limit of "
                                       f"{max_bytes} bytes per file")
            full_rows = max_rows is not None and part.rows >= max_rows
            full_bytes = max_bytes is not None and part.size + len(data) > max_bytes
            if part.rows and (full_rows or full_bytes):
                part = new_part()
            part.write(data)
            part.rows += 1
        written = [
            p.commit(folder / name) for p, name in zip(pending, part_names(stem, len(pending)),
                                                       strict=True)
        ]
    except BaseException:
        for p in pending:
            p.discard()
        raise
    _fsync_folder(folder)
    return written


def write_manifest(path: Path, manifest: dict[str, Any], staging: Path | None = None) -> None:
    """Written after the files it describes, so a manifest always means a complete export."""
    part = _PendingFile(staging or path.parent)
    try:
        part.write((json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8"))
        part.commit(path)
    except BaseException:
        part.discard()
        raise
    _fsync_folder(path.parent)

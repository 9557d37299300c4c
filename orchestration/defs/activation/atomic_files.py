"""Crash-safe, deterministic export files: CSV parts and manifests, owner-only, published as a
whole folder in one atomic step.

An export folder is built complete in a staging folder on the same file system, every file and
the folder fsynced, then published with `publish_folder` (one renameat2 call), so a reader sees
either the previous complete folder or the new complete one. Staging names carry the writer's
process id: `sweep_staging` removes what a process that died left behind (a SIGKILL cannot
clean up).
"""

from __future__ import annotations

import csv
import ctypes
import errno
import functools
import hashlib
import itertools
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FILE_MODE = 0o600
FOLDER_MODE = 0o700
BATCH_ROWS = 10_000


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
    """Remove temp files and folders left in `staging` by writers that no longer run; returns
    how many."""
    removed = 0
    if not staging.is_dir():
        return removed
    for path in staging.glob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
        try:
            pid = int(path.name[len(TEMP_PREFIX):].split("-", 1)[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
            removed += 1
        except (ValueError, PermissionError):
            continue
    return removed


def staging_folder(staging: Path) -> Path:
    """A new, empty, owner-only folder in `staging` to build one export folder in."""
    staging.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=TEMP_SUFFIX,
                                 dir=staging))


# Publishing a folder: renameat2(2) with RENAME_NOREPLACE for a first export and RENAME_EXCHANGE
# for a rerun swaps the complete staged folder and the published one in one system call; the
# previous folder is then in staging under the staged name and is deleted (or swept, if the
# writer dies first). Chosen over a dated symlink to versioned folders because the dated path
# stays a real folder: upload and sync tools that do not follow symlinks, and operators deleting
# old dated folders (README), see exactly what they saw before, and no versions folder needs its
# own garbage collection. It needs Linux and a file system with renameat2 flags (ext4, xfs,
# btrfs, tmpfs, overlayfs); anything else is a clear error, never a non-atomic fallback.
AT_FDCWD = -100
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2


@contextmanager
def staged_in_transaction(con: Any, staging: Path) -> Iterator[Path]:
    """A fresh folder under `staging` (older leftovers swept) inside a transaction on the
    warehouse connection `con`: the block writes the folder and publishes it; leaving the block
    commits, an error rolls the warehouse back and deletes the staged folder."""
    sweep_staging(staging)
    staged = staging_folder(staging)
    con.begin()
    try:
        yield staged
        con.commit()
    except BaseException:
        con.rollback()
        shutil.rmtree(staged, ignore_errors=True)
        raise


@functools.cache
def _renameat2() -> Any:
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except AttributeError as exc:
        raise OSError(errno.ENOSYS, "publishing an export folder atomically needs renameat2 "
                                    "(Linux with glibc 2.28 or later)") from exc
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                         ctypes.c_uint]
    return function


def _rename(source: Path, target: Path, flags: int) -> None:
    if _renameat2()(AT_FDCWD, os.fsencode(source), AT_FDCWD, os.fsencode(target), flags) != 0:
        code = ctypes.get_errno()
        if code in (errno.EINVAL, errno.ENOSYS):
            raise OSError(code, f"the file system of {target.parent} cannot swap folders "
                                "atomically (renameat2 flags); put WINBACK_EXPORT_DIR on ext4, "
                                "xfs, btrfs or tmpfs")
        raise OSError(code, os.strerror(code), str(target))


def publish_folder(staged: Path, target: Path) -> None:
    """Make the complete folder `staged` visible as `target` in one atomic step, replacing a
    previous `target` as a whole. `staged` must be on the same file system (export_dir/.staging)."""
    target.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    _fsync_folder(staged)
    try:
        _rename(staged, target, RENAME_NOREPLACE)
    except FileExistsError:
        _rename(staged, target, RENAME_EXCHANGE)
        _fsync_folder(target.parent)
        shutil.rmtree(staged)  # the previous folder, now under the staged name
    else:
        _fsync_folder(target.parent)


class _PendingFile:
    """Bytes written to a temp file that gets its real name only in `commit`."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        fd, self.tmp_name = tempfile.mkstemp(
            prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=TEMP_SUFFIX, dir=folder)
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


def part_names(stem: str, parts: int) -> list[str]:
    """`<stem>.csv` for one part, `<stem>-001.csv`, `<stem>-002.csv`, ... for more."""
    if parts == 1:
        return [f"{stem}.csv"]
    return [f"{stem}-{i:03d}.csv" for i in range(1, parts + 1)]


class _Chunks:
    """The file-like target of the one csv.writer: collects what it writes for `_encode`."""

    def __init__(self, chunks: list[str]) -> None:
        self.write = chunks.append


def plain_csv(rows: Sequence[Sequence[Any]]) -> str | None:
    """`rows` as csv.writer writes them (CRLF) when no cell needs quoting, else None.

    Most batches have no comma, quote or line break in any cell (hashes, ids, emails, dates),
    and csv.writer then writes each row as its cells joined by commas. Joining them that way
    and counting the commas, quotes, CRs and LFs in the result checks every cell at C speed:
    a batch passes only with text cells, rows of one width of two or more (a lone empty cell
    is quoted), exactly width - 1 commas and one CRLF per row, and no quote."""
    if not rows:
        return ""
    width = len(rows[0])
    if width < 2 or any(len(row) != width for row in rows):
        return None
    try:
        text = "\r\n".join([",".join(row) for row in rows]) + "\r\n"
    except TypeError:  # a cell that is not text: csv.writer formats it
        return None
    count = len(rows)
    if (text.count(",") != count * (width - 1) or text.count("\n") != count
            or text.count("\r") != count or '"' in text):
        return None
    return text


class CsvParts:
    """RFC 4180 CSV (UTF-8 without BOM, CRLF) written in batches through one csv.writer, split
    so that each part has at most `max_rows` data rows and `max_bytes` bytes, each part with the
    header. Parts are temp files until `close`; an empty input still gives one header-only file.
    Without a byte limit a batch is encoded in one call; with one, row by row (to place it)."""

    def __init__(self, folder: Path, stem: str, header: Sequence[str], *,
                 max_rows: int | None = None, max_bytes: int | None = None) -> None:
        self.folder, self.stem = folder, stem
        self.max_rows, self.max_bytes = max_rows, max_bytes
        self._chunks: list[str] = []
        self._writer = csv.writer(_Chunks(self._chunks), lineterminator="\r\n")
        self._header = self._encode([header])
        self._pending: list[_PendingFile] = []
        self._part = self._new_part()

    def _encode(self, rows: Sequence[Sequence[Any]]) -> bytes:
        text = plain_csv(rows)
        if text is None:
            self._chunks.clear()
            self._writer.writerows(rows)
            text = "".join(self._chunks)
        return text.encode("utf-8")

    def _new_part(self) -> _PendingFile:
        part = _PendingFile(self.folder)
        self._pending.append(part)
        part.write(self._header)
        return part

    def write(self, rows: Sequence[Sequence[Any]]) -> None:
        if self.max_bytes is None:
            start = 0
            while start < len(rows):
                room = len(rows) - start
                if self.max_rows is not None:
                    room = min(room, self.max_rows - self._part.rows)
                    if room == 0:
                        self._part = self._new_part()
                        continue
                self._part.write(self._encode(rows[start:start + room]))
                self._part.rows += room
                start += room
            return
        # A batch that fits the part whole is written as one: the same bytes as row by row
        # (csv rows are independent), without encoding and measuring each row (~11 us a row).
        data = self._encode(rows)
        fits_rows = self.max_rows is None or self._part.rows + len(rows) <= self.max_rows
        if rows and fits_rows and self._part.size + len(data) <= self.max_bytes:
            self._part.write(data)
            self._part.rows += len(rows)
            return
        for row in rows:
            data = self._encode([row])
            if len(self._header) + len(data) > self.max_bytes:
                raise ExportLimitError(f"a row of {len(data)} bytes does not fit the limit of "
                                       f"{self.max_bytes} bytes per file")
            full_rows = self.max_rows is not None and self._part.rows >= self.max_rows
            full_bytes = self._part.size + len(data) > self.max_bytes
            if self._part.rows and (full_rows or full_bytes):
                self._part = self._new_part()
            self._part.write(data)
            self._part.rows += 1

    def close(self) -> list[WrittenFile]:
        names = part_names(self.stem, len(self._pending))
        written = [p.commit(self.folder / name)
                   for p, name in zip(self._pending, names, strict=True)]
        _fsync_folder(self.folder)
        return written

    def discard(self) -> None:
        for part in self._pending:
            part.discard()


def batches(rows: Iterable[Any], size: int = BATCH_ROWS) -> Iterable[list[Any]]:
    iterator = iter(rows)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def write_csv_parts(
    folder: Path,
    stem: str,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    max_rows: int | None = None,
    max_bytes: int | None = None,
) -> list[WrittenFile]:
    """Stream `rows` into `CsvParts`; no part is visible until every part is complete."""
    parts = CsvParts(folder, stem, header, max_rows=max_rows, max_bytes=max_bytes)
    try:
        for batch in batches(rows):
            parts.write(batch)
        return parts.close()
    except BaseException:
        parts.discard()
        raise


def write_manifest(path: Path, manifest: dict[str, Any]) -> WrittenFile:
    part = _PendingFile(path.parent)
    try:
        part.write((json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8"))
        written = part.commit(path)
    except BaseException:
        part.discard()
        raise
    _fsync_folder(path.parent)
    return written

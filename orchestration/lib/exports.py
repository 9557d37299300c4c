"""Atomic, deterministic audience files: temp name, fsync, rename; owner-only; manifest last."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestration.lib.contacts import FORMULA_PREFIXES

FILE_MODE = 0o600


def spreadsheet_safe(value: str | None) -> str:
    """Escape a text cell a spreadsheet would run as a formula (prefix with an apostrophe)."""
    if value is None:
        return ""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


@dataclass(frozen=True)
class WrittenFile:
    path: Path
    rows: int
    sha256: str
    bytes: int


def _atomic_write(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> WrittenFile:
    """RFC 4180 CSV, UTF-8 without BOM, CRLF line ends; None is written as an empty cell."""
    count = 0

    def _write(handle: Any) -> None:
        nonlocal count
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])
            count += 1

    _atomic_write(path, _write)
    data = path.read_bytes()
    return WrittenFile(path, count, hashlib.sha256(data).hexdigest(), len(data))


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """Written after the files it describes, so a manifest always means a complete export."""
    _atomic_write(path, lambda h: h.write(json.dumps(manifest, indent=2, sort_keys=True) + "\n"))

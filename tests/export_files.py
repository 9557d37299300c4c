"""Every export file under a folder, by its sha256, to compare two runs' exports."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def export_digests(exports: Path) -> dict[str, str]:
    """Every export file's digest by its path under `exports`; a manifest without `source_run`
    (the run that first wrote the date, which differs between two folders)."""
    files = {}
    for path in sorted(exports.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if path.name == "manifest.json":
            data = json.dumps({**json.loads(data), "source_run": None}, sort_keys=True).encode()
        files[str(path.relative_to(exports))] = hashlib.sha256(data).hexdigest()
    return files

"""What changed between two exports of the same audience and platform.

The comparison reads the previous export file itself (DuckDB scans both CSVs), so nothing about
people who left an audience, erased customers included, is kept anywhere else in the meantime.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path


MANIFEST_NAME = "manifest.json"


def previous_export(platform_dir: Path, as_of: dt.date, file_name: str) -> Path | None:
    """The file of the newest complete export (its folder has a manifest) dated before `as_of`.

    Export folders are named by as-of date; other names are ignored. Re-running a date compares
    with the same predecessor, so reruns stay byte-identical.
    """
    if not platform_dir.is_dir():
        return None
    dated: list[tuple[dt.date, Path]] = []
    for folder in platform_dir.iterdir():
        try:
            day = dt.date.fromisoformat(folder.name)
        except ValueError:
            continue
        if day < as_of and (folder / MANIFEST_NAME).is_file() and (folder / file_name).is_file():
            dated.append((day, folder / file_name))
    return max(dated)[1] if dated else None


def _scan(path: Path) -> str:
    literal = "'" + str(path).replace("'", "''") + "'"
    # Every cell as text, exactly as written; quoted newlines allowed (names may hold them).
    return (
        f"read_csv({literal}, header = true, all_varchar = true, auto_detect = true, "
        "quote = '\"', escape = '\"', strict_mode = false)"
    )


def removed_rows_sql(previous: Path, current: Path, identifiers: Sequence[str]) -> str:
    """SQL for the rows of the previous file whose identifiers (e.g. customer_id and email) do not
    occur together in the current file. Only the identifier columns are selected: a platform needs
    nothing else to delete a contact. Callers may join it (e.g. to add a reason)."""
    columns = ", ".join(f'p."{c}"' for c in identifiers)
    join = " AND ".join(f'p."{c}" IS NOT DISTINCT FROM c."{c}"' for c in identifiers)
    return (
        f"SELECT DISTINCT {columns} FROM {_scan(previous)} AS p "
        f"WHERE NOT EXISTS (SELECT 1 FROM {_scan(current)} AS c WHERE {join})"
    )

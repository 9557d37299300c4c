"""`winback backfill`: the daily job for a range of as-of dates, oldest first, one date per run,
resumable after a failure.

One writer: the caller holds the run lock for the whole backfill, so no other run (UI, schedule,
sensor) interleaves with it. Progress is a small JSON file beside the warehouse
(`<warehouse>.backfill.json`) naming the dates done so far and a fingerprint of what they were
computed with (the dates, the folders, the policies, audiences and platforms files, the scope).
A backfill that stops (a failed date, a killed process) leaves the file behind; the same
backfill started again skips the dates it lists and continues at the first one missing. A
backfill that completes removes the file, so running it again recomputes every date, which
gives the same marts and exports (each date's run is idempotent). A file left by a different
backfill is replaced: its dates say nothing about this one.

A progress file rather than Dagster's record of materialized partitions: `winback` runs without
a persistent Dagster instance too (DAGSTER_HOME unset), and a partition materialized by an
earlier run with other settings must not count as done.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from orchestration.lib.settings import Settings, SettingsError

def backfill_dates(start: dt.date, end: dt.date, every: int = 1) -> list[dt.date]:
    """`start`, then every `every` days up to and including `end`."""
    if every < 1:
        raise SettingsError(f"--every must be a positive number of days, got {every}")
    if end < start:
        raise SettingsError(f"--end {end} is before --start {start}; give the earlier date first")
    return [start + dt.timedelta(days=n) for n in range(0, (end - start).days + 1, every)]


def progress_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".backfill.json")


def fingerprint(settings: Settings, dates: Sequence[dt.date], scope: str) -> str:
    """What a backfill's finished dates were computed with; another value means start over."""
    files = [settings.policies_file, settings.audiences_file, settings.platforms_file]
    identity = {
        "dates": [d.isoformat() for d in dates],
        "scope": scope,
        "folders": [str(p) for p in (settings.landing_dir, settings.warehouse,
                                     settings.export_dir, settings.serving_dir)],
        "files": {str(p): hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else None
                  for p in files},
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def _read_done(path: Path, key: str) -> set[dt.date]:
    if not path.exists():
        return set()
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return set()
    if data.get("fingerprint") != key:
        return set()
    return {dt.date.fromisoformat(d) for d in data.get("done", [])}


def _write_done(path: Path, key: str, done: set[dt.date]) -> None:
    pending = path.with_name(f".{path.name}.{os.getpid()}")
    pending.write_text(json.dumps(
        {"fingerprint": key, "done": sorted(d.isoformat() for d in done)}, indent=1) + "\n")
    os.replace(pending, path)


def run_backfill(
    settings: Settings,
    dates: Sequence[dt.date],
    run_date: Callable[[dt.date], None],
    *,
    scope: str = "all",
    echo: Callable[[str], None] = print,
) -> list[dt.date]:
    """Call `run_date` for each of `dates` in date order, skipping those an interrupted run of
    the same backfill finished; returns the dates run. An exception from `run_date` stops the
    backfill with the dates before it recorded as done."""
    dates = sorted(set(dates))
    path = progress_path(settings.warehouse)
    key = fingerprint(settings, dates, scope)
    done = _read_done(path, key) & set(dates)
    todo = [d for d in dates if d not in done]
    if done and todo:
        echo(f"Resuming an interrupted backfill: {len(done)} of {len(dates)} dates done, "
             f"continuing at {todo[0]}")
    _write_done(path, key, done)
    ran = []
    for day in todo:
        echo(f"Backfill {dates.index(day) + 1}/{len(dates)}: {day}")
        run_date(day)
        done.add(day)
        ran.append(day)
        _write_done(path, key, done)
    path.unlink(missing_ok=True)
    return ran


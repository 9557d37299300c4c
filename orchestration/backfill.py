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
from typing import TYPE_CHECKING

from orchestration.lib.settings import Settings, SettingsError

if TYPE_CHECKING:
    import dagster as dg

# The demo's recorded history: an as-of date every four weeks over the year before the run, of
# the marts built from the recorded statuses. One such date costs 10-15 s on 2 cores (two dbt
# invocations and the BG/NBD fit on 20,000 customers), so weekly dates would add 8-12 minutes to
# a fresh clone's `make run`; thirteen add two to three.
DEMO_HISTORY_DATES = 13
DEMO_HISTORY_STEP = dt.timedelta(weeks=4)
HISTORY_MARTS = ("customer_status_history", "customer_status_transitions",
                 "customer_churn_monthly")
DEMO_HISTORY_SCOPE = "demo-history"


def backfill_dates(start: dt.date, end: dt.date, every: int = 1) -> list[dt.date]:
    """`start`, then every `every` days up to and including `end`."""
    if every < 1:
        raise SettingsError(f"--every must be a positive number of days, got {every}")
    if end < start:
        raise SettingsError(f"--end {end} is before --start {start}; give the earlier date first")
    return [start + dt.timedelta(days=n) for n in range(0, (end - start).days + 1, every)]


def demo_history_dates(as_of: dt.date) -> list[dt.date]:
    """As-of dates every four weeks over the year before `as_of` (not `as_of` itself)."""
    return [as_of - n * DEMO_HISTORY_STEP for n in range(DEMO_HISTORY_DATES, 0, -1)]


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
    echo: Callable[[str], None] = lambda line: print(line, flush=True),
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


def unfinished(settings: Settings, dates: Sequence[dt.date], scope: str = "all") -> bool:
    """Whether this backfill was started and has not completed (it failed or was killed)."""
    path = progress_path(settings.warehouse)
    if not path.exists():
        return False
    try:
        return json.loads(path.read_text()).get("fingerprint") == fingerprint(
            settings, sorted(set(dates)), scope)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False


def history_assets(asset_graph) -> list[dg.AssetKey]:
    """The date-keyed assets the status history needs for one date: the history marts and every
    model and prediction they are computed from, without the unpartitioned file loads (a past
    date reads the raw tables as they are) and without audiences, exports or the serving copy."""
    from dagster import AssetSelection

    from orchestration.defs.dbt.keys import dbt_model_key

    marts = [dbt_model_key(model) for model in HISTORY_MARTS]
    # A Python step that writes several tables (the model check) runs whole.
    selected = (AssetSelection.assets(*marts).upstream().required_multi_asset_neighbors()
                .resolve(asset_graph))
    return sorted(key for key in selected if asset_graph.get(key).is_partitioned)


def record_demo_history(
    settings: Settings,
    run_assets: Callable[[dt.date, list], None],
    echo: Callable[[str], None] = lambda line: print(line, flush=True),
) -> list[dt.date]:
    """Record the demo's status history through the backfill: as-of dates every four weeks over
    the year before `settings.as_of`, each running only `history_assets`, so the history,
    transitions and monthly churn marts show a year rather than the two dates `winback run`
    computes in full."""
    from orchestration.definitions import defs

    dates = demo_history_dates(settings.as_of)
    assets = history_assets(defs.resolve_asset_graph())
    echo(f"Recording the demo's status history: {len(dates)} dates, {dates[0]} to "
         f"{dates[-1]}, every four weeks ...")
    return run_backfill(settings, dates, lambda day: run_assets(day, assets),
                        scope=DEMO_HISTORY_SCOPE, echo=echo)


def demo_history_unfinished(settings: Settings) -> bool:
    """Whether an earlier `winback run` stopped while recording the demo's history (as of the
    same date): the next run finishes it even though the demo data already exists."""
    return unfinished(settings, demo_history_dates(settings.as_of), DEMO_HISTORY_SCOPE)

"""The run's as-of date on its way into Dagster: one rule for "yesterday" and one function that
turns a date into the daily job's run configuration (used by the CLI, the schedule, the landing
sensor and the tests). The `winback` resource turns it back into `Settings.as_of`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

RESOURCE = "winback"


def previous_day(moment: dt.datetime) -> dt.date:
    """The last complete UTC day before `moment`: what scheduled and sensor runs are as of."""
    if moment.tzinfo is None:
        raise ValueError("previous_day needs an aware datetime")
    return moment.astimezone(dt.UTC).date() - dt.timedelta(days=1)


def run_config(as_of: dt.date, **paths: Path | str) -> dict:
    """Run configuration of the daily job as of `as_of`; `paths` optionally overrides the
    resource's landing_dir, warehouse, export_dir or serving_dir for this run."""
    config = {"as_of": as_of.isoformat(), **{name: str(value) for name, value in paths.items()}}
    return {"resources": {RESOURCE: {"config": config}}}

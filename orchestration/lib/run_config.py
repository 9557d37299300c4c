"""The run's as-of date on its way into Dagster: the daily partitions, one rule for "yesterday",
one function that turns a date into a run of the daily job (used by the CLI, the backfill, the
schedule, the landing sensor and the tests) and the one reading of a run's partition back into a
date (the `winback` resource turns it into `Settings.as_of`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from orchestration.lib.settings import SettingsError

RESOURCE = "winback"

# A fixed start: every process that loads the code location (UI, daemon, CLI) must see the same
# partition set, so it cannot follow a setting; no as-of date before 2020 has been asked for.
# end_offset=1 adds the current (still incomplete) day, which `winback run` uses by default;
# the schedule and the sensor ask for the previous, complete day.
PARTITIONS_START = "2020-01-01"
daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, end_offset=1)
# Every date-keyed asset backfills one date per run: its content is computed as of one date (dbt
# reads it from meta.run_context), so a run over a range of dates would be one wrong answer.
one_date_per_run = dg.BackfillPolicy.multi_run(1)

PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


@dataclass(frozen=True)
class DailyRun:
    """What a run of the daily job as of one date needs: its partition key (the only place the
    date travels) and run configuration with any path overrides of the `winback` resource."""

    partition_key: str
    run_config: dict = field(default_factory=dict)


def previous_day(moment: dt.datetime) -> dt.date:
    """The last complete UTC day before `moment`: what scheduled and sensor runs are as of."""
    if moment.tzinfo is None:
        raise ValueError("previous_day needs an aware datetime")
    return moment.astimezone(dt.UTC).date() - dt.timedelta(days=1)


def daily_run(as_of: dt.date, **paths: Path | str) -> DailyRun:
    """The daily job as of `as_of`; `paths` optionally overrides the resource's landing_dir,
    warehouse, export_dir or serving_dir for this run."""
    key = as_of.isoformat()
    if not daily_partitions.has_partition_key(key):
        raise SettingsError(f"as-of date {as_of} is not a daily partition: they run from "
                            f"{PARTITIONS_START} through today (UTC)")
    config = {name: str(value) for name, value in paths.items()}
    return DailyRun(
        partition_key=key,
        run_config={"resources": {RESOURCE: {"config": config}}} if config else {},
    )


def run_as_of(tags: Mapping[str, str]) -> dt.date | None:
    """The as-of date of a run, from its partition tags; None for a run without a partition
    (one that materializes only unpartitioned assets, such as the ingest). A run over a range of
    dates is refused: each date's marts and exports are computed as of that one date, so a
    range runs as one run per date (the backfill policy of every partitioned asset)."""
    start, end = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    if start is not None and start != end:
        raise SettingsError(f"a run covers one as-of date, not the range {start}..{end}; "
                        "backfill the range as one run per date")
    key = tags.get(PARTITION_TAG) or start
    return dt.date.fromisoformat(key) if key else None

"""The daily job over the whole graph and its schedule (the previous day's partition)."""

import dagster as dg

from orchestration.lib.run_config import daily_run, previous_day

DAILY_JOB = "winback_daily"

winback_daily_job = dg.define_asset_job(
    DAILY_JOB,
    selection=dg.AssetSelection.all(),
    description="Ingest, check, model and export the whole pipeline as of one date (its "
    "daily partition); backfilling a range runs one date per run, in date order.",
)


@dg.schedule(job=winback_daily_job, cron_schedule="0 6 * * *", execution_timezone="UTC")
def winback_daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Every morning at 06:00 UTC, the previous day's partition (a complete day of data). Not
    build_schedule_from_partitioned_job: with the current day among the partitions (end_offset=1,
    for `winback run`), its newest partition at 06:00 would be the incomplete current day."""
    run = daily_run(previous_day(context.scheduled_execution_time))
    return dg.RunRequest(run_key=run.partition_key, partition_key=run.partition_key,
                         run_config=run.run_config)


defs = dg.Definitions(jobs=[winback_daily_job], schedules=[winback_daily_schedule])

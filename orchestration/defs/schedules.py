"""The daily job over the whole graph and its schedule (as-of = the previous day)."""

import dagster as dg

from orchestration.lib.run_config import previous_day, run_config

DAILY_JOB = "winback_daily"

winback_daily_job = dg.define_asset_job(
    DAILY_JOB,
    selection=dg.AssetSelection.all(),
    description="Ingest, check, model and export the whole pipeline as of one date.",
)


@dg.schedule(job=winback_daily_job, cron_schedule="0 6 * * *", execution_timezone="UTC")
def winback_daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Every morning at 06:00 UTC, as of the previous day (a complete day of data)."""
    as_of = previous_day(context.scheduled_execution_time)
    return dg.RunRequest(run_key=as_of.isoformat(), run_config=run_config(as_of))


defs = dg.Definitions(jobs=[winback_daily_job], schedules=[winback_daily_schedule])

"""The daily job over the whole graph and its schedule (as-of = the scheduled date)."""


import datetime as dt

import dagster as dg

winback_daily_job = dg.define_asset_job(
    "winback_daily",
    selection=dg.AssetSelection.all(),
    description="Ingest, check, model and export the whole pipeline as of one date.",
)


def as_of_run_config(as_of: str) -> dict:
    return {"resources": {"winback": {"config": {"as_of": as_of}}}}


@dg.schedule(job=winback_daily_job, cron_schedule="0 6 * * *", execution_timezone="UTC")
def winback_daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Every morning at 06:00 UTC, as of the previous day (a complete day of data)."""
    as_of = context.scheduled_execution_time.date() - dt.timedelta(days=1)
    return dg.RunRequest(run_key=as_of.isoformat(), run_config=as_of_run_config(as_of.isoformat()))


defs = dg.Definitions(jobs=[winback_daily_job], schedules=[winback_daily_schedule])

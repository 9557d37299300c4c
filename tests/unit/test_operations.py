"""The daily schedule, the alert sensor's registration and the descriptions of every check."""

import datetime as dt

import dagster as dg

from orchestration.definitions import defs
from orchestration.defs.schedules import DAILY_JOB, winback_daily_schedule


def test_the_schedule_runs_the_daily_job_at_six_utc_as_of_the_previous_day():
    assert (winback_daily_schedule.cron_schedule, winback_daily_schedule.execution_timezone) == (
        "0 6 * * *", "UTC")
    assert winback_daily_schedule.job_name == DAILY_JOB
    moment = dt.datetime(2026, 12, 1, 6, 0, tzinfo=dt.UTC)
    request = winback_daily_schedule(dg.build_schedule_context(scheduled_execution_time=moment))
    assert (request.run_key, request.partition_key) == ("2026-11-30", "2026-11-30")
    assert request.run_config == {}


def test_a_schedule_tick_just_after_midnight_elsewhere_still_uses_the_utc_day():
    moment = dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=5)))
    request = winback_daily_schedule(dg.build_schedule_context(scheduled_execution_time=moment))
    assert request.run_key == "2026-11-29"  # 2026-11-30 20:00 UTC


def test_the_run_failure_alert_runs_by_default():
    sensor = defs.resolve_sensor_def("winback_run_failure_alert")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_every_asset_check_in_the_code_location_has_a_description():
    checks = defs.resolve_asset_graph().asset_check_keys
    specs = {spec.key: spec for asset in defs.resolve_asset_graph().assets_defs
             for spec in asset.check_specs}
    assert len(checks) > 90
    missing = sorted(k.to_user_string() for k in checks if not specs[k].description)
    assert missing == []
    gx = [spec for key, spec in specs.items() if key.name.startswith("gx_")]
    assert len(gx) == 2 and all("Blocking" in spec.description for spec in gx)

"""Start the daily job when new complete files land (content not yet in the ingest ledger)."""

import datetime as dt
import hashlib
import json

import dagster as dg

from orchestration.defs.ingest.landing_watch import loaded_hashes, scan_landing
from orchestration.defs.resources import WinbackConfig
from orchestration.lib.run_config import daily_run, previous_day
from orchestration.lib.warehouse import WarehouseLockedError

# A file must be unmodified this long before it counts as complete (writers without a .tmp name).
SETTLE_SECONDS = 30


@dg.sensor(
    job_name="winback_daily",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Runs winback_daily for the previous day's partition (like the schedule) when a "
        "landing folder holds a complete file whose content the ledger has not loaded. In-flight "
        "files (.tmp, .part) and files modified in the last 30 seconds wait for a later tick."
    ),
)
def landing_files_sensor(
    context: dg.SensorEvaluationContext, winback: WinbackConfig
) -> dg.SensorResult | dg.SkipReason:
    settings = winback.settings()
    seen = json.loads(context.cursor) if context.cursor else {}
    try:
        loaded = loaded_hashes(settings.warehouse)
    except WarehouseLockedError:
        return dg.SkipReason("The warehouse is in use by a run; checking again next tick.")
    now = dt.datetime.now(dt.UTC)
    scan = scan_landing(settings.landing_dir, seen, loaded, now=now, settle_seconds=SETTLE_SECONDS)
    cursor = json.dumps(scan.seen, sort_keys=True)
    if not scan.pending:
        context.update_cursor(cursor)
        waiting = f" ({len(scan.settling)} still being written)" if scan.settling else ""
        return dg.SkipReason(f"No new landing files{waiting}.")
    # The same set of unloaded content gives the same run key, so a file that keeps failing
    # does not start a run every tick; any new or changed file gives a new key.
    run_key = hashlib.sha256("\n".join(sorted(scan.pending.values())).encode()).hexdigest()
    run = daily_run(previous_day(now))
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=run_key,
                partition_key=run.partition_key,
                run_config=run.run_config,
                tags={"winback/new_files": str(len(scan.pending))},
            )
        ],
        cursor=cursor,
    )


defs = dg.Definitions(sensors=[landing_files_sensor])

"""Somewhere for failures to go: every failed run of this code location is appended to an alert
file (JSON lines under WINBACK_ALERT_DIR) and, when WINBACK_ALERT_WEBHOOK_URL is set, posted to
that URL as JSON (a chat or incident tool's incoming webhook). Runs launched by the UI, the
schedule or the sensors are alerted by the run-failure sensor (it needs the Dagster daemon);
`winback run | backfill | export` alert on their own failures, so a cron job without a daemon
is covered too.

An alert names the run, the job, the failed steps and the first line of each error; no row
values. Winback's own errors name files, fields and rules only, and addresses or long digit runs
that a library's error might quote are masked anyway.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.definitions.freshness import FreshnessState
from dagster._utils.error import SerializableErrorInfo

from orchestration.defs.resources import WinbackConfig
from orchestration.lib.run_config import PARTITION_TAG, RANGE_START_TAG

ALERT_FILE = "run_failures.jsonl"
# Runs `winback` starts in its own process carry this tag: the command alerts on them itself.
CLI_RUN_TAG = "winback/started_by_cli"
WEBHOOK_ATTEMPTS = 3
WEBHOOK_TIMEOUT_SECONDS = 5.0
WEBHOOK_BACKOFF_SECONDS = 1.0  # 1 s, then 2 s between the three attempts
MAX_ERROR_CHARS = 300
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"\+\d[\d ()-]{6,}\d|\d{7,}")


def first_line(message: str | None) -> str:
    """The first non-empty line of an error, with email addresses and phone-like numbers masked,
    cut to a length a chat message can show."""
    line = next((s.strip() for s in (message or "").splitlines() if s.strip()), "")
    line = _PHONE.sub("<number>", _EMAIL.sub("<email>", line))
    return line[:MAX_ERROR_CHARS]


def step_error(error: SerializableErrorInfo) -> str:
    """The error the step raised, not Dagster's wrapper around it."""
    while error.cls_name.startswith("Dagster") and error.cause is not None:
        error = error.cause
    return first_line(error.message)


def failure_alert(context: dg.RunFailureSensorContext, now: dt.datetime) -> dict[str, Any]:
    run = context.dagster_run
    as_of = run.tags.get(PARTITION_TAG) or run.tags.get(RANGE_START_TAG)
    steps = [
        {"step": event.step_key, "error": step_error(event.event_specific_data.error)}
        for event in context.get_step_failure_events()
    ]
    return {
        "alert": "run_failure",
        "at": now.isoformat(timespec="seconds"),
        "run_id": run.run_id,
        "job": run.job_name,
        "as_of": as_of,
        "failed_steps": steps,
        "error": steps[0]["error"] if steps else first_line(context.failure_event.message),
    }


def command_failure_alert(command: str, as_of: str | None, error: str,
                          now: dt.datetime) -> dict[str, Any]:
    """The alert for a failed `winback` command (a run started from the command line, by cron
    for example, or a failure before any run started, such as bad configuration)."""
    return {
        "alert": "run_failure",
        "at": now.isoformat(timespec="seconds"),
        "run_id": None,
        "job": f"winback {command}",
        "as_of": as_of,
        "failed_steps": [],
        "error": first_line(error),
    }


def append_alert(folder: Path, alert: Mapping[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ALERT_FILE
    with path.open("a", encoding="utf-8") as file:
        file.write(json.dumps(alert, sort_keys=True) + "\n")
    return path


def post_alert(
    url: str,
    alert: Mapping[str, Any],
    warn: Callable[[str], None],
    *,
    attempts: int = WEBHOOK_ATTEMPTS,
    backoff_seconds: float = WEBHOOK_BACKOFF_SECONDS,
    timeout: float = WEBHOOK_TIMEOUT_SECONDS,
) -> bool:
    """POST the alert as JSON, retrying with exponential backoff. A webhook that stays down is
    reported through `warn` (without the URL, which may embed a token) and never raised: the
    alert file already holds the alert."""
    body = json.dumps(alert, sort_keys=True).encode()
    problem = ""
    for attempt in range(attempts):
        if attempt:
            time.sleep(backoff_seconds * 2 ** (attempt - 1))
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read()
            return True
        except urllib.error.HTTPError as exc:
            problem = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            problem = type(exc).__name__ + (f" ({exc.reason})" if hasattr(exc, "reason") else "")
    warn(f"The alert webhook (WINBACK_ALERT_WEBHOOK_URL) did not take the alert after "
         f"{attempts} attempts: {problem}. The alert is in the alert file.")
    return False


def deliver(alert: Mapping[str, Any], folder: Path, webhook_url: str | None,
            warn: Callable[[str], None]) -> Path:
    """Append the alert to the alert file, then post it to the webhook when one is set."""
    path = append_alert(folder, alert)
    if webhook_url:
        post_alert(webhook_url, alert, warn)
    return path


@dg.run_failure_sensor(
    name="winback_run_failure_alert",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Appends every failed run to WINBACK_ALERT_DIR/run_failures.jsonl and posts it "
    "to WINBACK_ALERT_WEBHOOK_URL when set.",
)
def run_failure_alert(context: dg.RunFailureSensorContext, winback: WinbackConfig) -> None:
    if context.dagster_run.tags.get(CLI_RUN_TAG):
        return  # `winback` alerts on the runs it started itself, with or without this daemon
    settings = winback.settings()
    alert = failure_alert(context, dt.datetime.now(dt.UTC))
    path = deliver(alert, settings.alert_dir, settings.alert_webhook_url, context.log.warning)
    context.log.info(f"Run {alert['run_id']} failed; alert written to {path}")


def freshness_alerts(states: Mapping[dg.AssetKey, Any], already: Mapping[str, float],
                     now: dt.datetime) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Alerts for assets whose freshness state turned FAIL since they were last alerted, and the
    new cursor (asset -> time of the FAIL state alerted). An asset alerts once per FAIL."""
    alerts, cursor = [], {}
    for key, record in sorted(states.items(), key=lambda item: item[0].to_user_string()):
        if record.freshness_state != FreshnessState.FAIL:
            continue
        name, since = key.to_user_string(), record.updated_at.timestamp()
        cursor[name] = since
        if already.get(name) != since:
            alerts.append({
                "alert": "freshness_failure",
                "at": now.isoformat(timespec="seconds"),
                "asset": name,
                "failing_since": record.updated_at.isoformat(timespec="seconds"),
                "error": f"{name} was not materialized within its freshness policy "
                         "(the daily run did not happen or failed)",
            })
    return alerts, cursor


@dg.sensor(
    name="winback_freshness_alert",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=300,
    description="Alerts (alert file, webhook) once for each mart or export whose freshness "
    "policy the daemon finds FAILing: the daily run did not happen or did not get that far.",
)
def freshness_alert(context: dg.SensorEvaluationContext, winback: WinbackConfig):
    graph = context.repository_def.asset_graph
    keys = [key for key in graph.get_all_asset_keys()
            if graph.get(key).freshness_policy_or_from_metadata is not None]
    states = context.instance.get_freshness_state_records(keys)
    already = json.loads(context.cursor) if context.cursor else {}
    alerts, cursor = freshness_alerts(states, already, dt.datetime.now(dt.UTC))
    if alerts:
        settings = winback.settings()
        for alert in alerts:
            deliver(alert, settings.alert_dir, settings.alert_webhook_url, context.log.warning)
    context.update_cursor(json.dumps(cursor, sort_keys=True))
    return dg.SkipReason(f"{len(alerts)} new freshness failures alerted" if alerts
                         else "no new freshness failures")


defs = dg.Definitions(sensors=[run_failure_alert, freshness_alert])

"""The run-failure alert: a JSON line per failed run, and a webhook post against a local server."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import dagster as dg
import pytest
from dagster._core.definitions.freshness import FreshnessState

from orchestration import cli
from orchestration.defs.alerts.sensors import (
    ALERT_FILE,
    CLI_RUN_TAG,
    first_line,
    post_alert,
    run_failure_alert,
)
from orchestration.defs.resources import WinbackConfig
from orchestration.lib.run_config import daily_partitions


class _Webhook:
    """A local HTTP server on 127.0.0.1 that answers the given status codes in turn, records the
    bodies it received, and stops after serving them (or after its timeout)."""

    def __init__(self, statuses):
        self.bodies = []
        statuses = list(statuses)
        bodies = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(statuses.pop(0))
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.server.timeout = 5
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(
            target=lambda: [self.server.handle_request() for _ in range(len(statuses))],
            daemon=True,
        )

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.thread.join(timeout=10)
        self.server.server_close()


@dg.asset(partitions_def=daily_partitions)
def fails_on_bad_input():
    raise ValueError("orders/o.csv: 12 of 100 rows bad; first at row 3 (jane@example.com, "
                     "+44 7700 900123)\nsecond line")


def _failure_context(instance, settings_env, tags=None):
    """The sensor's context for a run that failed in `instance`."""
    result = dg.materialize([fails_on_bad_input], instance=instance, raise_on_error=False,
                            tags=tags,
                            partition_key="2026-11-30",
                            resources={"winback": WinbackConfig()})
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
    return dg.build_run_status_sensor_context(
        sensor_name="winback_run_failure_alert",
        dagster_event=failure,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        resources={"winback": WinbackConfig()},
    ).for_run_failure()


@pytest.fixture
def alert_env(tmp_path, monkeypatch):
    monkeypatch.setenv("WINBACK_ALERT_DIR", str(tmp_path / "alerts"))
    monkeypatch.setenv("WINBACK_WAREHOUSE", str(tmp_path / "wh.duckdb"))
    return tmp_path


def test_a_failed_run_is_appended_to_the_alert_file_without_personal_data(alert_env):
    with dg.instance_for_test() as instance, _failure_context(instance, alert_env) as context:
        run_failure_alert(context)
        run_failure_alert(context)
    lines = (alert_env / "alerts" / ALERT_FILE).read_text().splitlines()
    assert len(lines) == 2
    alert = json.loads(lines[0])
    assert alert["run_id"] == context.dagster_run.run_id
    assert alert["job"] == "__ephemeral_asset_job__"
    assert alert["as_of"] == "2026-11-30"
    assert alert["failed_steps"] == [{
        "step": "fails_on_bad_input",
        "error": "ValueError: orders/o.csv: 12 of 100 rows bad; first at row 3 (<email>, <number>)",
    }]
    assert alert["error"] == alert["failed_steps"][0]["error"]
    assert "jane" not in lines[0] and "7700" not in lines[0]


def test_with_a_webhook_configured_the_alert_is_posted_to_it(alert_env, monkeypatch):
    with dg.instance_for_test() as instance, _Webhook([200]) as hook:
        monkeypatch.setenv("WINBACK_ALERT_WEBHOOK_URL", hook.url)
        with _failure_context(instance, alert_env) as context:
            run_failure_alert(context)
    written = json.loads((alert_env / "alerts" / ALERT_FILE).read_text())
    assert hook.bodies == [written]


def test_runs_the_cli_started_are_left_to_the_cli(alert_env):
    with dg.instance_for_test() as instance, _failure_context(
            instance, alert_env, tags={CLI_RUN_TAG: "true"}) as context:
        run_failure_alert(context)
    assert not (alert_env / "alerts" / ALERT_FILE).exists()


def test_a_failed_winback_run_alerts_without_the_daemon(alert_env, monkeypatch, capsys):
    monkeypatch.setenv("WINBACK_LANDING_DIR", str(alert_env / "no-such-landing"))
    with _Webhook([200]) as hook:
        monkeypatch.setenv("WINBACK_ALERT_WEBHOOK_URL", hook.url)
        assert cli.main(["run", "--as-of", "2026-06-30"]) == 2
    [line] = (alert_env / "alerts" / ALERT_FILE).read_text().splitlines()
    alert = json.loads(line)
    assert (alert["job"], alert["as_of"], alert["run_id"]) == ("winback run", "2026-06-30", None)
    assert "no-such-landing" in alert["error"]
    assert hook.bodies == [alert]
    assert capsys.readouterr().err.count("\n") == 1  # the one line; the webhook took the alert


def test_commands_that_do_not_run_the_pipeline_do_not_alert(alert_env, monkeypatch):
    monkeypatch.setenv("WINBACK_LANDING_DIR", str(alert_env / "no-such-landing"))
    assert cli.main(["validate", "--as-of", "2026-06-30"]) == 2
    assert not (alert_env / "alerts").exists()


def test_the_webhook_is_retried_with_backoff_until_it_takes_the_alert():
    warnings = []
    with _Webhook([503, 500, 200]) as hook:
        assert post_alert(hook.url, {"alert": "run_failure"}, warnings.append,
                          backoff_seconds=0.01)
    assert hook.bodies == [{"alert": "run_failure"}] * 3
    assert warnings == []


def test_a_webhook_that_stays_down_is_logged_without_its_url_and_not_raised():
    warnings = []
    with _Webhook([500, 500]) as hook:
        assert not post_alert(hook.url, {"alert": "run_failure"}, warnings.append,
                              attempts=2, backoff_seconds=0.01)
    assert len(warnings) == 1 and "HTTP 500" in warnings[0] and hook.url not in warnings[0]
    unreachable = []
    assert not post_alert(hook.url, {}, unreachable.append, attempts=1)
    assert "did not take the alert" in unreachable[0]


def test_only_the_first_line_of_an_error_is_kept_and_dates_survive_masking():
    assert first_line("\n  as of 2026-11-30: 0612345678 failed\ntrace") == (
        "as of 2026-11-30: <number> failed")


def _freshness(instance, key, state):
    """What the daemon's freshness evaluation records when an asset's state changes."""
    from dagster._core.definitions.freshness import FreshnessStateChange

    instance._report_runless_asset_event(asset_event=FreshnessStateChange(  # noqa: SLF001
        key=key, new_state=state, previous_state=FreshnessState.UNKNOWN,
        state_change_timestamp=time.time()))


def test_a_mart_failing_its_freshness_policy_is_alerted_once_per_failure(alert_env):
    from orchestration.definitions import defs
    from orchestration.defs.alerts.sensors import freshness_alert

    mart = dg.AssetKey(["inactivity", "customer_inactivity_status"])
    alerts = alert_env / "alerts" / ALERT_FILE
    with dg.instance_for_test() as instance:
        def tick(cursor):
            with dg.build_sensor_context(
                    instance=instance, cursor=cursor, repository_def=defs.get_repository_def(),
                    resources={"winback": WinbackConfig()}) as context:
                freshness_alert(context)
                return context.cursor

        _freshness(instance, mart, FreshnessState.PASS)
        cursor = tick(None)
        assert not alerts.exists()
        _freshness(instance, mart, FreshnessState.FAIL)
        cursor = tick(tick(cursor))  # two ticks: still one alert
        [line] = alerts.read_text().splitlines()
        assert json.loads(line)["asset"] == "inactivity/customer_inactivity_status"
        assert json.loads(line)["alert"] == "freshness_failure"
        _freshness(instance, mart, FreshnessState.PASS)
        cursor = tick(cursor)
        time.sleep(0.01)
        _freshness(instance, mart, FreshnessState.FAIL)
        tick(cursor)
        assert len(alerts.read_text().splitlines()) == 2

import datetime as dt
import json
from pathlib import Path

import pytest

from orchestration.defs.dbt.args import dbt_build_args, dbt_parse_ahead_args, dbt_vars
from orchestration.lib.audiences import audiences_for
from orchestration.lib.policies import policies_for
from orchestration.lib.settings import Settings


def _settings(as_of: dt.date, days: int | None = None) -> Settings:
    return Settings(Path("/l"), Path("/w/x.duckdb"), Path("/e"), as_of, "UTC", days, 0.05)


def _args(settings: Settings, select: str | None = None) -> list[str]:
    return dbt_build_args(settings, policies_for(settings), audiences_for(settings), select)


@pytest.mark.parametrize(
    ("settings", "select", "threshold", "expected_tail"),
    [
        # Without WINBACK_INACTIVE_DAYS the policy file's fixed threshold applies.
        (_settings(dt.date(2026, 6, 30)), None, 180, []),
        (_settings(dt.date(2024, 2, 29), 90), "marts", 90, ["--select", "marts"]),
    ],
)
def test_build_args_carry_policies_audiences_warehouse_and_duckdb_limits(
    settings, select, threshold, expected_tail, monkeypatch
):
    monkeypatch.delenv("DBT_LOG_LEVEL_FILE", raising=False)
    args = _args(settings, select)
    assert args[:2] == ["build", "--vars"]
    variables = json.loads(args[2])
    assert set(variables) == {"audiences", "inactivity_policies", "warehouse_path", "dbt_threads",
                              "duckdb_memory_limit", "duckdb_threads", "duckdb_temp_directory"}
    assert variables["dbt_threads"] == 1
    assert variables["audiences"]["conversion_window_days"] == 30
    assert "winback_inactive_email" in {a["name"] for a in variables["audiences"]["audiences"]}
    assert variables["warehouse_path"] == "/w/x.duckdb"
    assert (variables["duckdb_memory_limit"], variables["duckdb_threads"],
            variables["duckdb_temp_directory"]) == ("2GB", "2", "/w/x.duckdb.tmp")
    policies = variables["inactivity_policies"]
    assert policies["fixed_threshold_days"] == threshold
    assert policies["version"] and policies["cadence"]["enabled"] is True
    # dbt unit tests run in the test suite (tests/integration/test_pipeline.py), not every day;
    # dbt.log keeps each node's result and error, not every statement.
    assert args[3:] == ["--exclude-resource-type", "unit_test", "--log-level-file", "info",
                        *expected_tail]


def test_dbt_log_level_file_set_by_the_user_wins_over_the_steps_info_level(monkeypatch):
    monkeypatch.setenv("DBT_LOG_LEVEL_FILE", "debug")
    args = _args(_settings(dt.date(2026, 6, 30)))
    assert "--log-level-file" not in args


def test_build_args_do_not_change_with_the_as_of_date_so_dbt_keeps_its_partial_parse():
    # Regression: the date was a --vars value, and dbt re-parses the whole project when they change.
    assert _args(_settings(dt.date(2026, 1, 1))) == _args(_settings(dt.date(2026, 1, 2)))


def test_vars_to_run_dbt_by_hand_add_the_as_of_date_to_the_build_vars():
    settings = _settings(dt.date(2026, 6, 30))
    by_hand = dbt_vars(settings, policies_for(settings), audiences_for(settings))
    assert by_hand.pop("as_of_date") == "2026-06-30"
    assert by_hand == json.loads(_args(settings)[2])


def test_the_parse_ahead_has_the_steps_vars_so_the_steps_start_from_its_parse_state():
    # The fork server parses with these before the first step (fork_server.parse_ahead); dbt
    # keeps a parse state only for the same --vars text, so any difference would leave the step
    # a whole parse of its own.
    settings = _settings(dt.date(2026, 6, 30), 90)
    ahead = dbt_parse_ahead_args(settings, policies_for(settings), audiences_for(settings))
    build = _args(settings)
    assert ahead[0] == "parse"
    assert ahead[ahead.index("--vars") + 1] == build[build.index("--vars") + 1]
    assert ahead.count("--vars") == 1

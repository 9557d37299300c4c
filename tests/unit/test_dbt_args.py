import datetime as dt
import json
from pathlib import Path

import pytest

from orchestration.defs.dbt.args import dbt_build_args
from orchestration.lib.audiences import audiences_for
from orchestration.lib.policies import policies_for
from orchestration.lib.settings import Settings


def _settings(as_of: dt.date, days: int | None = None) -> Settings:
    return Settings(Path("/l"), Path("/w/x.duckdb"), Path("/e"), as_of, "UTC", days, 0.05)


def _args(settings: Settings, select: str | None = None) -> list[str]:
    return dbt_build_args(settings, policies_for(settings), audiences_for(settings), select)


@pytest.mark.parametrize(
    ("settings", "select", "as_of", "threshold", "expected_tail"),
    [
        # Without WINBACK_INACTIVE_DAYS the policy file's fixed threshold applies.
        (_settings(dt.date(2026, 6, 30)), None, "2026-06-30", 180, []),
        (_settings(dt.date(2024, 2, 29), 90), "marts", "2024-02-29", 90, ["--select", "marts"]),
    ],
)
def test_build_args_carry_the_as_of_date_policies_audiences_and_warehouse(
    settings, select, as_of, threshold, expected_tail
):
    args = _args(settings, select)
    assert args[:2] == ["build", "--vars"]
    variables = json.loads(args[2])
    assert set(variables) == {"as_of_date", "audiences", "inactivity_policies", "warehouse_path"}
    assert variables["audiences"]["conversion_window_days"] == 30
    assert "winback_inactive_email" in {a["name"] for a in variables["audiences"]["audiences"]}
    assert variables["as_of_date"] == as_of
    assert variables["warehouse_path"] == "/w/x.duckdb"
    policies = variables["inactivity_policies"]
    assert policies["fixed_threshold_days"] == threshold
    assert policies["version"] and policies["cadence"]["enabled"] is True
    assert args[3:] == expected_tail


def test_build_args_are_identical_for_identical_settings_so_reruns_match():
    assert _args(_settings(dt.date(2026, 1, 1))) == _args(_settings(dt.date(2026, 1, 1)))

import datetime as dt
import json
from pathlib import Path

import pytest

from orchestration.lib.dbt_args import dbt_build_args
from orchestration.lib.settings import Settings


def _settings(as_of: dt.date, days: int = 180) -> Settings:
    return Settings(Path("/l"), Path("/w/x.duckdb"), Path("/e"), as_of, "UTC", days, 0.05)


@pytest.mark.parametrize(
    ("settings", "select", "expected_vars", "expected_tail"),
    [
        (_settings(dt.date(2026, 6, 30)), None,
         {"as_of_date": "2026-06-30", "inactive_threshold_days": 180,
          "warehouse_path": "/w/x.duckdb"}, []),
        (_settings(dt.date(2024, 2, 29), 90), "marts",
         {"as_of_date": "2024-02-29", "inactive_threshold_days": 90,
          "warehouse_path": "/w/x.duckdb"}, ["--select", "marts"]),
    ],
)
def test_build_args_carry_the_as_of_date_threshold_and_warehouse(
    settings, select, expected_vars, expected_tail
):
    args = dbt_build_args(settings, select)
    assert args[:2] == ["build", "--vars"]
    assert json.loads(args[2]) == expected_vars
    assert args[3:] == expected_tail


def test_build_args_are_identical_for_identical_settings_so_reruns_match():
    assert dbt_build_args(_settings(dt.date(2026, 1, 1))) == dbt_build_args(
        _settings(dt.date(2026, 1, 1))
    )

"""The data tests of the marts that keep a row per as-of date check the rows the run wrote (its
date and later ones), not the whole history (issue 10: a daily run's cost grows with the day's
data): a duplicate the run writes fails its step, one on an earlier date, which the run that
wrote it checked, is not read again."""

import datetime as dt
import json
import subprocess

import duckdb
import pytest
from parse_state import seeded_target

from orchestration.defs.dbt.args import dbt_config_vars, dbt_launcher
from orchestration.defs.dbt.state import write_run_context
from orchestration.lib.audiences import audiences_for
from orchestration.lib.policies import policies_for
from orchestration.lib.settings import DBT_PROJECT_DIR

pytestmark = [pytest.mark.integration, pytest.mark.pipeline_runs(0.3)]

TABLE = "activation.audience_membership_daily"


def _dbt_test(settings, tmp_path) -> subprocess.CompletedProcess:
    variables = dbt_config_vars(settings, policies_for(settings), audiences_for(settings))
    return subprocess.run(
        [dbt_launcher(), "test", "--project-dir", str(DBT_PROJECT_DIR),
         "--profiles-dir", str(DBT_PROJECT_DIR),
         "--target-path", str(seeded_target(tmp_path / "target")),
         "--log-path", str(tmp_path / "logs"), "--vars", json.dumps(variables),
         "--select", "audience_membership_daily", "--exclude-resource-type", "unit_test"],
        capture_output=True, text=True, check=False,
    )


def _duplicate_a_row(settings, day: dt.date) -> None:
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute(f"INSERT INTO {TABLE} SELECT row.* REPLACE (CAST(? AS DATE) AS as_of_date) "
                    f"FROM (SELECT * FROM {TABLE} ORDER BY audience, customer_id LIMIT 1) AS row, "
                    "range(2)", [day])


def test_a_duplicate_on_the_runs_date_fails_one_on_an_earlier_date_is_not_read_again(
    fixture_run, tmp_path
):
    settings = fixture_run.copy_settings(tmp_path / "run")
    write_run_context(settings, "tests")

    _duplicate_a_row(settings, settings.as_of - dt.timedelta(days=3))
    earlier = _dbt_test(settings, tmp_path / "earlier")
    assert earlier.returncode == 0, earlier.stdout[-2000:]

    _duplicate_a_row(settings, settings.as_of)
    today = _dbt_test(settings, tmp_path / "today")
    assert today.returncode == 1
    assert "FAIL 1 unique_combination_of_columns_audience_membership_daily" in today.stdout

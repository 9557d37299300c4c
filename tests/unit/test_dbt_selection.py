"""Which dbt tests a dbt step over part of its models runs (dbt_project.yml indirect_selection)."""

import os
import subprocess

from parse_state import seeded_target

from orchestration.defs.dbt.args import dbt_config_vars_args, dbt_launcher
from orchestration.lib.audiences import audiences_for
from orchestration.lib.policies import policies_for
from orchestration.lib.settings import DBT_PROJECT_DIR, load_settings

SPANNING_TEST = "assert_sync_members_have_valid_owned_emails"


def _tests_selected(tmp_path, *select, env=None):
    """`dbt ls` of the tests `select` runs, with the production steps' vars and from their parse
    state (tests/parse_state.py), in a target folder of its own: without vars, or in this test
    process's target folder (conftest.py), dbt would parse the whole project, and leave the next
    pipeline run to parse it again."""
    settings = load_settings(environ={"WINBACK_WAREHOUSE": str(tmp_path / "warehouse.duckdb")})
    done = subprocess.run(
        [dbt_launcher(), "ls", "--quiet", "--resource-type", "test", "--select", *select,
         *dbt_config_vars_args(settings, policies_for(settings), audiences_for(settings)),
         "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
         "--target-path", str(seeded_target(tmp_path / "target")),
         "--log-path", str(tmp_path / "logs")],
        capture_output=True, text=True, check=True, env={**os.environ, **(env or {})},
    )
    return done.stdout


def test_a_subset_without_the_export_model_skips_the_test_that_reads_it_at_an_older_date(
        tmp_path):
    # Regression: the demo history's subset ran this test against the previous run's audience.
    assert SPANNING_TEST not in _tests_selected(tmp_path, "int_customers_as_of",
                                                "stg_crm__customers")


def test_a_subset_with_every_model_the_test_reads_still_runs_it(tmp_path):
    assert SPANNING_TEST in _tests_selected(tmp_path, "+sync_audience_members")


def test_dagster_dbts_explicit_check_selection_still_wins_over_the_project_setting(tmp_path):
    selected = _tests_selected(tmp_path, "stg_crm__customers",
                               env={"DBT_INDIRECT_SELECTION": "empty"})
    assert selected.strip() == ""

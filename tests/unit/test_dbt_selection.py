"""Which dbt tests a dbt step over part of its models runs (dbt_project.yml indirect_selection)."""

import os
import subprocess

from orchestration.defs.dbt.args import dbt_launcher
from orchestration.lib.settings import DBT_PROJECT_DIR

SPANNING_TEST = "assert_sync_members_have_valid_owned_emails"


def _tests_selected(*select, env=None):
    done = subprocess.run(
        [dbt_launcher(), "ls", "--quiet", "--resource-type", "test", "--select", *select,
         "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)],
        capture_output=True, text=True, check=True, env={**os.environ, **(env or {})},
    )
    return done.stdout


def test_a_subset_without_the_export_model_skips_the_test_that_reads_it_at_an_older_date():
    # Regression: the demo history's subset ran this test against the previous run's audience.
    assert SPANNING_TEST not in _tests_selected("int_customers_as_of", "stg_crm__customers")


def test_a_subset_with_every_model_the_test_reads_still_runs_it():
    assert SPANNING_TEST in _tests_selected("+sync_audience_members")


def test_dagster_dbts_explicit_check_selection_still_wins_over_the_project_setting():
    selected = _tests_selected("stg_crm__customers", env={"DBT_INDIRECT_SELECTION": "empty"})
    assert selected.strip() == ""

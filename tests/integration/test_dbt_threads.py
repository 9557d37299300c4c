"""dbt builds one model at a time unless WINBACK_DBT_THREADS says more (profiles.yml; issue 10),
and what it builds does not depend on that: several models at once give the same marts as one
at a time, so the export files, which read the marts in a fixed order, stay byte-identical."""

import dataclasses
import json
import subprocess

import pytest
from engine_parity import differences, duckdb_fingerprints
from parse_state import seeded_target

from orchestration.defs.dbt.args import dbt_config_vars_args, dbt_launcher
from orchestration.lib.audiences import audiences_for
from orchestration.lib.policies import policies_for
from orchestration.lib.settings import DBT_PROJECT_DIR

pytestmark = [pytest.mark.integration, pytest.mark.pipeline_runs(0.5)]


def test_marts_built_three_models_at_a_time_equal_the_runs_built_one_at_a_time(
    fixture_run, tmp_path
):
    settings = dataclasses.replace(fixture_run.copy_settings(tmp_path / "run"), dbt_threads=3)
    # The production steps' vars (the as-of date is the copied run's, in meta.run_context):
    # dbt starts from their parse state; the threads do not make it parse again.
    variables = dbt_config_vars_args(settings, policies_for(settings), audiences_for(settings))
    target = tmp_path / "target"
    build = subprocess.run(
        [dbt_launcher(), "build", "--project-dir", str(DBT_PROJECT_DIR),
         "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(seeded_target(target)),
         "--log-path", str(tmp_path / "logs"), *variables,
         "--exclude-resource-type", "unit_test", "--quiet"],
        capture_output=True, text=True, check=False,
    )
    assert build.returncode == 0, build.stdout[-2000:]
    results = json.loads((target / "run_results.json").read_text())["results"]
    # the nodes' threads (the on-run-end hook runs on dbt's main thread)
    nodes = [r for r in results if not r["unique_id"].startswith("operation.")]
    assert len({r["thread_id"] for r in nodes}) == 3
    assert differences(duckdb_fingerprints(fixture_run.warehouse),
                       duckdb_fingerprints(settings.warehouse)) == []

"""The metadata queries dbt spends per node on the project's own macros (issue 10, the fixed cost
of a daily run: dbt's per-node work, not the models' SQL, dominates a tiny or a next-day run).

A daily rerun's first dbt step, built as production builds it (the as-of date read from
meta.run_context, not passed as a var), on a copy of the fixture run's warehouse: each node reads
the as-of date at most once while compiling and once for its hooks (it re-read it on every use,
up to six times a model), no model re-creates the incremental state table that is there, and the
marts are the run's."""

import json
import subprocess
from collections import Counter

import pytest
from engine_parity import differences, duckdb_fingerprints
from parse_state import seeded_target

from orchestration.defs.dbt.args import dbt_config_vars, dbt_launcher
from orchestration.defs.dbt.state import write_run_context
from orchestration.lib.audiences import audiences_for
from orchestration.lib.policies import policies_for
from orchestration.lib.settings import DBT_PROJECT_DIR

pytestmark = [pytest.mark.integration, pytest.mark.pipeline_runs(0.5)]


def _queries_by_node(log: str) -> dict[str, list[str]]:
    queries: dict[str, list[str]] = {}
    for line in log.splitlines():
        event = json.loads(line)
        if event["info"]["name"] == "SQLQuery":
            node = (event["data"].get("node_info") or {}).get("unique_id", "")
            queries.setdefault(node, []).append(" ".join(event["data"]["sql"].split()))
    return queries


def test_a_rerun_reads_the_as_of_date_once_per_node_phase_and_keeps_the_state_table(
    fixture_run, tmp_path
):
    settings = fixture_run.copy_settings(tmp_path / "run")
    write_run_context(settings, "rerun")
    variables = dbt_config_vars(settings, policies_for(settings), audiences_for(settings))
    logs = tmp_path / "logs"
    build = subprocess.run(
        [dbt_launcher(), "build", "--project-dir", str(DBT_PROJECT_DIR),
         "--profiles-dir", str(DBT_PROJECT_DIR),
         "--target-path", str(seeded_target(tmp_path / "target")),
         "--log-path", str(logs), "--log-format-file", "json", "--log-level-file", "debug",
         "--vars", json.dumps(variables), "--exclude-resource-type", "unit_test",
         "--exclude", "source:predictions+", "--quiet"],
        capture_output=True, text=True, check=False,
    )
    assert build.returncode == 0, build.stdout[-2000:]
    queries = _queries_by_node((logs / "dbt.log").read_text())

    date_reads = Counter({node: sum('"meta"."run_context"' in sql for sql in sqls)
                          for node, sqls in queries.items()})
    models = [node for node in queries if node.startswith("model.")]
    assert len(models) >= 25
    assert date_reads["model.winback.int_orders_as_of"] >= 1
    assert [(node, n) for node, n in date_reads.items() if n > 2] == []

    state_ddl = [node for node, sqls in queries.items() for sql in sqls
                 if "incremental_as_of_builds" in sql
                 and sql.lower().startswith(("create table", "create schema"))]
    assert state_ddl == []
    assert differences(duckdb_fingerprints(fixture_run.warehouse),
                       duckdb_fingerprints(settings.warehouse)) == []

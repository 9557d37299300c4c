import datetime as dt

import duckdb

from orchestration.defs.dbt.state import keep_partial_parse, write_run_context
from orchestration.lib.settings import load_settings


def test_the_run_context_holds_the_runs_as_of_date_alone(tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    for day in ("2026-06-30", "2026-07-01"):
        settings = load_settings(environ={}, overrides={"WINBACK_AS_OF": day,
                                                        "WINBACK_WAREHOUSE": str(warehouse)})
        write_run_context(settings, run_id=f"run-{day}")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute("SELECT as_of_date, run_id FROM meta.run_context").fetchall()
    assert rows == [(dt.date(2026, 7, 1), "run-2026-07-01")]


def test_an_invocations_parse_state_becomes_the_projects(tmp_path):
    invocation, project = tmp_path / "invocation", tmp_path / "project"
    invocation.mkdir()
    project.mkdir()
    (project / "partial_parse.msgpack").write_bytes(b"parsed without the run's vars")
    (invocation / "partial_parse.msgpack").write_bytes(b"parsed with the run's vars")
    keep_partial_parse(invocation, project)
    assert (project / "partial_parse.msgpack").read_bytes() == b"parsed with the run's vars"
    assert [p.name for p in project.iterdir()] == ["partial_parse.msgpack"]


def test_an_invocation_without_parse_state_leaves_the_projects_alone(tmp_path):
    (tmp_path / "partial_parse.msgpack").write_bytes(b"kept")
    keep_partial_parse(tmp_path / "failed_before_parsing", tmp_path)
    assert (tmp_path / "partial_parse.msgpack").read_bytes() == b"kept"

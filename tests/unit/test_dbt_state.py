import datetime as dt
import os

import duckdb

from orchestration.defs.dbt.state import (
    keep_partial_parse,
    prune_invocation_folders,
    write_run_context,
)
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


def test_only_the_newest_invocation_folders_of_a_step_are_kept(tmp_path):
    """dagster-dbt leaves a folder per invocation (`<step>-<run[:7]>-<random[:7]>`, ~6 MB): a daily
    schedule must not fill the disk with them."""
    step = "winback_dbt_models"
    for day in range(10):
        folder = tmp_path / f"{step}-{day:07x}-abc{day:04d}"
        (folder / "compiled").mkdir(parents=True)
        (folder / "run_results.json").write_text("{}")
        os.utime(folder, (1_700_000_000 + day * 86_400,) * 2)
    later_step = tmp_path / f"{step}_after_statistics-0000001-abcdef0"
    later_step.mkdir()
    (tmp_path / "partial_parse.msgpack").write_bytes(b"the project's")
    (tmp_path / f"{step}-not-an-invocation").mkdir()
    prune_invocation_folders(tmp_path, step, keep=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([
        f"{step}-0000007-abc0007", f"{step}-0000008-abc0008", f"{step}-0000009-abc0009",
        later_step.name, "partial_parse.msgpack", f"{step}-not-an-invocation"])

"""What a dbt step leaves behind for dbt: the run's as-of date in the warehouse, dbt's
partial-parse state for the next invocation, and a bounded number of invocation folders."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from orchestration.lib.settings import Settings
from orchestration.lib.warehouse import open_warehouse

RUN_CONTEXT_SCHEMA = "meta"
RUN_CONTEXT_TABLE = "run_context"
PARTIAL_PARSE_FILE = "partial_parse.msgpack"
MANIFEST_FILE = "manifest.json"
# Invocation folders kept per dbt step (a week of daily runs): each holds that invocation's
# run_results.json, dbt.log and compiled SQL (~3 MB; a step forked from a run's dbt fork server
# writes no manifest.json: fork_server.py, without_manifest_artifacts), for looking into a run
# after the fact.
KEEP_INVOCATIONS = 7


def write_run_context(settings: Settings, run_id: str) -> None:
    """One row: the as-of date (and run) that macros/as_of.sql reads while dbt executes. A table
    rather than a dbt var, because a var that changes every day makes dbt parse the whole project
    on every invocation. Written to the local file; when dbt builds in another engine, the dbt
    step copies it there with the step's sources (engine_copy.push_sources)."""
    with open_warehouse(settings.warehouse, limits=settings.duckdb) as con:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {RUN_CONTEXT_SCHEMA}")
        con.execute(
            f"CREATE OR REPLACE TABLE {RUN_CONTEXT_SCHEMA}.{RUN_CONTEXT_TABLE} AS "
            "SELECT CAST(? AS DATE) AS as_of_date, CAST(? AS VARCHAR) AS run_id",
            [settings.as_of, run_id],
        )


def parse_state_file(project_dir: Path) -> Path:
    """The parse state a dbt step starts from: dagster-dbt seeds each invocation's folder with
    partial_parse.msgpack of the target folder (DBT_TARGET_PATH, default `target`, relative to
    the project)."""
    return project_dir / os.environ.get("DBT_TARGET_PATH", "target") / PARTIAL_PARSE_FILE


def keep_partial_parse(invocation_target: Path, project_target: Path) -> None:
    """Make an invocation's parse state the one the next invocation starts from.

    dagster-dbt gives every invocation its own folder inside the target folder
    (dbt_project/target, or DBT_TARGET_PATH when set: the tests set it) and seeds it with the
    target folder's partial_parse.msgpack, which `dbt parse` wrote without the run's vars, so
    dbt would parse everything again on every step. Copying the state back to that target
    folder (atomically, so a concurrent invocation reads either file whole) lets the next step
    and the next day parse only what changed; dbt itself checks the vars, profile and file
    hashes and re-parses when they differ.
    """
    state = invocation_target / PARTIAL_PARSE_FILE
    if not state.exists():
        return
    pending = project_target / f".{PARTIAL_PARSE_FILE}.{os.getpid()}"
    shutil.copyfile(state, pending)
    os.replace(pending, project_target / PARTIAL_PARSE_FILE)


def prune_invocation_folders(project_target: Path, step: str, keep: int = KEEP_INVOCATIONS) -> None:
    """Delete all but the newest `keep` invocation folders of the dbt step `step`.

    dagster-dbt gives every invocation a new folder `<step>-<run id[:7]>-<random[:7]>` in the
    target folder and never removes it: a daily schedule piled up ~12 MB a day. Other folders
    and files of the target folder are left alone."""
    prefix = f"{step}-"
    folders = [
        path for path in project_target.glob(f"{prefix}*")
        if path.is_dir() and _is_invocation_name(path.name[len(prefix):])
    ]
    folders.sort(key=lambda path: (path.stat().st_mtime, path.name), reverse=True)
    for stale in folders[keep:]:
        shutil.rmtree(stale, ignore_errors=True)


def _is_invocation_name(suffix: str) -> bool:
    run, _, unique = suffix.partition("-")
    return len(run) == 7 and len(unique) == 7 and all(c in "0123456789abcdef-" for c in suffix)

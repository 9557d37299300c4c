"""dbt's DuckDB connection gets the same limits as the pipeline's (profiles.yml)."""

import datetime as dt
import importlib.util
import json
import os
from argparse import Namespace
from pathlib import Path

import pytest
from dbt.config.runtime import load_profile
from dbt.flags import set_from_args
from dbt_common.context import set_invocation_context

from orchestration.defs.dbt.args import dbt_build_args
from orchestration.lib.audiences import audiences_for
from orchestration.lib.policies import policies_for
from orchestration.lib.settings import DBT_PROJECT_DIR, load_settings


def _credentials(cli_vars):
    set_invocation_context(os.environ.copy())
    set_from_args(Namespace(profiles_dir=str(DBT_PROJECT_DIR)), None)
    return load_profile(str(DBT_PROJECT_DIR), cli_vars).credentials


def test_the_profile_passes_the_runs_memory_limit_threads_and_spill_folder_to_duckdb(tmp_path):
    settings = load_settings(
        environ={"WINBACK_DUCKDB_MEMORY_LIMIT": "750MB", "WINBACK_DUCKDB_THREADS": "3"},
        overrides={"WINBACK_WAREHOUSE": str(tmp_path / "wh.duckdb")},
        today=dt.date(2026, 6, 30),
    )
    args = dbt_build_args(settings, policies_for(settings), audiences_for(settings))
    credentials = _credentials(json.loads(args[2]))
    assert credentials.path == str(tmp_path / "wh.duckdb")
    assert _node_settings(credentials) == {
        "memory_limit": "715.2 MiB", "threads": 3, "TimeZone": "UTC",
        "temp_directory": str(tmp_path / "wh.duckdb.tmp")}


def _node_settings(credentials) -> dict[str, str]:
    """The settings a model's or test's cursor runs with, opened as dbt-duckdb opens them."""
    from dbt.adapters.duckdb.environments import Environment

    con = Environment.initialize_db(credentials)
    try:
        cursor = Environment.initialize_cursor(credentials, con.cursor())
        return {name: cursor.execute("SELECT current_setting(?)", [name]).fetchone()[0]
                for name in ("memory_limit", "threads", "TimeZone", "temp_directory")}
    finally:
        con.close()


def _with_adapter(adapter: str, engine_env: dict[str, str]):
    """An engine's case, run where its dbt adapter is installed (`make test EXTRAS=dev,engines`)."""
    missing = importlib.util.find_spec(f"dbt.adapters.{adapter}") is None
    return pytest.param(engine_env, id=adapter, marks=pytest.mark.skipif(
        missing, reason=f"dbt-{adapter} is not installed (the engines extra)"))


@pytest.mark.parametrize("engine_env", [
    pytest.param({}, id="duckdb"),
    _with_adapter("postgres", {"WINBACK_ENGINE": "postgres", "WINBACK_POSTGRES_USER": "u",
                               "WINBACK_POSTGRES_DATABASE": "d"}),
    _with_adapter("spark", {"WINBACK_ENGINE": "spark"}),
])
def test_dbt_builds_one_model_at_a_time_unless_winback_dbt_threads_says_more(
    tmp_path, monkeypatch, engine_env
):
    """Issue 10: two DuckDB models at once share one memory limit (two large ones ran a 50M-order
    run out of it) and the cores each query already uses; on every engine it is one setting,
    apart from the DuckDB connection's own threads."""
    for name, value in engine_env.items():
        monkeypatch.setenv(name, value)
    for environ, expected in (({}, 1), ({"WINBACK_DBT_THREADS": "3"}, 3),
                              ({"WINBACK_DUCKDB_THREADS": "4"}, 1)):
        settings = load_settings(
            environ={**engine_env, **environ},
            overrides={"WINBACK_WAREHOUSE": str(tmp_path / "wh.duckdb"),
                       "WINBACK_SPARK_WAREHOUSE": str(tmp_path / "spark")},
            today=dt.date(2026, 6, 30),
        )
        args = dbt_build_args(settings, policies_for(settings), audiences_for(settings))
        set_invocation_context(os.environ.copy())
        set_from_args(Namespace(profiles_dir=str(DBT_PROJECT_DIR)), None)
        profile = load_profile(str(DBT_PROJECT_DIR), json.loads(args[2]))
        assert (profile.target_name, profile.threads) == (
            engine_env.get("WINBACK_ENGINE", "duckdb"), expected)


def test_dbt_keeps_running_models_and_tests_after_one_of_them_spilled(tmp_path):
    """dbt-duckdb applies the profile's `settings` to each node's cursor; a SET of the spill
    folder after a spill fails (seen at 10M orders: every test after the first spill errored)."""
    from dbt.adapters.duckdb.environments import Environment

    settings = load_settings(
        environ={"WINBACK_DUCKDB_MEMORY_LIMIT": "64MB", "WINBACK_DUCKDB_THREADS": "1"},
        overrides={"WINBACK_WAREHOUSE": str(tmp_path / "wh.duckdb")},
        today=dt.date(2026, 6, 30),
    )
    args = dbt_build_args(settings, policies_for(settings), audiences_for(settings))
    credentials = _credentials(json.loads(args[2]))
    con = Environment.initialize_db(credentials)
    try:
        heavy = "SELECT count(*) FROM (SELECT i, count(*) FROM range(3000000) t(i) GROUP BY i)"
        for _node in range(3):
            cursor = Environment.initialize_cursor(credentials, con.cursor())
            assert cursor.execute(heavy).fetchone() == (3000000,)
        assert any((tmp_path / "wh.duckdb.tmp").iterdir())
    finally:
        con.close()


def test_dbt_alone_reads_the_limits_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("WINBACK_DUCKDB_MEMORY_LIMIT", "1GB")
    monkeypatch.setenv("WINBACK_DUCKDB_THREADS", "1")
    monkeypatch.setenv("WINBACK_WAREHOUSE", str(tmp_path / "wh.duckdb"))
    monkeypatch.delenv("WINBACK_DUCKDB_TEMP_DIR", raising=False)
    settings = _node_settings(_credentials({}))
    assert (settings["memory_limit"], settings["threads"]) == ("953.6 MiB", 1)
    assert Path(settings["temp_directory"]) == tmp_path / "wh.duckdb.tmp"

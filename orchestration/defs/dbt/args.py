"""dbt command lines, built by small pure functions so they can be tested table-driven."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from orchestration.defs.dbt.state import MANIFEST_FILE, PARTIAL_PARSE_FILE
from orchestration.lib.audiences import AudienceConfig
from orchestration.lib.policies import Policies
from orchestration.lib.settings import DBT_PROJECT_DIR, EngineSettings, Settings


def dbt_config_vars(
    settings: Settings, policies: Policies, audiences: AudienceConfig
) -> dict[str, Any]:
    """The vars of a production dbt step: configuration only, the same from one day to the next.

    dbt drops its partial parse whenever `--vars` change (a full parse, ~6 s per invocation), so
    the as-of date is not among them: the dbt step writes it to meta.run_context (state.py),
    which macros/as_of.sql reads when dbt executes. A new policy or audience file still costs one
    full parse, which is rare. An environment variable was the other way in: dbt 1.11 records each
    env_var() read while parsing and re-parses the files that read it when its value changes
    (every model using the as-of date); one read only while executing escapes that, but rests on
    undocumented behaviour and would carry the date in the environment.
    """
    limits = settings.duckdb.for_warehouse(settings.warehouse)
    return {
        "audiences": audiences.as_dbt_var(),
        "dbt_threads": settings.dbt_threads,
        "duckdb_memory_limit": limits["memory_limit"],
        "duckdb_temp_directory": limits["temp_directory"],
        "duckdb_threads": limits["threads"],
        "inactivity_policies": policies.as_dbt_var(),
        "warehouse_path": str(settings.warehouse),
        **dbt_engine_vars(settings.engine),
    }


def dbt_engine_vars(engine: EngineSettings) -> dict[str, Any]:
    """The connection of the PostgreSQL or Spark target (profiles.yml) without the password;
    nothing for DuckDB, so a DuckDB run's vars (and dbt's partial parse) stay as they were."""
    if engine.postgres is not None:
        return {"postgres_host": engine.postgres.host, "postgres_port": engine.postgres.port,
                "postgres_user": engine.postgres.user,
                "postgres_database": engine.postgres.database}
    if engine.spark is not None:
        return {"spark_warehouse": str(engine.spark.warehouse_dir),
                "spark_java_options": engine.spark.java_options()}
    return {}


def dbt_engine_env(engine: EngineSettings) -> dict[str, str]:
    """The environment dbt needs beside its vars: the target (WINBACK_ENGINE) and the PostgreSQL
    password, in the variable whose value dbt masks in its output and never writes to target/."""
    env = {"WINBACK_ENGINE": engine.name}
    if engine.postgres is not None and engine.postgres.password:
        env["DBT_ENV_SECRET_WINBACK_POSTGRES_PASSWORD"] = engine.postgres.password
    return env


@contextmanager
def dbt_engine_environment(engine: EngineSettings) -> Iterator[None]:
    """dbt_engine_env in os.environ while a dbt invocation starts (dagster-dbt hands dbt a copy of
    os.environ), restored afterwards; nothing changes for DuckDB."""
    if engine.name == "duckdb":
        yield
        return
    saved = {name: os.environ.get(name) for name in dbt_engine_env(engine)}
    os.environ.update(dbt_engine_env(engine))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def dbt_vars(
    settings: Settings, policies: Policies, audiences: AudienceConfig
) -> dict[str, Any]:
    """The vars to run dbt by hand (`winback dbt-vars`) or in tests: the configuration and the
    as-of date, which wins over the date of the last run in meta.run_context."""
    return {**dbt_config_vars(settings, policies, audiences),
            "as_of_date": settings.as_of.isoformat()}


def dbt_config_vars_args(
    settings: Settings, policies: Policies, audiences: AudienceConfig
) -> list[str]:
    """`--vars` of the production dbt steps: the same text for the same configuration, which
    dbt's partial parse compares."""
    return ["--vars", json.dumps(dbt_config_vars(settings, policies, audiences), sort_keys=True)]


def dbt_parse_ahead_args(
    settings: Settings, policies: Policies, audiences: AudienceConfig
) -> list[str]:
    """`dbt parse` with the production steps' vars, which the run's dbt fork server runs before
    the first dbt step (fork_server.py); silent, no log file, and no manifest.json (its folder
    is scratch: only the parse state is kept, which dbt writes regardless)."""
    return ["parse", *dbt_config_vars_args(settings, policies, audiences),
            "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
            "--quiet", "--log-level-file", "none", "--no-write-json"]


def dbt_build_args(
    settings: Settings, policies: Policies, audiences: AudienceConfig, select: str | None = None
) -> list[str]:
    """`dbt build` of a production step. dbt unit tests check the SQL on fixed inputs, so they
    give the same answer every day: `make test` runs them (tests/integration/test_pipeline.py),
    production runs only the data tests, which check the day's data."""
    args = ["build", *dbt_config_vars_args(settings, policies, audiences),
            "--exclude-resource-type", "unit_test", *dbt_file_log_args(os.environ)]
    if select:
        args += ["--select", select]
    return args


def dbt_file_log_args(environ: Mapping[str, str]) -> list[str]:
    """dbt.log of a production step at info level: each node's start, result and error, without
    the debug events (every SQL statement a materialization issues, connection opens and
    closes), which dbt formats and writes at about a tenth of its CPU per node. dbt's own
    DBT_LOG_LEVEL_FILE (`debug` brings the statements back) wins when it is set."""
    return [] if "DBT_LOG_LEVEL_FILE" in environ else ["--log-level-file", "info"]


def dbt_executable() -> str:
    """The dbt installed beside this Python (a venv's bin/ need not be on PATH)."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def dbt_launcher() -> str:
    """The dbt steps' executable: `winback-dbt` (a fork of the run's dbt fork server, else the
    installed dbt; fork_server.py), or the installed dbt where it is missing."""
    launcher = Path(sys.executable).parent / "winback-dbt"
    return str(launcher) if launcher.exists() else dbt_executable()


def dbt_parse(project_dir: Path) -> None:
    """Write target/manifest.json, which dagster-dbt reads when the definitions load.

    dbt writes manifest.json in place (twice per parse), so a process loading the definitions
    while another parses (`winback ui` re-parses on every load, a scheduled `winback run` may
    load at that moment) would read half a file. dbt parses into a scratch folder beside the
    target folder, seeded with its parse state, and the files are swapped in whole
    (os.replace, the manifest last): a reader gets the old manifest or the new one."""
    project_dir = project_dir.resolve()  # dbt reads a relative --target-path from the project
    target = project_dir / "target"
    target.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".parse-", dir=target) as scratch:
        state = target / PARTIAL_PARSE_FILE
        if state.exists():
            shutil.copyfile(state, Path(scratch) / PARTIAL_PARSE_FILE)
        subprocess.run(
            [dbt_executable(), "parse", "--quiet", "--project-dir", str(project_dir),
             "--profiles-dir", str(project_dir), "--target-path", scratch],
            check=True,
        )
        for name in (PARTIAL_PARSE_FILE, MANIFEST_FILE):
            os.replace(Path(scratch) / name, target / name)


if __name__ == "__main__":  # `make manifest`
    dbt_parse(Path(sys.argv[1]))

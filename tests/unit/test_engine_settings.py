"""WINBACK_ENGINE and its connection settings: parsed and validated in one place, passed to dbt's
profile without the password in --vars, never shown in a message."""

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

from orchestration import cli
from orchestration.defs.dbt.args import dbt_build_args, dbt_engine_env, dbt_engine_vars
from orchestration.lib.audiences import audiences_for
from orchestration.lib.policies import policies_for
from orchestration.lib.settings import (
    DBT_PROJECT_DIR,
    REPO_ROOT,
    SettingsError,
    SparkSettings,
    load_settings,
)

SECRET = "s3cr3t-Pa55"


def _engine(env):
    return load_settings(environ=env, today=dt.date(2026, 6, 30)).engine


def test_duckdb_is_the_default_and_adds_nothing_to_dbts_vars():
    engine = _engine({})
    assert (engine.name, engine.postgres, engine.spark) == ("duckdb", None, None)
    assert dbt_engine_vars(engine) == {}
    assert dbt_engine_env(engine) == {"WINBACK_ENGINE": "duckdb"}


def test_postgres_from_one_url_keeps_the_password_out_of_vars_label_and_repr():
    engine = _engine({"WINBACK_ENGINE": "Postgres",
                      "WINBACK_POSTGRES_URL": f"postgresql+psycopg2://ana:{SECRET}@db.local:6543/shop"})
    pg = engine.postgres
    assert (pg.host, pg.port, pg.user, pg.database, pg.password) == (
        "db.local", 6543, "ana", "shop", SECRET)
    variables = dbt_engine_vars(engine)
    assert variables == {"postgres_host": "db.local", "postgres_port": 6543,
                         "postgres_user": "ana", "postgres_database": "shop"}
    assert dbt_engine_env(engine)["DBT_ENV_SECRET_WINBACK_POSTGRES_PASSWORD"] == SECRET
    assert SECRET not in engine.label + repr(engine) + json.dumps(variables)
    assert engine.label == "postgres (ana@db.local:6543/shop)"


def test_postgres_from_parts_defaults_host_and_port():
    pg = _engine({"WINBACK_ENGINE": "postgres", "WINBACK_POSTGRES_USER": "ana",
                  "WINBACK_POSTGRES_DATABASE": "shop"}).postgres
    assert (pg.host, pg.port, pg.password) == ("127.0.0.1", 5432, "")


def test_spark_keeps_tables_and_metastore_under_its_warehouse_folder(tmp_path):
    engine = _engine({"WINBACK_ENGINE": "spark", "WINBACK_SPARK_WAREHOUSE": str(tmp_path)})
    config = engine.spark.session_config()
    assert config["spark.sql.warehouse.dir"] == str(tmp_path / "tables")
    assert str(tmp_path / "metastore_db") in config["spark.hadoop.javax.jdo.option.ConnectionURL"]
    assert config["spark.sql.session.timeZone"] == "UTC"
    # Hive's per-session resources folder (by default a new /tmp/<uuid>_resources each time).
    assert config["spark.hadoop.hive.downloaded.resources.dir"] == str(tmp_path / "hive_resources")
    # The JVM logs to a file under the warehouse (not into dbt's output), with the same options
    # in the dbt profile (through its vars) as in the Python side's sessions.
    options = config["spark.driver.extraJavaOptions"].split()
    assert f"-Dderby.system.home={tmp_path}" in options
    log4j2 = Path(next(o for o in options if o.startswith("-Dlog4j2.configurationFile="))
                  .split("=", 1)[1])
    assert "appender.file.fileName = ${sys:derby.system.home}/logs/" in log4j2.read_text()
    assert dbt_engine_vars(engine)["spark_java_options"] == config["spark.driver.extraJavaOptions"]
    default = _engine({"WINBACK_ENGINE": "spark"}).spark.warehouse_dir
    assert default == REPO_ROOT / "data" / "spark-warehouse"


def test_more_jvm_options_reach_dbts_session_and_the_child_processes(tmp_path):
    """WINBACK_SPARK_JAVA_OPTIONS go after Winback's own, in dbt's profile and the Python
    side's sessions, and cross to a copy or gate child with the warehouse folder."""
    engine = _engine({"WINBACK_ENGINE": "spark", "WINBACK_SPARK_WAREHOUSE": str(tmp_path),
                      "WINBACK_SPARK_JAVA_OPTIONS": " -XX:+UseSerialGC -Dwinback.x=1 "})
    options = engine.spark.session_config()["spark.driver.extraJavaOptions"]
    assert options.split()[0] == f"-Dderby.system.home={tmp_path}"
    assert options.endswith("log4j2.properties -XX:+UseSerialGC -Dwinback.x=1")
    assert dbt_engine_vars(engine)["spark_java_options"] == options
    child = SparkSettings.from_request(json.loads(json.dumps(engine.spark.to_request())))
    assert child == engine.spark
    assert not _engine({"WINBACK_ENGINE": "spark"}).spark.java_options().endswith(" ")


@pytest.mark.parametrize(("env", "mentions"), [
    ({"WINBACK_ENGINE": "oracle"}, "WINBACK_ENGINE must be one of duckdb, postgres, spark"),
    ({"WINBACK_ENGINE": "postgres"}, "WINBACK_POSTGRES_USER and WINBACK_POSTGRES_DATABASE"),
    ({"WINBACK_ENGINE": "postgres", "WINBACK_POSTGRES_URL": f"postgresql://a:{SECRET}@h/db",
      "WINBACK_POSTGRES_HOST": "h"}, "not both"),
    ({"WINBACK_ENGINE": "postgres", "WINBACK_POSTGRES_URL": f"mysql://a:{SECRET}@h/db"},
     "WINBACK_POSTGRES_URL must look like postgresql://"),
    ({"WINBACK_ENGINE": "postgres", "WINBACK_POSTGRES_URL": f"postgresql://a:{SECRET}@h:port/db"},
     "its port is not a number"),
    ({"WINBACK_ENGINE": "postgres", "WINBACK_POSTGRES_USER": "a", "WINBACK_POSTGRES_DATABASE": "d",
      "WINBACK_POSTGRES_PASSWORD": SECRET, "WINBACK_POSTGRES_PORT": "99999"},
     "WINBACK_POSTGRES_PORT must be a port number"),
])
def test_bad_engine_settings_fail_in_one_line_without_the_password(env, mentions):
    with pytest.raises(SettingsError) as error:
        _engine(env)
    message = str(error.value)
    assert mentions in message
    assert SECRET not in message and "\n" not in message


@pytest.mark.skipif(importlib.util.find_spec("dbt.adapters.spark") is None,
                    reason="dbt-spark is not installed (make test EXTRAS=dev,engines)")
def test_the_spark_profile_opens_the_session_of_the_python_side_with_its_console_quiet(
        monkeypatch, tmp_path):
    # dagster-dbt parses dbt's JSON lines from dbt's stdout and stderr; the JVM in dbt's process
    # must not write there (log4j2 to a file, no console progress bar), as in the copies' JVMs.
    settings = load_settings(environ={"WINBACK_ENGINE": "spark",
                                      "WINBACK_SPARK_WAREHOUSE": str(tmp_path / "spark")},
                             today=dt.date(2026, 6, 30),
                             overrides={"WINBACK_WAREHOUSE": str(tmp_path / "wh.duckdb")})
    args = dbt_build_args(settings, policies_for(settings), audiences_for(settings))
    for name, value in dbt_engine_env(settings.engine).items():
        monkeypatch.setenv(name, value)
    set_invocation_context(os.environ.copy())
    set_from_args(Namespace(profiles_dir=str(DBT_PROJECT_DIR)), None)
    profile = load_profile(str(DBT_PROJECT_DIR), json.loads(args[2]))
    session = settings.engine.spark.session_config()
    assert profile.target_name == "spark"
    # Every setting of the Python side's sessions (dbt-spark adds spark.sql.ansi.enabled).
    assert session.items() <= profile.credentials.server_side_parameters.items()
    assert session["spark.ui.showConsoleProgress"] == "false"
    assert "-Dlog4j2.configurationFile=" in session["spark.driver.extraJavaOptions"]


@pytest.mark.skipif(importlib.util.find_spec("dbt.adapters.postgres") is None,
                    reason="dbt-postgres is not installed (make test EXTRAS=dev,engines)")
def test_the_profile_picks_the_engines_target_with_the_password_from_the_secret_variable(
        monkeypatch, tmp_path):
    env = {"WINBACK_ENGINE": "postgres",
           "WINBACK_POSTGRES_URL": f"postgresql://ana:{SECRET}@db.local:6543/shop"}
    settings = load_settings(environ=env, today=dt.date(2026, 6, 30),
                             overrides={"WINBACK_WAREHOUSE": str(tmp_path / "wh.duckdb")})
    args = dbt_build_args(settings, policies_for(settings), audiences_for(settings))
    assert SECRET not in " ".join(args)
    for name, value in dbt_engine_env(settings.engine).items():
        monkeypatch.setenv(name, value)
    set_invocation_context(os.environ.copy())
    set_from_args(Namespace(profiles_dir=str(DBT_PROJECT_DIR)), None)
    profile = load_profile(str(DBT_PROJECT_DIR), json.loads(args[2]))
    credentials = profile.credentials
    assert profile.target_name == "postgres"
    assert (credentials.host, credentials.port, credentials.user, credentials.database) == (
        "db.local", 6543, "ana", "shop")
    assert credentials.password == SECRET


def test_validate_reports_the_engine_and_a_spark_run_without_java_says_so_before_ingesting(
        monkeypatch, tmp_path, capsys):
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("pyspark is not installed (make test EXTRAS=dev,engines)")
    monkeypatch.setenv("WINBACK_ENGINE", "spark")
    monkeypatch.setenv("WINBACK_SPARK_WAREHOUSE", str(tmp_path / "spark"))
    monkeypatch.setenv("WINBACK_WAREHOUSE", str(tmp_path / "wh.duckdb"))
    assert cli.main(["validate"]) == 0
    assert f"engine               spark (session, warehouse {tmp_path / 'spark'})" in (
        capsys.readouterr().out)
    # Spark runs the pipeline, but only with Java: a JAVA_HOME without one stops the run in a
    # line, before anything is ingested.
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-java"))
    assert cli.main(["run"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "WINBACK_ENGINE=spark needs Java 17" in line and "JAVA_HOME" in line
    assert not (tmp_path / "wh.duckdb").exists()

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from orchestration.defs.dbt.fork_server import ForkServer

TESTS_DIR = Path(__file__).parent
sys.path.insert(0, str(TESTS_DIR))

# A pytest-xdist worker runs from execnet's bootstrap, whose __main__ has no file and no spec.
# pyspark (the engines extra) takes such a process for its own doctest run: importing
# pyspark.sql.connect, which Great Expectations does on import, then calls sys.exit(0) and the
# GX gate dies with SystemExit. Give the worker's __main__ the file a real program has.
_main = sys.modules["__main__"]
if getattr(_main, "__spec__", None) is None and not hasattr(_main, "__file__"):
    _main.__file__ = "<pytest-xdist worker>"


def pytest_sessionstart(session: pytest.Session) -> None:
    """dagster-dbt reads the manifest when the definitions import: build it if it is missing.
    Under pytest-xdist only the controller builds it, before it starts the workers."""
    from orchestration.defs.dbt.args import dbt_parse
    from orchestration.lib.settings import REPO_ROOT

    if hasattr(session.config, "workerinput"):
        return
    if not (REPO_ROOT / "dbt_project" / "target" / "manifest.json").exists():
        dbt_parse(REPO_ROOT / "dbt_project")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "pipeline_runs(n): the module's cost in whole pipeline runs; make test starts "
        "the costliest modules first")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Costliest modules first. `make test` hands whole modules to its workers in collection
    order (`--dist loadscope --no-loadscope-reorder`), so a long module collected last would run
    alone at the end. A module states its cost with `pytest.mark.pipeline_runs(n)`: how many whole
    pipeline runs (or their worth in time) its tests make; unmarked modules count 0 and keep
    their order after the marked ones. Every worker collects, and sorts, the same way."""
    runs: dict[str, float] = {}
    for item in items:
        marker = item.get_closest_marker("pipeline_runs")
        module = item.nodeid.split("::")[0]
        runs[module] = max(runs.get(module, 0), marker.args[0] if marker else 0)
    items.sort(key=lambda item: -runs[item.nodeid.split("::")[0]])


@pytest.fixture(scope="session", autouse=True)
def _dbt_target_per_worker_and_no_shared_dagster_home(tmp_path_factory: pytest.TempPathFactory):
    """Every dbt this test process starts (dagster-dbt's steps, `dbt` subprocesses, `winback`
    subprocesses) writes its target/ files and dbt.log under this worker's temporary folder,
    not in dbt_project/target: a `dbt ls` or `dbt test` rewriting target/manifest.json there
    while another worker's process loads the definitions from it would hand that process half
    a file. dbt and dagster-dbt both read DBT_TARGET_PATH; dbt_project/target keeps the
    manifest that `make manifest` built, and its parse state seeds this folder's.

    DAGSTER_HOME (which `make` exports as the repository's .dagster_home) is unset for the
    session: runs in process use an ephemeral instance, and a test that needs a persistent one
    sets it under its own tmp_path."""
    from orchestration.lib.settings import DBT_PROJECT_DIR

    target = tmp_path_factory.getbasetemp() / "dbt_target"
    target.mkdir(exist_ok=True)
    state = DBT_PROJECT_DIR / "target" / "partial_parse.msgpack"
    if state.exists():
        shutil.copyfile(state, target / state.name)
    saved = {name: os.environ.get(name)
             for name in ("DBT_TARGET_PATH", "DBT_LOG_PATH", "DAGSTER_HOME")}
    os.environ["DBT_TARGET_PATH"] = os.environ["DBT_LOG_PATH"] = str(target)
    os.environ.pop("DAGSTER_HOME", None)
    yield target
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session", autouse=True)
def session_dbt_fork_server(_dbt_target_per_worker_and_no_shared_dagster_home
                            ) -> Iterator[ForkServer | None]:
    """One dbt fork server per test process, as `winback run` starts one per run: the pipeline
    runs in this process, and the `winback` commands it starts (they find the server in the
    environment), fork their dbt steps from it instead of importing dbt for each
    (orchestration/defs/dbt/fork_server.py). As a run's server does, it parses the project
    before its first fork, with the default configuration's vars: the parse fills dbt's caches
    (its (de)serialisers, the modules of its behaviour flags), which each forked step then
    starts with instead of filling them itself. Its parse state goes to this worker's target
    folder, where a test's first step starts from it: the test's own warehouse path does not
    make dbt parse again (parse_check.py), only a configuration models read does, or another
    database name: dbt-duckdb names the database after the file, so the parse ahead names its
    file as the tests name theirs (tests/daily_run.py: warehouse.duckdb). Yields the server
    (None without fork()), for the tests of the server itself that can use this one."""
    from orchestration.defs.dbt.args import dbt_parse_ahead_args
    from orchestration.defs.dbt.fork_server import dbt_fork_server
    from orchestration.lib.audiences import audiences_for
    from orchestration.lib.policies import policies_for
    from orchestration.lib.settings import load_settings

    settings = load_settings(environ={"WINBACK_WAREHOUSE": str(
        _dbt_target_per_worker_and_no_shared_dagster_home / "warehouse.duckdb")})
    ahead = dbt_parse_ahead_args(settings, policies_for(settings), audiences_for(settings))
    with dbt_fork_server("duckdb", ahead) as server:
        yield server


@pytest.fixture(scope="session", autouse=True)
def _ad_platforms_without_minimum_sizes(tmp_path_factory: pytest.TempPathFactory):
    """The hand-made data sets hold a few customers, so every ad platform list is below the
    platforms' minimum audience size (100) and its export would fail the step: runs use
    config/platforms.yml without min_rows (WINBACK_PLATFORMS). Tests of the minimum set
    WINBACK_PLATFORMS back to config/platforms.yml."""
    from platforms_fixture import platforms_without_minimums

    saved = os.environ.get("WINBACK_PLATFORMS")
    os.environ["WINBACK_PLATFORMS"] = str(
        platforms_without_minimums(tmp_path_factory.getbasetemp()))
    yield
    if saved is None:
        os.environ.pop("WINBACK_PLATFORMS", None)
    else:
        os.environ["WINBACK_PLATFORMS"] = saved


@pytest.fixture(scope="session", autouse=True)
def _spark_jvms_for_little_data() -> Iterator[None]:
    """Every Spark JVM of the suite (dbt's session, the copy and gate children) is short-lived
    and reads a few rows: the C1 compiler only and the serial collector take 40 % less CPU
    a pipeline run than the JVM's defaults (README, "Running on PostgreSQL or Spark"). C1 alone
    gets a smaller code cache by default, which Spark's generated classes filled ("Out of space
    in CodeCache", the SparkContext stopped): the tiered default's size is kept."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("WINBACK_SPARK_JAVA_OPTIONS", "-XX:TieredStopAtLevel=1 "
                           "-XX:ReservedCodeCacheSize=256m -XX:+UseSerialGC")
        yield


@pytest.fixture(autouse=True)
def _failure_logs_in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Commands called in process write their failure logs under the test's folder, not data/."""
    monkeypatch.setenv("WINBACK_LOG_DIR", str(tmp_path / "logs"))


@pytest.fixture
def duckdb_databases_started(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The database paths `duckdb.connect` was asked to start from here on (a cursor of an open
    connection starts none): how often a run pays DuckDB's ~20 ms start (lib/warehouse.py)."""
    import duckdb

    started: list[str] = []
    real_connect = duckdb.connect

    def counting(database=":memory:", *args, **kwargs):
        started.append(str(database))
        return real_connect(database, *args, **kwargs)

    monkeypatch.setattr(duckdb, "connect", counting)
    return started


@pytest.fixture(scope="session")
def fixture_run(tmp_path_factory: pytest.TempPathFactory,
                _dbt_target_per_worker_and_no_shared_dagster_home):
    """The hand-made landing fixture run once per session as of its date, by the first
    pytest-xdist worker that needs it (tests/fixture_run.py): read its folders and events as
    they are; to write, copy it first (`fixture_run.copy(tmp_path)`). The dbt target fixture
    comes first: the run's dbt steps write under the worker's folder."""
    from fixture_run import changed_files, session_fixture_run

    run = session_fixture_run(tmp_path_factory)
    before = run.snapshot()
    yield run
    changed = changed_files(before, run.snapshot())
    assert not changed, (f"a test wrote into the shared fixture run ({changed[:5]}): "
                         "it must work on fixture_run.copy(tmp_path)")

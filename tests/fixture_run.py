"""One daily run of the hand-made landing fixture (tests/landing_fixture.py) as of its date, with
the default configuration, shared by the tests of the whole session (tests/conftest.py's
`fixture_run`, session-scoped, built on first use). Under pytest-xdist the first worker that
needs it builds it in the session's temporary folder, which all workers share, holding a file
lock; a worker that needs it later (or meanwhile: it waits for the lock) reads the same folders
and takes the run's events from a copy of the run's Dagster instance, so the suite pays for one
run, not one per worker.

A test that only reads what the run wrote (marts, exports, metadata, the run's events) uses
`fixture_run.root` and `fixture_run.result` as they are; a test that writes (another run, a
changed file) works on `fixture_run.copy(tmp_path)`. The run is recorded in a Dagster instance
of its own (`root/dagster_home`), which a copy carries along for tests that look at it (the UI).
The session checks at its end that no test wrote into the shared folders."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from daily_run import run_daily
from landing_fixture import AS_OF, write_landing

from orchestration.definitions import defs
from orchestration.lib.dagster_home import ensure_dagster_yaml
from orchestration.lib.settings import DBT_PROJECT_DIR, Settings, load_settings

HOME = "dagster_home"
DBT_STEPS = "dbt_steps"
JOB = "winback_daily"
PLANNED_EVENTS = {dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
                  dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED}


@dataclass(frozen=True)
class FixtureRun:
    root: Path  # landing/, warehouse.duckdb, exports/, serving/, report/, dagster_home/, dbt_steps/
    result: dg.ExecuteInProcessResult

    @property
    def dbt_steps(self) -> Path:
        """Copies of the run's dbt invocation folders (dbt.log, run_results.json, the SQL run),
        taken as the run ended: the originals, in the target folder of the test process that
        ran it, go as later runs there keep only each step's newest (state.KEEP_INVOCATIONS)."""
        return self.root / DBT_STEPS

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    def copy(self, dest: Path) -> Path:
        """The run's folders copied into `dest` (created; it may exist empty), laid out as
        tests/daily_run.py expects, so `run_daily(dest, ...)` continues from this run. The
        serving publication's relative links stay links, and the copied Dagster instance gets a
        dagster.yaml naming its own folder."""
        shutil.copytree(self.root, dest, symlinks=True, dirs_exist_ok=True)
        (dest / HOME / "dagster.yaml").unlink()
        ensure_dagster_yaml(dest / HOME)
        return dest

    def copy_settings(self, dest: Path) -> Settings:
        """The settings of a run as of the fixture's date on `copy(dest)`'s warehouse (default
        configuration), for a test that runs dbt itself on the run's state."""
        root = self.copy(dest)
        return load_settings(environ={}, overrides={
            "WINBACK_AS_OF": AS_OF, "WINBACK_WAREHOUSE": str(root / "warehouse.duckdb")})

    def snapshot(self) -> dict[str, tuple[int, int]]:
        """Size and modification time of every file and link under the root."""
        return {
            str(path.relative_to(self.root)): (stat.st_size, stat.st_mtime_ns)
            for path in sorted(self.root.rglob("*"))
            if not path.is_dir() or path.is_symlink()
            for stat in [path.lstat()]
        }


def build_fixture_run(root: Path) -> FixtureRun:
    write_landing(root / "landing")
    home = root / HOME
    ensure_dagster_yaml(home)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        result = run_daily(root, AS_OF, instance=instance)
    target = DBT_PROJECT_DIR / os.environ.get("DBT_TARGET_PATH", "target")
    for folder in target.glob(f"*-{result.run_id[:7]}-*"):
        shutil.copytree(folder, root / DBT_STEPS / folder.name)
    return FixtureRun(root=root, result=result)


def load_fixture_run(root: Path, run_id: str, work: Path) -> FixtureRun:
    """The run another process built in `root`, its events read from a copy of its Dagster
    instance under `work` (opening the instance itself could write to the shared folder)."""
    home = work / HOME
    shutil.copytree(root / HOME, home)
    (home / "dagster.yaml").unlink()
    ensure_dagster_yaml(home)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        run = instance.get_run_by_id(run_id)
        # The instance also holds the events stored as the run was created (the planned
        # materializations and checks), which an in-process result does not list.
        events = [entry.dagster_event for entry in instance.all_logs(run_id)
                  if entry.is_dagster_event
                  and entry.dagster_event.event_type not in PLANNED_EVENTS]
    assert run is not None and events, f"no run {run_id} in {root / HOME}"
    result = dg.ExecuteInProcessResult(event_list=events, dagster_run=run,
                                       output_capture=None, job_def=defs.resolve_job_def(JOB))
    return FixtureRun(root=root, result=result)


def session_fixture_run(tmp_path_factory) -> FixtureRun:
    """Built here, or read from the worker that built it (module docstring). The run's id is
    written beside the run's folder once the run succeeded: a folder without it is what a failed
    or killed build left, and is built again."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return build_fixture_run(tmp_path_factory.mktemp("fixture_run"))
    shared = tmp_path_factory.getbasetemp().parent  # the session's, above each worker's own
    root, done = shared / "fixture_run", shared / "fixture_run.run_id"
    with (shared / "fixture_run.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if done.exists():
            built = json.loads(done.read_text())
            return load_fixture_run(root, built["run_id"],
                                    tmp_path_factory.mktemp("fixture_run_events"))
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir()
        run = build_fixture_run(root)
        done.write_text(json.dumps({"run_id": run.result.run_id}))
        return run


def changed_files(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]
                  ) -> list[str]:
    return sorted(name for name in before.keys() | after.keys()
                  if before.get(name) != after.get(name))


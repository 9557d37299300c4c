"""One daily run of the hand-made landing fixture (tests/landing_fixture.py) as of its date, with
the default configuration, shared by the tests of a test process (tests/conftest.py's
`fixture_run`, session-scoped: built once per pytest-xdist worker, on first use).

A test that only reads what the run wrote (marts, exports, metadata, the run's events) uses
`fixture_run.root` and `fixture_run.result` as they are; a test that writes (another run, a
changed file) works on `fixture_run.copy(tmp_path)`. The run is recorded in a Dagster instance
of its own (`root/dagster_home`), which a copy carries along for tests that look at it (the UI).
The session checks at its end that no test wrote into the shared folders."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from daily_run import run_daily
from landing_fixture import AS_OF, write_landing

from orchestration.lib.dagster_home import ensure_dagster_yaml

HOME = "dagster_home"


@dataclass(frozen=True)
class FixtureRun:
    root: Path  # landing/, warehouse.duckdb, exports/, serving/, report/, dagster_home/
    result: dg.ExecuteInProcessResult

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
    return FixtureRun(root=root, result=result)


def changed_files(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]
                  ) -> list[str]:
    return sorted(name for name in before.keys() | after.keys()
                  if before.get(name) != after.get(name))


"""The run-settings resource shared by every asset; it also holds the run lock for the run and
keeps the warehouse open between the run's steps."""

from contextlib import ExitStack
from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from orchestration.lib import run_lock
from orchestration.lib.run_config import run_as_of
from orchestration.lib.settings import Settings, load_settings
from orchestration.lib.warehouse import kept_open


class WinbackConfig(dg.ConfigurableResource):
    """Run settings. Empty fields fall back to the WINBACK_* environment variables, then to the
    local defaults. The as-of date is the run's daily partition (a run without one, which only
    loads files, falls back to WINBACK_AS_OF or today): there is no as-of field to set, so the
    partition key is the one way a date reaches the assets and dbt. The settings (and so every
    configuration file path) are built once per run and shared by all its steps.

    Setting the resource up for a run takes the run lock beside the warehouse; tearing it down
    releases it. The in-process executor sets resources up once per run, so every run of the
    daily job holds the lock from its first step to its last however it was started (CLI, UI,
    schedule, sensor). A Dagster concurrency pool would not cover `winback run`, which executes
    in process outside the run queue, and a file lock also serialises runs recorded in different
    Dagster instances. Sensor evaluations build the resource without a run and take no lock.
    While it holds the lock, the run's connections to the warehouse share one open database
    (lib/warehouse.py `kept_open`) instead of starting one each."""

    landing_dir: str = ""
    warehouse: str = ""
    export_dir: str = ""
    serving_dir: str = ""

    _settings: Settings | None = PrivateAttr(default=None)
    _lock: Path | None = PrivateAttr(default=None)
    _kept: ExitStack | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        as_of = run_as_of(context.dagster_run.tags) if context.dagster_run is not None else None
        self._settings = self._load(as_of.isoformat() if as_of else "")
        if context.dagster_run is not None:
            path = run_lock.run_lock_path(self._settings.warehouse)
            run_lock.acquire(path, self._settings.run_wait_seconds, context.log.warning)
            self._lock = path
            self._kept = ExitStack()
            self._kept.enter_context(kept_open(self._settings.warehouse))

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._kept is not None:
            self._kept.close()
            self._kept = None
        if self._lock is not None:
            run_lock.release(self._lock)
            self._lock = None

    def _load(self, as_of: str = "") -> Settings:
        return load_settings(
            overrides={
                "WINBACK_AS_OF": as_of,
                "WINBACK_LANDING_DIR": self.landing_dir,
                "WINBACK_WAREHOUSE": self.warehouse,
                "WINBACK_EXPORT_DIR": self.export_dir,
                "WINBACK_SERVING_DIR": self.serving_dir,
            }
        )

    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = self._load()
        return self._settings

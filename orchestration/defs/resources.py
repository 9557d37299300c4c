"""The run-settings resource shared by every asset."""

import dagster as dg
from pydantic import PrivateAttr

from orchestration.lib.settings import Settings, load_settings


class WinbackConfig(dg.ConfigurableResource):
    """Run settings. Empty fields fall back to the WINBACK_* environment variables, then to the
    local defaults; the daily schedule sets `as_of` to the scheduled date. The settings (and so
    every configuration file path) are built once per run and shared by all its steps."""

    as_of: str = ""
    landing_dir: str = ""
    warehouse: str = ""
    export_dir: str = ""

    _settings: Settings | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._settings = self._load()

    def _load(self) -> Settings:
        return load_settings(
            overrides={
                "WINBACK_AS_OF": self.as_of,
                "WINBACK_LANDING_DIR": self.landing_dir,
                "WINBACK_WAREHOUSE": self.warehouse,
                "WINBACK_EXPORT_DIR": self.export_dir,
            }
        )

    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = self._load()
        return self._settings

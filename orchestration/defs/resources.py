"""The run-settings resource shared by every asset."""


import dagster as dg

from orchestration.lib.settings import Settings, load_settings


class WinbackConfig(dg.ConfigurableResource):
    """Run settings. Empty fields fall back to the WINBACK_* environment variables, then to the
    local defaults; the daily schedule sets `as_of` to the scheduled date."""

    as_of: str = ""
    landing_dir: str = ""
    warehouse: str = ""
    export_dir: str = ""

    def settings(self) -> Settings:
        return load_settings(
            overrides={
                "WINBACK_AS_OF": self.as_of,
                "WINBACK_LANDING_DIR": self.landing_dir,
                "WINBACK_WAREHOUSE": self.warehouse,
                "WINBACK_EXPORT_DIR": self.export_dir,
            }
        )

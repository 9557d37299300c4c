"""The dbt CLI resource, without two fixed costs dagster-dbt pays before every dbt step."""

from __future__ import annotations

import sys
from functools import cached_property
from importlib.metadata import version as package_version
from pathlib import Path

from dagster_dbt import DbtCliResource
from packaging import version


class WinbackDbtCliResource(DbtCliResource):
    """dagster-dbt runs `dbt --version` to learn which dbt it drives (a dbt start-up plus a
    question to PyPI for the latest release: ~5 s wall) and, before every invocation, loads the
    project's macros into an in-process adapter (~2 s CPU) that only serves `fetch_column_metadata`
    and `fetch_row_counts`, which this project does not use. The dbt beside this Python (and the
    `winback-dbt` launcher, which runs it) is the installed dbt-core, so its version is the
    package's; without the adapter, dagster-dbt streams events as it does for the Fusion engine."""

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable) in {Path(sys.executable).parent / name
                                         for name in ("dbt", "winback-dbt")}:
            return version.parse(package_version("dbt-core"))
        return super()._cli_version

    def _initialize_dbt_core_adapter(self, args: list[str]) -> None:
        return None

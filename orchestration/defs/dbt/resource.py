"""The dbt CLI resource, without two fixed costs dagster-dbt pays before every dbt step."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cached_property
from importlib.metadata import version as package_version
from pathlib import Path

from dagster_dbt import DbtCliInvocation, DbtCliResource
from packaging import version


class WinbackDbtCliResource(DbtCliResource):
    """dagster-dbt runs `dbt --version` to learn which dbt it drives (a dbt start-up plus a
    question to PyPI for the latest release: ~5 s wall) and, before every invocation, loads the
    project's macros into an in-process adapter (~2 s CPU) that only serves `fetch_column_metadata`
    and `fetch_row_counts`, which this project does not use. The dbt beside this Python is the
    installed dbt-core, so its version is the package's; without the adapter, dagster-dbt
    streams events as it does for the Fusion engine."""

    @cached_property
    def _cli_version(self) -> version.Version:
        if Path(self.dbt_executable) == Path(sys.executable).parent / "dbt":
            return version.parse(package_version("dbt-core"))
        return super()._cli_version

    def _initialize_dbt_core_adapter(self, args: list[str]) -> None:
        return None

    def cli(self, args: Sequence[str], *, env: Mapping[str, str] | None = None,
            **kwargs) -> DbtCliInvocation:
        """dagster-dbt's `cli`, with `env` added to the environment of this one dbt process
        (dagster-dbt copies os.environ when it starts dbt, before this returns)."""
        with _environment(env or {}):
            return super().cli(args, **kwargs)


@contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

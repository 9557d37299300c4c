from importlib.metadata import version as package_version

import dagster_dbt.core.resource
from dagster_dbt import DbtCliResource

from orchestration.defs.dbt.args import dbt_executable
from orchestration.defs.dbt.project import winback_project
from orchestration.defs.dbt.resource import WinbackDbtCliResource


def test_the_dbt_beside_this_python_is_known_without_starting_dbt(monkeypatch):
    # Regression: dagster-dbt ran `dbt --version` (dbt start-up and a PyPI request) per run.
    def no_subprocess(*args, **kwargs):
        raise AssertionError(f"started {args}")

    monkeypatch.setattr(dagster_dbt.core.resource, "check_output", no_subprocess)
    resource = WinbackDbtCliResource(project_dir=winback_project, dbt_executable=dbt_executable())
    assert str(resource._cli_version) == package_version("dbt-core")


def test_no_in_process_dbt_adapter_is_built_before_a_dbt_step():
    resource = WinbackDbtCliResource(project_dir=winback_project, dbt_executable=dbt_executable())
    assert resource._initialize_dbt_core_adapter(["build"]) is None


def test_the_overridden_hooks_are_still_dagster_dbts():
    # A dagster-dbt upgrade that renames them would silently bring both costs back.
    assert {"_cli_version", "_initialize_dbt_core_adapter"} <= set(vars(DbtCliResource))

"""The dbt project as Dagster assets; dbt tests become asset checks."""


import shutil
import sys
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.defs.dbt.project import winback_project
from orchestration.defs.dbt.translator import WinbackDbtTranslator
from orchestration.defs.resources import WinbackConfig
from orchestration.lib.dbt_args import dbt_build_args


@dbt_assets(
    manifest=winback_project.manifest_path,
    project=winback_project,
    dagster_dbt_translator=WinbackDbtTranslator(),
)
def winback_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, winback: WinbackConfig
):
    yield from dbt.cli(dbt_build_args(winback.settings()), context=context).stream()


def dbt_executable() -> str:
    """The dbt installed beside this Python (a venv's bin/ need not be on PATH)."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


defs = dg.Definitions(
    assets=[winback_dbt_models],
    resources={"dbt": DbtCliResource(project_dir=winback_project, dbt_executable=dbt_executable())},
)

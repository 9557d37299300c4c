"""The dbt project as Dagster assets; dbt tests become asset checks."""


import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.defs.dbt.project import winback_project
from orchestration.defs.dbt.translator import WinbackDbtTranslator
from orchestration.defs.resources import WinbackConfig
from orchestration.lib.dbt_args import dbt_build_args, dbt_executable


@dbt_assets(
    manifest=winback_project.manifest_path,
    project=winback_project,
    dagster_dbt_translator=WinbackDbtTranslator(),
)
def winback_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, winback: WinbackConfig
):
    yield from dbt.cli(dbt_build_args(winback.settings()), context=context).stream()


defs = dg.Definitions(
    assets=[winback_dbt_models],
    resources={"dbt": DbtCliResource(project_dir=winback_project, dbt_executable=dbt_executable())},
)

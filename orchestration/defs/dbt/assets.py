"""The dbt project as Dagster assets; dbt tests become asset checks."""


import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.defs.dbt.project import winback_project
from orchestration.defs.dbt.translator import WinbackDbtTranslator
from orchestration.defs.hygiene.summary import SUMMARY_MODEL, with_hygiene_summary
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
    settings = winback.settings()
    events = dbt.cli(dbt_build_args(settings), context=context).stream()
    yield from with_hygiene_summary(
        events,
        lambda output: context.asset_key_for_output(output.output_name).path[-1] == SUMMARY_MODEL,
        settings.warehouse,
    )


defs = dg.Definitions(
    assets=[winback_dbt_models],
    resources={"dbt": DbtCliResource(project_dir=winback_project, dbt_executable=dbt_executable())},
)

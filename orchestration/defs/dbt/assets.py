"""The dbt project as Dagster assets in two steps; dbt tests become asset checks.

Models that read the statistical predictions (dbt sources in the `predictions` schema, written
by orchestration/defs/predictions) and everything downstream of them run in a second step,
after those Python assets; every other model runs in the first. Both steps select by the dbt
graph itself, so a new model lands in the right step without a tag. One run of the daily job
resolves dbt -> BG/NBD -> dbt in order.
"""

from collections.abc import Sequence

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.defs.dbt.args import dbt_build_args, dbt_engine_environment, dbt_launcher
from orchestration.defs.dbt.engine_copy import (
    built_relations,
    on_engine,
    pull_tables,
    push_sources,
    step_sources,
)
from orchestration.defs.dbt.project import dbt_manifest, winback_project
from orchestration.defs.dbt.resource import WinbackDbtCliResource
from orchestration.defs.dbt.state import (
    RUN_CONTEXT_SCHEMA,
    RUN_CONTEXT_TABLE,
    keep_partial_parse,
    prune_invocation_folders,
    write_run_context,
)
from orchestration.defs.dbt.table_stats import with_table_stats
from orchestration.defs.dbt.translator import WinbackDbtTranslator
from orchestration.defs.resources import WinbackConfig
from orchestration.lib.audiences import audiences_for
from orchestration.lib.policies import policies_for
from orchestration.lib.run_config import daily_partitions, one_date_per_run
from orchestration.lib.warehouse import release

AFTER_PREDICTIONS = "source:predictions+"
# Every model is computed as of the run's date (staging keeps the versions delivered by then), so
# all of them are daily-partitioned; dagster-dbt's default would backfill a range of dates in one
# dbt invocation.


def _build(context: dg.AssetExecutionContext, dbt: DbtCliResource, winback: WinbackConfig,
           *, after_statistics: bool):
    settings = winback.settings()
    write_run_context(settings, context.run_id)
    after_dbt = None
    if on_engine(settings):
        manifest = dbt_manifest()
        # The as-of date goes with the sources: on Spark one child process (one JVM start).
        rows = push_sources(settings, [
            *step_sources(manifest, after_statistics=after_statistics),
            (RUN_CONTEXT_SCHEMA, RUN_CONTEXT_TABLE)])
        context.log.info(f"{rows} source rows written to {settings.engine.name}")

        def after_dbt(nodes):
            rows = pull_tables(settings, built_relations(nodes))
            context.log.info(f"{rows} rows of dbt tables copied from {settings.engine.name}")

    # dagster-dbt adds the selection of this step (and of the run's asset subset).
    args = dbt_build_args(settings, policies_for(settings), audiences_for(settings))
    release(settings.warehouse)  # dbt's process opens the file (lib/warehouse.py)
    with dbt_engine_environment(settings.engine):
        invocation = dbt.cli(args, context=context)
    try:
        # The step fails if a selected model's or test's result never arrived (with_table_stats).
        assets_def = context.assets_def
        expected = {
            **{name: key.to_user_string() for name, key in assets_def.keys_by_output_name.items()
               if key in context.selected_asset_keys},
            **{name: spec.key.to_user_string()
               for name, spec in assets_def.check_specs_by_output_name.items()
               if spec.key in context.selected_asset_check_keys},
        }
        yield from with_table_stats(invocation, settings.warehouse, context.log.warning,
                                    after_dbt, expected)
        # dagster-dbt seeds each invocation's folder from the partial parse file of its parent.
        keep_partial_parse(invocation.target_path, invocation.target_path.parent)
    finally:
        prune_invocation_folders(invocation.target_path.parent, context.op_def.name)


@dbt_assets(
    manifest=winback_project.manifest_path,
    project=winback_project,
    dagster_dbt_translator=WinbackDbtTranslator(),
    exclude=AFTER_PREDICTIONS,
    name="winback_dbt_models",
    partitions_def=daily_partitions,
    backfill_policy=one_date_per_run,
)
def winback_dbt_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, winback: WinbackConfig
):
    yield from _build(context, dbt, winback, after_statistics=False)


@dbt_assets(
    manifest=winback_project.manifest_path,
    project=winback_project,
    dagster_dbt_translator=WinbackDbtTranslator(),
    select=AFTER_PREDICTIONS,
    name="winback_dbt_models_after_statistics",
    partitions_def=daily_partitions,
    backfill_policy=one_date_per_run,
)
def winback_dbt_models_after_statistics(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, winback: WinbackConfig
):
    yield from _build(context, dbt, winback, after_statistics=True)


DBT_ASSETS: Sequence[dg.AssetsDefinition] = (
    winback_dbt_models,
    winback_dbt_models_after_statistics,
)


defs = dg.Definitions(
    assets=list(DBT_ASSETS),
    resources={"dbt": WinbackDbtCliResource(project_dir=winback_project,
                                            dbt_executable=dbt_launcher())},
)

"""The serving publication of the marts as the last asset of the graph."""

import dagster as dg

from orchestration.defs.dbt.keys import dbt_model_key
from orchestration.defs.dbt.project import dbt_manifest
from orchestration.defs.resources import WinbackConfig
from orchestration.defs.serving.publish import STORAGE_VERSION, publish, served_tables
from orchestration.lib.run_config import daily_partitions, one_date_per_run

# Every mart, by dbt model name: the copy is published only after all of them were rebuilt.
MARTS = (
    "audience_membership_daily",
    "audience_membership_history",
    "reactivation_outcomes",
    "reactivation_outcomes_revenue",
    "reactivation_outcomes_by_variant",
    "sync_audience_members",
    "sync_suppression_members",
    "customer_activity",
    "customer_revenue_by_currency",
    "contact_hygiene",
    "contact_hygiene_summary",
    "customer_churn_monthly",
    "customer_inactivity_status",
    "customer_status_changes",
    "customer_status_history",
    "customer_status_runs",
    "customer_status_transitions",
    "bgnbd_holdout_by_frequency",
    "bgnbd_holdout_by_p_alive_decile",
    "audience_sizes",
    "audience_overlap",
    "metric_churn_rate_monthly",
    "metric_reactivation_rate_monthly",
    "metric_lift",
    "metric_contactable_share",
    "metric_revenue_at_risk",
)

SERVING_WAREHOUSE = dg.AssetKey(["serving", "warehouse"])


# A multi_asset of one spec: @asset flags its backfill_policy parameter as beta on every import.
@dg.multi_asset(
    specs=[dg.AssetSpec(
        key=SERVING_WAREHOUSE,
        group_name="serving",
        deps=[dbt_model_key(model) for model in MARTS],
        description=(
            "The marts as readers see them: Parquet files, a DuckDB file readable by DuckDB 1.x "
            "and a manifest in WINBACK_SERVING_DIR, swapped in as a whole after each successful "
            "run. Ids and metrics only, unless WINBACK_SERVING_PERSONAL_DATA is set. Analysts and "
            "BI tools read here, never the warehouse, so they can never make a run fail."
        ),
    )],
    name="serving__warehouse",  # the step key @asset gave it
    partitions_def=daily_partitions,
    backfill_policy=one_date_per_run,
)
def serving_warehouse(context: dg.AssetExecutionContext,
                      winback: WinbackConfig) -> dg.MaterializeResult:
    settings = winback.settings()
    manifest = dbt_manifest()
    tables = served_tables(manifest, personal_data=settings.serving_personal_data)
    publication = publish(settings.warehouse, settings.serving_dir, tables,
                          as_of=settings.as_of, run_id=context.run_id,
                          personal_data=settings.serving_personal_data)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(publication.path)),
            "publication_id": publication.id,
            "tables": publication.tables,
            "rows": publication.rows,
            "bytes": publication.bytes,
            "personal_data": publication.personal_data,
            "storage_version": STORAGE_VERSION,
        }
    )


defs = dg.Definitions(assets=[serving_warehouse])

"""The serving copy of the warehouse as the last asset of the graph."""

import dagster as dg

from orchestration.defs.dbt.keys import dbt_model_key
from orchestration.defs.resources import WinbackConfig
from orchestration.defs.serving.publish import STORAGE_VERSION, publish_serving_copy
from orchestration.lib.run_config import daily_partitions, one_date_per_run

# Every mart, by dbt model name: the copy is published only after all of them were rebuilt.
MARTS = (
    "audience_membership_daily",
    "audience_membership_history",
    "reactivation_outcomes",
    "reactivation_outcomes_revenue",
    "sync_audience_members",
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
)

SERVING_WAREHOUSE = dg.AssetKey(["serving", "warehouse"])


# A multi_asset of one spec: @asset flags its backfill_policy parameter as beta on every import.
@dg.multi_asset(
    specs=[dg.AssetSpec(
        key=SERVING_WAREHOUSE,
        group_name="serving",
        deps=[dbt_model_key(model) for model in MARTS],
        description=(
            "The warehouse as readers see it: a copy in WINBACK_SERVING_DIR, replaced atomically "
            "after each successful run and readable by DuckDB 1.x. Analysts and BI tools connect "
            "here, never to the warehouse, so they can never make a run fail."
        ),
    )],
    name="serving__warehouse",  # the step key @asset gave it
    partitions_def=daily_partitions,
    backfill_policy=one_date_per_run,
)
def serving_warehouse(winback: WinbackConfig) -> dg.MaterializeResult:
    settings = winback.settings()
    copy = publish_serving_copy(settings.warehouse, settings.serving_dir)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(copy.path)),
            "tables": copy.tables,
            "views": copy.views,
            "bytes": copy.bytes,
            "storage_version": STORAGE_VERSION,
        }
    )


defs = dg.Definitions(assets=[serving_warehouse])

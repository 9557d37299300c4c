"""The report as the asset after the serving publication."""

import dagster as dg

from orchestration.defs.dbt.keys import dbt_model_key
from orchestration.defs.report.build import build_report
from orchestration.defs.resources import WinbackConfig
from orchestration.defs.serving.assets import SERVING_WAREHOUSE
from orchestration.lib.run_config import daily_partitions, one_date_per_run

REPORT = dg.AssetKey(["report", "html"])


# A multi_asset of one spec: @asset flags its backfill_policy parameter as beta on every import.
@dg.multi_asset(
    specs=[dg.AssetSpec(
        key=REPORT,
        group_name="report",
        deps=[SERVING_WAREHOUSE, dbt_model_key("audience_membership_history")],
        description=(
            "A static HTML page of charts of the serving publication of its date: status mix, "
            "customers becoming inactive and reactivated, monthly churn rate, revenue at risk, "
            "contactable share and hygiene reasons, audience sizes and changes, lift with its "
            "interval and the P(alive) distribution. One file that opens offline (inline SVG, no "
            "script, no CDN); aggregates and ids only, never contact data. Written to "
            "WINBACK_REPORT."
        ),
    )],
    name="report__html",  # the step key @asset gave it
    partitions_def=daily_partitions,
    backfill_policy=one_date_per_run,
)
def report_html(winback: WinbackConfig) -> dg.MaterializeResult:
    settings = winback.settings()
    report = build_report(settings.serving_dir, settings.warehouse, settings.report_path)
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(report.path)),
        "charts": report.charts,
        "publication_id": report.publication_id,
    })


defs = dg.Definitions(assets=[report_html])

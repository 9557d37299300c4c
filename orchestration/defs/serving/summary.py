"""Headline metrics of the current serving publication, as lines for a terminal summary.

They are read from the metric tables (dbt_project/models/marts/metrics), where each formula is
defined once, in the publication readers see, so the summary shows what BI shows.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from orchestration.defs.serving.publish import DATABASE, MANIFEST, current_publication
from orchestration.lib.formatting import lift_text, percent


def metric_summary(serving_dir: Path) -> list[str]:
    """Lines about the current publication: where it is, as of when, and its headline metrics."""
    folder = current_publication(serving_dir)
    manifest = json.loads((folder / MANIFEST).read_text())
    lines = [f"serving publication {manifest['publication_id']} as of {manifest['as_of_date']}: "
             f"{len(manifest['tables'])} tables"
             + (" (with personal data)" if manifest["personal_data"] else "")]
    with duckdb.connect(str(folder / DATABASE), read_only=True) as con:
        churn = con.execute(
            "SELECT month_start, churn_rate, lost, active_at_start "
            "FROM metrics.metric_churn_rate_monthly WHERE is_complete_month "
            "ORDER BY month_start DESC LIMIT 1").fetchall()
        lines += [f"churn rate {month:%Y-%m}: {percent(rate)} ({lost:,} of {active:,})"
                  for month, rate, lost, active in churn]
        reactivation = con.execute(
            "SELECT month_start, reactivation_rate, reactivated, dormant_at_start "
            "FROM metrics.metric_reactivation_rate_monthly WHERE is_complete_month "
            "ORDER BY month_start DESC LIMIT 1").fetchall()
        lines += [f"reactivation rate {month:%Y-%m}: {percent(rate)} ({won:,} of {dormant:,})"
                  for month, rate, won, dormant in reactivation]
        lines += [f"contactable by {channel}: {percent(share)} ({contactable:,} of {customers:,})"
                  for channel, share, contactable, customers in con.execute(
                      "SELECT channel, contactable_share, contactable_customers, customers "
                      "FROM metrics.metric_contactable_share ORDER BY channel").fetchall()]
        lines += [f"revenue at risk ({currency}): {at_risk:,.2f} of {revenue:,.2f}"
                  for currency, at_risk, revenue in con.execute(
                      "SELECT currency, sum(revenue_at_risk), sum(revenue) "
                      "FROM metrics.metric_revenue_at_risk WHERE currency IS NOT NULL "
                      "GROUP BY currency ORDER BY currency").fetchall()]
        lines += [f"lift {audience}: {lift_text(lift, low, high)}"
                  for audience, lift, low, high in con.execute(
                      "SELECT audience, absolute_lift, lift_ci_low, lift_ci_high "
                      "FROM metrics.metric_lift WHERE absolute_lift IS NOT NULL "
                      "ORDER BY audience").fetchall()]
    return lines

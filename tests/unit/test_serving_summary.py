"""The terminal summary reads the headline metrics from the metric tables of the publication."""

import datetime as dt

import duckdb

from orchestration.defs.serving.publish import publish, served_tables
from orchestration.defs.serving.summary import metric_summary

TABLES = {
    "metric_churn_rate_monthly": (
        "SELECT * FROM (VALUES (DATE '2026-05-01', 0.25, 2, 8, true), "
        "(DATE '2026-06-01', 0.5, 1, 2, false)) "
        "t(month_start, churn_rate, lost, active_at_start, is_complete_month)"),
    "metric_reactivation_rate_monthly": (
        "SELECT DATE '2026-05-01' AS month_start, NULL::DOUBLE AS reactivation_rate, "
        "0 AS reactivated, 0 AS dormant_at_start, true AS is_complete_month"),
    "metric_contactable_share": (
        "SELECT * FROM (VALUES ('sms', 0.0, 0, 10), ('email', 0.3, 3, 10)) "
        "t(channel, contactable_share, contactable_customers, customers)"),
    "metric_revenue_at_risk": (
        "SELECT * FROM (VALUES ('GBP', 100.0, 1000.5), ('GBP', 50.0, 50.0), "
        "('EUR', 5.0, 10.0)) t(currency, revenue_at_risk, revenue)"),
    "metric_lift": (
        "SELECT * FROM (VALUES ('a', 0.2, 0.1, 0.3), ('b', NULL, NULL, NULL)) "
        "t(audience, absolute_lift, lift_ci_low, lift_ci_high)"),
}


def test_the_summary_shows_the_metric_tables_of_the_current_publication(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE SCHEMA metrics")
        for name, query in TABLES.items():
            con.execute(f"CREATE TABLE metrics.{name} AS {query}")
        columns = {name: [c for (c,) in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "ORDER BY ordinal_position", [name]).fetchall()] for name in TABLES}
    manifest = {"nodes": {name: {
        "resource_type": "model", "name": name, "alias": name, "schema": "metrics",
        "description": "", "config": {"meta": {"serving": True}},
        "columns": {c: {"name": c, "description": ""} for c in columns[name]},
    } for name in TABLES}}
    serving = tmp_path / "serving"
    publication = publish(warehouse, serving, served_tables(manifest, personal_data=False),
                          as_of=dt.date(2026, 6, 30), run_id="run00001", personal_data=False)
    assert metric_summary(serving) == [
        f"serving publication {publication.id} as of 2026-06-30: 5 tables",
        "churn rate 2026-05: 25.0 % (2 of 8)",
        "reactivation rate 2026-05: n/a (0 of 0)",
        "contactable by email: 30.0 % (3 of 10)",
        "contactable by sms: 0.0 % (0 of 10)",
        "revenue at risk (EUR): 5.00 of 10.00",
        "revenue at risk (GBP): 150.00 of 1,050.50",
        "lift a: +20.0 pp (95% CI +10.0 to +30.0 pp)",
    ]

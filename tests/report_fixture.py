"""A small serving publication and warehouse holding every table the report reads, with rows for
every chart (or none), so report tests need no pipeline run."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

TABLES = {
    "inactivity.customer_status_history": (
        "customer_id varchar, status varchar, valid_from date, valid_to date",
        [("c1", "active", "2026-10-05", "2026-11-02"), ("c1", "inactive", "2026-11-02", None),
         ("c2", "active", "2026-10-05", None), ("c3", "inactive", "2026-10-05", "2026-11-16"),
         ("c3", "reactivated", "2026-11-16", None)]),
    "inactivity.customer_status_transitions": (
        "transition_date date, customer_id varchar, from_status varchar, to_status varchar",
        [("2026-11-02", "c1", "active", "inactive"),
         ("2026-11-16", "c3", "inactive", "reactivated")]),
    "inactivity.customer_inactivity_status": (
        "customer_id varchar, as_of_date date, status varchar, p_alive double, "
        "model_check_passed boolean",
        [("c1", "2026-11-30", "inactive", 0.12, True), ("c2", "2026-11-30", "active", 0.91, True),
         ("c3", "2026-11-30", "reactivated", 1.0, True)]),
    "inactivity.bgnbd_holdout_by_frequency": (
        "as_of_date date, calibration_end_date date, calibration_frequency integer, "
        "predicted_per_customer double, actual_per_customer double",
        [("2026-11-30", "2026-09-01", 0, 0.25, 0.3), ("2026-11-30", "2026-09-01", 1, 0.5, 0.56),
         ("2026-11-30", "2026-09-01", 7, 4.2, 3.9)]),
    "inactivity.bgnbd_holdout_by_p_alive_decile": (
        "p_alive_decile integer, p_alive_mean double, bought_again_share double",
        [(1, 0.05, 0.0), (2, 0.4, 0.2), (10, 0.99, 0.8)]),
    "metrics.metric_churn_rate_monthly": (
        "month_start date, churn_rate double, is_complete_month boolean",
        [("2026-09-01", 0.1, True), ("2026-10-01", 0.25, True), ("2026-11-01", 0.5, False)]),
    "metrics.metric_revenue_at_risk": (
        "rfm_segment varchar, currency varchar, revenue_at_risk double",
        [("champions", "EUR", 120.5), ("hibernating", "EUR", 880.0),
         ("hibernating", "USD", 40.0), ("hibernating", None, 0.0)]),
    "metrics.metric_contactable_share": (
        "channel varchar, contactable_share double",
        [("email", 0.66), ("sms", 0.33)]),
    "contacts.contact_hygiene_summary": (
        "channel varchar, category varchar, code varchar, customers integer",
        [("email", "verdict", "contactable", 2), ("email", "verdict", "no_consent", 1),
         ("sms", "verdict", "invalid_phone", 2), ("sms", "flag", "is_role_address", 1)]),
    "activation.audience_sizes": (
        "as_of_date date, audience varchar, holdout_group varchar, customers integer",
        [("2026-11-29", "winback_email", "treatment", 9), ("2026-11-29", "winback_email",
                                                          "holdout", 1),
         ("2026-11-30", "winback_email", "treatment", 12)]),
    "metrics.metric_lift": (
        "audience varchar, absolute_lift double, lift_ci_low double, lift_ci_high double",
        [("winback_email", 0.05, -0.01, 0.11), ("winback_sms", None, None, None)]),
}
WAREHOUSE_TABLES = {
    "activation.audience_membership_history": (
        "audience varchar, customer_id varchar, entered_on date, left_on date, "
        "exclusion_reason varchar",
        [("winback_email", "c1", "2026-11-29", "2026-11-30", None),
         ("winback_email", "c2", "2026-11-30", None, None),
         ("winback_email", "c3", "2026-11-30", None, "exclusion_group")]),
}


def _create(path: Path, tables: dict, *, rows: bool) -> None:
    with duckdb.connect(str(path)) as con:
        for name, (columns, values) in tables.items():
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {name.split('.')[0]}")
            con.execute(f"CREATE TABLE {name} ({columns})")
            if rows:
                marks = ", ".join("?" * len(values[0]))
                con.executemany(f"INSERT INTO {name} VALUES ({marks})", values)


def write_publication(root: Path, *, rows: bool = True) -> tuple[Path, Path]:
    """A serving folder whose current publication holds the report's tables, and a warehouse;
    returns (serving_dir, warehouse)."""
    serving = root / "serving"
    folder = serving / "publications" / "p1"
    folder.mkdir(parents=True)
    _create(folder / "winback.duckdb", TABLES, rows=rows)
    (folder / "manifest.json").write_text(json.dumps({
        "publication_id": "p1", "as_of_date": "2026-11-30",
        "published_at": "2026-12-01T06:00:00+00:00"}))
    (serving / "current").symlink_to("publications/p1")
    warehouse = root / "warehouse.duckdb"
    _create(warehouse, WAREHOUSE_TABLES, rows=rows)
    return serving, warehouse

"""The summary `winback run` and `winback export` print: what was written where.

Counts, rates and file paths only (audience files relative to the export folder), never row
values, so the terminal holds no personal data.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from orchestration.lib.audiences import AudienceConfig, audiences_for
from orchestration.lib.formatting import lift_text
from orchestration.lib.settings import Settings

SUMMARY_TABLES = (
    "raw.orders",
    "raw.order_items",
    "raw.customers",
    "raw.consent_events",
    "raw.suppressions",
    "raw.erasure_requests",
    "raw.support_tickets",
    "raw.loyalty_ledger",
    "raw.exclusions",
    "raw.quarantine",
    "activity.customer_activity",
    "inactivity.customer_inactivity_status",
    "inactivity.customer_status_changes",
    "inactivity.customer_status_history",
    "inactivity.customer_status_transitions",
    "inactivity.customer_churn_monthly",
    "predictions.customer_bgnbd",
    "contacts.contact_hygiene",
    "activation.sync_audience_members",
    "activation.audience_membership_daily",
    "activation.audience_membership_history",
    "activation.audience_exclusions_daily",
    "activation.audience_overlap",
    "activation.reactivation_outcomes",
)
AUDIENCE_COLUMNS = ("audience", "platform", "rows", "adds", "removes", "since", "file")


def _table(header: tuple[str, ...], rows: Iterable[tuple[str, ...]],
           numeric: set[int]) -> list[str]:
    rows = list(rows)
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]

    def line(row: tuple[str, ...]) -> str:
        cells = [cell.rjust(w) if i in numeric else cell.ljust(w)
                 for i, (cell, w) in enumerate(zip(row, widths, strict=True))]
        return "    " + "  ".join(cells).rstrip()

    return [line(header), *(line(r) for r in rows)]


def audience_rows(export_dir: Path, as_of: str, only: str | None = None) -> list[tuple[str, ...]]:
    """One row per audience and platform exported as of `as_of`, the audience named once."""
    rows = []
    previous = None
    for manifest in sorted(export_dir.glob(f"{only or '*'}/*/{as_of}/manifest.json")):
        data = json.loads(manifest.read_text(encoding="utf-8"))
        if data["platform"] == POINTS_PLATFORM:
            continue  # a points-grant file, no audience export (points_lines)
        folder = manifest.parent.relative_to(export_dir)
        first, *more = data["files"]
        file = str(folder / first["name"]) + (
            f" (+{len(more)} more part{'s' if len(more) > 1 else ''})" if more else "")
        rows.append((
            "" if data["audience"] == previous else data["audience"],
            data["platform"],
            f"{sum(part['rows'] for part in data['files']):,}",
            f"{data['adds']['rows']:,}",
            f"{data['removes']['rows']:,}",
            data["previous_export_as_of"] or "-",
            file,
        ))
        previous = data["audience"]
    return rows


POINTS_PLATFORM = "loyalty_points"


def points_lines(export_dir: Path, as_of: str) -> list[str]:
    """The points-grant files written as of `as_of` (orchestration/defs/activation/points.py)."""
    lines = []
    for manifest in sorted(export_dir.glob(f"*/{POINTS_PLATFORM}/{as_of}/manifest.json")):
        data = json.loads(manifest.read_text(encoding="utf-8"))
        members = data["members"]
        lines.append(
            f"  points grants for the loyalty system ({data['audience']}): "
            f"{_plural(data['rows'], 'grant')}, {data['points']:,} points, "
            f"{members['issued_before']:,} crossings granted before, file "
            f"{manifest.parent.relative_to(export_dir) / data['files'][0]['name']}")
    return lines


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


MATCH_COLUMNS = ("audience", "platform", "rows", "email", "phone", "name+zip", "est. matched")


def match_rows(export_dir: Path, as_of: str, only: str | None = None) -> list[tuple[str, ...]]:
    """The match estimate of each ad-platform export as of `as_of` (manifest field `match`)."""
    rows = []
    for manifest in sorted(export_dir.glob(f"{only or '*'}/*/{as_of}/manifest.json")):
        data = json.loads(manifest.read_text(encoding="utf-8"))
        match = data.get("match")
        if not match or "match_rates" not in match:
            continue
        share = match["estimated_matchable_share"]
        rows.append((data["audience"], data["platform"], f"{match['rows']:,}",
                     *(f"{match['rows_with'].get(k, 0):,}"
                       for k in ("email", "phone", "name_postal")),
                     "-" if share is None else f"{100 * share:.1f} %"))
    return rows


def audience_lines(settings: Settings, only: str | None = None) -> list[str]:
    rows = audience_rows(settings.export_dir, settings.as_of.isoformat(), only)
    if not rows:
        return [f"  audiences  none exported as of {settings.as_of}"]
    lines = [
        f"  audiences as of {settings.as_of}, files under {settings.export_dir} "
        "(each folder also holds the adds, the removes and manifest.json)",
        *_table(AUDIENCE_COLUMNS, rows, numeric={2, 3, 4}),
    ]
    matches = match_rows(settings.export_dir, settings.as_of.isoformat(), only)
    if matches:
        lines += ["  ad platforms: rows per identifier and estimated matched share "
                  "(match_rates in config/platforms.yml)",
                  *_table(MATCH_COLUMNS, matches, numeric={2, 3, 4, 5, 6})]
    if only is None:
        lines += points_lines(settings.export_dir, settings.as_of.isoformat())
    return lines


def quarantine_lines(con) -> list[str]:
    """Quarantined rows counted by entity and reason (nothing when none)."""
    reasons = con.execute(
        "SELECT entity, reason, count(*) FROM raw.quarantine "
        "GROUP BY entity, reason ORDER BY entity, count(*) DESC, reason"
    ).fetchall()
    if not reasons:
        return []
    return ["  quarantined rows by reason (raw.quarantine)",
            *(f"    {entity + ' ' + reason:<42} {count:>10,}" for entity, reason, count in reasons)]


def _warehouse_lines(con) -> list[str]:
    lines = []
    existing = {
        f"{schema}.{name}"
        for schema, name in con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
        ).fetchall()
    }
    for table in SUMMARY_TABLES:
        if table in existing:
            (count,) = con.execute(f"SELECT count(*) FROM {table}").fetchone()
            lines.append(f"    {table:<42} {count:>10,} rows")
    if "raw.quarantine" in existing:
        lines += quarantine_lines(con)
    lines.append("  customers by status")
    lines += [f"    {status:<42} {count:>10,}" for status, count in con.execute(
        "SELECT status, count(*) FROM inactivity.customer_inactivity_status "
        "GROUP BY status ORDER BY count(*) DESC, status"
    ).fetchall()]
    return lines


# Two promotions outside a common exclusion group sharing at least this share of either one's
# members are reported, unless config/audiences.yml declares their overlap intended: the same
# customers get both messages.
OVERLAP_WARNING_SHARE = 0.5


def overlap_warning_lines(con, as_of, config: AudienceConfig) -> list[str]:
    """Warnings for heavily overlapping promotion audiences (activation.audience_overlap) whose
    overlap `intended_overlaps` does not declare."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'activation' AND table_name = 'audience_overlap'").fetchone()[0]
    if not exists:
        return []
    rows = con.execute(
        "SELECT audience_a, audience_b, overlap_customers, share_of_a, share_of_b "
        "FROM activation.audience_overlap WHERE as_of_date = ? AND both_promotion "
        "AND NOT same_exclusion_group AND overlap_customers > 0 "
        "AND greatest(share_of_a, share_of_b) >= ? ORDER BY audience_a, audience_b",
        [as_of, OVERLAP_WARNING_SHARE]).fetchall()
    return [
        f"  warning: promotions {a} and {b} overlap: {n:,} customers in both "
        f"({100 * share_a:.1f} % of {a}, {100 * share_b:.1f} % of {b}); put them in one "
        "exclusion group (config/audiences.yml), or list them under intended_overlaps if both "
        "messages are meant"
        for a, b, n, share_a, share_b in rows if not config.overlap_is_intended(a, b)
    ]


def variant_lift_lines(con) -> list[str]:
    """Per audience split into variants and per variant: the lift of the variant's treated
    customers over the holdout, pooled over the send dates whose conversion window has ended
    (activation.reactivation_outcomes_by_variant), with a 95 % Wald interval."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'activation' "
        "AND table_name = 'reactivation_outcomes_by_variant'").fetchone()[0]
    if not exists:
        return []
    rows = con.execute(
        "SELECT audience, variant, sum(treated_customers), sum(treated_conversions), "
        "sum(holdout_customers), sum(holdout_conversions) "
        "FROM activation.reactivation_outcomes_by_variant WHERE is_window_complete "
        "GROUP BY audience, variant HAVING sum(holdout_customers) > 0 "
        "ORDER BY audience, variant").fetchall()
    lines = []
    for audience, variant, treated, treated_won, holdout, holdout_won in rows:
        p_t, p_h = treated_won / treated, holdout_won / holdout
        error = math.sqrt(p_t * (1 - p_t) / treated + p_h * (1 - p_h) / holdout)
        lift = p_t - p_h
        lines.append(f"    lift {audience} variant {variant} (vs the holdout): "
                     f"{lift_text(lift, lift - 1.959964 * error, lift + 1.959964 * error)}")
    return lines


def print_run_summary(settings: Settings, out: TextIO) -> None:
    from orchestration.defs.serving.publish import stable_database_path
    from orchestration.defs.serving.summary import metric_summary
    from orchestration.lib.warehouse import open_warehouse

    lines = [
        "",
        "Written",
        f"  warehouse  {settings.warehouse}",
        f"  serving    {stable_database_path(settings.serving_dir)}  <- point analysts and "
        "BI tools here (DuckDB 1.x can open it; the warehouse is for runs only)",
        f"  report     {settings.report_path}  <- charts of the publication "
        "(`winback report --open`)",
    ]
    with open_warehouse(settings.warehouse, read_only=True) as con:
        lines += _warehouse_lines(con)
        warnings = overlap_warning_lines(con, settings.as_of, audiences_for(settings))
        variant_lifts = variant_lift_lines(con)
    lines.append("  metrics (metrics.* tables of the serving publication, as BI sees them)")
    lines += [f"    {line}" for line in metric_summary(settings.serving_dir)]
    lines += variant_lifts
    lines += audience_lines(settings)
    lines += warnings
    lines += ["", "Open the Dagster UI with `winback ui` (http://127.0.0.1:3000)."]
    out.write("\n".join(lines) + "\n")

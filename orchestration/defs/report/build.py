"""The static HTML report of one serving publication: charts of the metric tables and the
PII-free marts (aggregates only; no email, phone or name is ever selected).

Audience adds and removes are counted in the warehouse's audience_membership_history, which is
not served (it is per customer); only the counts per day leave it.

Rates come from the metric tables, where each formula is defined once, so the report shows what
BI and the run summary show. The page is one self-contained file: inline CSS and SVG, no script.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from pathlib import Path

import duckdb

from orchestration.defs.report.charts import Chart, bar_chart, interval_chart, line_chart
from orchestration.defs.serving.publish import DATABASE, MANIFEST, current_publication
from orchestration.lib.files import write_atomic
from orchestration.lib.formatting import percent, percentage_points
from orchestration.lib.warehouse import release

STATUSES = ("prospect", "active", "at_risk", "inactive", "lapsed", "reactivated")
P_ALIVE_BINS = 10

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 960px; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.15rem; margin: 0 0 .25rem; }
figure.chart { margin: 2rem 0; } figcaption p { margin: 0 0 .5rem; color: #555; }
svg .grid { stroke: #e5e5e5; } svg .axis { stroke: #444; }
svg .tick { font-size: 11px; fill: #444; } svg .label { font-size: 12px; fill: #222; }
.no-data { padding: 2rem; background: #f5f5f5; color: #666; text-align: center; }
"""


@dataclass(frozen=True)
class Report:
    path: Path
    charts: int
    publication_id: str


def _rows(con: duckdb.DuckDBPyConnection, sql: str, *params) -> list[tuple]:
    return con.execute(sql, list(params)).fetchall()


def _pivot(rows: list[tuple], names: tuple[str, ...] | None = None
           ) -> tuple[list[str], dict[str, list[float]]]:
    """(category, series, value) rows -> categories in order, one list of values per series."""
    categories = list(dict.fromkeys(str(r[0]) for r in rows))
    values: dict[str, dict[str, float]] = defaultdict(dict)
    for category, name, value in rows:
        values[str(name)][str(category)] = float(value or 0)
    order = [n for n in names if n in values] if names else sorted(values)
    return categories, {n: [values[n].get(c, 0.0) for c in categories] for n in order}


def status_mix(con) -> str:
    chart = Chart("status-mix", "Status mix over time",
                  "Customers in each status at the end of each week (the current week as of "
                  "the run date).", "week starting", "customers")
    rows = _rows(con, """
        WITH bounds AS (
            SELECT (SELECT min(valid_from) FROM inactivity.customer_status_history) AS first,
                   (SELECT max(as_of_date) FROM inactivity.customer_inactivity_status) AS last
        ),
        week_ends AS (
            SELECT week::date AS week, least(week::date + 6, last) AS day
            FROM bounds, unnest(generate_series(date_trunc('week', first), last,
                                                INTERVAL 7 DAY)) AS weeks(week)
        )
        SELECT week, status, count(*)
        FROM week_ends JOIN inactivity.customer_status_history AS h
          ON h.valid_from <= day AND (h.valid_to IS NULL OR h.valid_to > day)
        GROUP BY ALL ORDER BY week""")
    categories, series = _pivot(rows, STATUSES)
    return bar_chart(chart, categories, series, stacked=True)


def status_changes(con) -> str:
    chart = Chart("status-changes", "Customers becoming inactive and reactivated per week",
                  "Status changes recorded per week: customers who became inactive, and "
                  "customers who bought again after being inactive or lapsed.",
                  "week starting", "customers")
    rows = _rows(con, """
        SELECT date_trunc('week', transition_date)::date AS week,
               CASE to_status WHEN 'inactive' THEN 'became inactive' ELSE 'reactivated' END,
               count(*)
        FROM inactivity.customer_status_transitions
        WHERE to_status IN ('inactive', 'reactivated')
        GROUP BY ALL ORDER BY week""")
    categories, series = _pivot(rows, ("became inactive", "reactivated"))
    return bar_chart(chart, categories, series)


def churn_rate(con) -> str:
    chart = Chart("churn-rate", "Monthly churn rate",
                  "Share of the customers active at the start of each complete month who were "
                  "lost during it (metrics.metric_churn_rate_monthly).", "month", "churn rate")
    rows = _rows(con, """
        SELECT strftime(month_start, '%Y-%m'), churn_rate
        FROM metrics.metric_churn_rate_monthly WHERE is_complete_month ORDER BY month_start""")
    return line_chart(chart, [r[0] for r in rows], {"churn rate": [r[1] for r in rows]},
                      fmt=percent)


def revenue_at_risk(con) -> str:
    chart = Chart("revenue-at-risk", "Revenue at risk by segment",
                  "Revenue of the customers at risk, inactive or lapsed, per RFM segment and "
                  "currency (never summed across currencies; metrics.metric_revenue_at_risk).",
                  "RFM segment", "revenue at risk")
    rows = _rows(con, """
        SELECT coalesce(rfm_segment, 'no segment'), currency, sum(revenue_at_risk)
        FROM metrics.metric_revenue_at_risk WHERE currency IS NOT NULL
        GROUP BY ALL ORDER BY 1, 2""")
    categories, series = _pivot(rows)
    return bar_chart(chart, categories, series)


def contactable_share(con) -> str:
    chart = Chart("contactable-share", "Contactable share",
                  "Share of customers who may be contacted, per channel "
                  "(metrics.metric_contactable_share).", "channel", "share of customers")
    rows = _rows(con, """
        SELECT channel, contactable_share FROM metrics.metric_contactable_share
        ORDER BY channel""")
    return bar_chart(chart, [r[0] for r in rows], {"contactable": [r[1] or 0 for r in rows]},
                     fmt=percent)


def hygiene_reasons(con) -> str:
    chart = Chart("hygiene-reasons", "Why customers cannot be contacted",
                  "Customers per channel by the first reason that blocks contact "
                  "(contacts.contact_hygiene_summary verdicts).", "reason", "customers")
    rows = _rows(con, """
        SELECT code, channel, customers FROM contacts.contact_hygiene_summary
        WHERE category = 'verdict' AND code <> 'contactable' ORDER BY code, channel""")
    categories, series = _pivot(rows)
    return bar_chart(chart, categories, series)


def audience_sizes(con) -> str:
    chart = Chart("audience-sizes", "Audience sizes",
                  "Customers in each audience (treatment and holdout) per run date.",
                  "run date", "customers")
    rows = _rows(con, """
        SELECT as_of_date, audience, sum(customers) FROM activation.audience_sizes
        GROUP BY ALL ORDER BY as_of_date, audience""")
    categories, series = _pivot(rows)
    return line_chart(chart, categories, series)


def audience_changes(con) -> str:
    chart = Chart("audience-changes", "Customers added to and removed from audiences per day",
                  "Membership spells started (added) and ended (removed) per run date, all "
                  "audiences (customers left out by an exclusion are not counted).",
                  "run date", "customers")
    rows = _rows(con, """
        SELECT day, change, count(*) FROM (
            SELECT entered_on AS day, 'added' AS change
            FROM warehouse.activation.audience_membership_history
            WHERE exclusion_reason IS NULL
            UNION ALL
            SELECT left_on, 'removed' FROM warehouse.activation.audience_membership_history
            WHERE left_on IS NOT NULL AND exclusion_reason IS NULL)
        GROUP BY ALL ORDER BY day""")
    categories, series = _pivot(rows, ("added", "removed"))
    return bar_chart(chart, categories, series)


def lift(con) -> str:
    chart = Chart("lift", "Lift per audience",
                  "Conversion rate of the treatment group minus the holdout's, in percentage "
                  "points, with its 95% interval (metrics.metric_lift).",
                  "audience", "lift (pp)")
    rows = _rows(con, """
        SELECT audience, absolute_lift, lift_ci_low, lift_ci_high FROM metrics.metric_lift
        WHERE absolute_lift IS NOT NULL AND lift_ci_low IS NOT NULL AND lift_ci_high IS NOT NULL
        ORDER BY audience""")
    return interval_chart(chart, rows, fmt=percentage_points)


def p_alive(con) -> str:
    chart = Chart("p-alive", "BG/NBD P(alive) distribution",
                  "Customers by the BG/NBD model's probability that they are still active, "
                  "in bins of 0.1.", "P(alive)", "customers")
    rows = _rows(con, f"""
        SELECT least(floor(p_alive * {P_ALIVE_BINS}), {P_ALIVE_BINS - 1})::int AS bin, count(*)
        FROM inactivity.customer_inactivity_status WHERE p_alive IS NOT NULL
        GROUP BY ALL ORDER BY bin""")
    if not rows:
        return bar_chart(chart, [], {})
    counts = dict(rows)
    categories = [f"{b / P_ALIVE_BINS:.1f}-{(b + 1) / P_ALIVE_BINS:.1f}"
                  for b in range(P_ALIVE_BINS)]
    return bar_chart(chart, categories,
                     {"customers": [counts.get(b, 0) for b in range(P_ALIVE_BINS)]})


def model_check(con) -> str:
    """The BG/NBD's out-of-time check: the forecast of the holdout period against what happened,
    per calibration frequency (Fader, Hardie & Lee 2005, figure 4)."""
    verdict = _rows(con, """
        SELECT bool_and(model_check_passed) FROM inactivity.customer_inactivity_status""")
    held = {True: "The model passed its check on these numbers.",
            False: "The model failed its check: its disagreement flag is off and value "
                   "audiences use revenue instead of CLV.",
            None: ""}[verdict[0][0] if verdict else None]
    rows = _rows(con, """
        SELECT calibration_frequency, predicted_per_customer, actual_per_customer,
               datediff('day', calibration_end_date, as_of_date)
        FROM inactivity.bgnbd_holdout_by_frequency ORDER BY calibration_frequency""")
    days = f"{rows[0][3]} days" if rows else "days"
    chart = Chart("model-check", "BG/NBD forecast vs what happened",
                  f"The model was fitted again without the last {days} and asked how many "
                  "purchase days each customer would have in them: forecast and actual per "
                  "customer, by the number of repeat purchase days before (7+ = seven or more). "
                  f"Bars of equal height mean the model fits this business. {held}".strip(),
                  "repeat purchase days before the holdout period", "purchase days per customer")
    categories = ["7+" if r[0] == 7 else str(r[0]) for r in rows]
    return bar_chart(chart, categories, {"forecast": [float(r[1] or 0) for r in rows],
                                         "actual": [float(r[2] or 0) for r in rows]}
                     if rows else {})


def p_alive_deciles(con) -> str:
    chart = Chart("p-alive-deciles", "P(alive) against buying again",
                  "Repeat buyers in tenths by the P(alive) the model gave them before the "
                  "holdout period (1 = least likely alive): the mean P(alive) beside the share "
                  "who did buy again within it. The share should rise with P(alive).",
                  "P(alive) decile", "share of customers")
    rows = _rows(con, """
        SELECT p_alive_decile, p_alive_mean, bought_again_share
        FROM inactivity.bgnbd_holdout_by_p_alive_decile ORDER BY p_alive_decile""")
    return bar_chart(chart, [str(r[0]) for r in rows],
                     {"mean P(alive)": [float(r[1] or 0) for r in rows],
                      "bought again": [float(r[2] or 0) for r in rows]} if rows else {},
                     fmt=percent)


CHARTS: tuple[Callable[[duckdb.DuckDBPyConnection], str], ...] = (
    status_mix, status_changes, churn_rate, revenue_at_risk, contactable_share, hygiene_reasons,
    audience_sizes, audience_changes, lift, p_alive, model_check, p_alive_deciles,
)


def render(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [chart(con) for chart in CHARTS]


def page(figures: list[str], manifest: dict) -> str:
    title = f"Winback report as of {manifest['as_of_date']}"
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
            f"<h1>{escape(title)}</h1><p>Serving publication "
            f"{escape(manifest['publication_id'])}, published {escape(manifest['published_at'])}."
            f"</p>{''.join(figures)}</body></html>\n")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def build_report(serving_dir: Path, warehouse: Path, path: Path) -> Report:
    """Write the report of the current serving publication to `path` (replaced in one rename)."""
    folder = current_publication(serving_dir)
    manifest = json.loads((folder / MANIFEST).read_text())
    release(warehouse)  # a run's kept connection would hold the file (lib/warehouse.py)
    with duckdb.connect(str(folder / DATABASE), read_only=True) as con:
        con.execute(f"ATTACH {_quote(str(warehouse))} AS warehouse (READ_ONLY)")
        figures = render(con)
    write_atomic(path, page(figures, manifest))
    return Report(path=path, charts=len(figures), publication_id=manifest["publication_id"])

"""The statistical view of inactivity: a BG/NBD model fitted on every run, scored per customer,
with the Gamma-Gamma spend model and CLV beside it, and an out-of-time check of the model."""

import datetime as dt

import dagster as dg
import duckdb
import numpy as np
import pyarrow as pa

from orchestration.defs.dbt.keys import dbt_model_key
from orchestration.defs.predictions import bgnbd, gamma_gamma, holdout
from orchestration.defs.resources import WinbackConfig
from orchestration.lib.policies import CustomerValue, policies_for
from orchestration.lib.run_config import daily_partitions, one_date_per_run
from orchestration.lib.warehouse import open_warehouse

DAYS_PER_WEEK = 7.0
HORIZONS_DAYS = (30, 90)
# Below this many buyers with a repeat purchase the four parameters are not identified (the fit
# runs off to the bounds); predictions are then left null rather than made up. The same floor
# applies to the repeat buyers of a currency for its spend model.
MIN_REPEAT_BUYERS = 30
PREDICTIONS = (
    "p_alive", *(f"expected_purchases_{d}d" for d in HORIZONS_DAYS), "discounted_purchases",
)
ACTIVITY = dbt_model_key("customer_activity")
ACTIVITY_TABLE = ".".join(ACTIVITY.path)
PURCHASE_DAYS = dbt_model_key("int_customer_purchase_days")
SPEND = dbt_model_key("int_customer_currency_spend")
FIT_CHECK = "bgnbd_fit_identified"
HOLDOUT_CHECK = "bgnbd_holdout_check"

# Customers sharing (frequency, recency, age) share every prediction: fit and score on the
# distinct triples (bounded by the day grid, not by the customer count), join back in SQL.
GROUPS_SQL = f"""
    SELECT bgnbd_frequency AS frequency, bgnbd_recency_days AS recency_days,
           bgnbd_age_days AS age_days, count(*) AS customers
    FROM {ACTIVITY_TABLE}
    WHERE first_order_date IS NOT NULL
    GROUP BY ALL
    ORDER BY ALL
"""

# Spend per buyer and currency: repeat purchase days in that currency and their mean revenue
# (the first day excluded, as the Gamma-Gamma model wants), from the incremental
# int_customer_currency_spend (a next day recomputes only the buyers of changed orders).
SPEND_SQL = f"""
    CREATE OR REPLACE TEMP TABLE customer_spend AS
    SELECT customer_id, currency, purchase_days - 1 AS repeat_days,
           repeat_revenue / greatest(purchase_days - 1, 1) AS repeat_average_spend
    FROM {".".join(SPEND.path)}
"""

# Calibration statistics as of the calibration end ($1) and repeat purchase days in the holdout
# period after it, per customer who had bought by then.
HOLDOUT_SQL = f"""
    CREATE OR REPLACE TEMP TABLE holdout_customers AS
    SELECT customer_id,
           count(*) FILTER (WHERE order_date <= $1) - 1 AS frequency,
           CAST(max(order_date) FILTER (WHERE order_date <= $1) - min(order_date) AS INTEGER)
               AS recency_days,
           CAST($1 - min(order_date) AS INTEGER) AS age_days,
           count(*) FILTER (WHERE order_date > $1) AS actual_purchases
    FROM {".".join(PURCHASE_DAYS.path)}
    GROUP BY customer_id
    HAVING min(order_date) <= $1
"""


def _column(values: np.ndarray | None, n: int) -> pa.Array:
    if values is None:
        return pa.nulls(n, pa.float64())
    values = np.asarray(values, dtype=np.float64)
    return pa.array(values, mask=~np.isfinite(values))


def _triples(groups: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x = groups["frequency"].to_numpy().astype(np.float64)
    tx = groups["recency_days"].to_numpy().astype(np.float64) / DAYS_PER_WEEK
    T = groups["age_days"].to_numpy().astype(np.float64) / DAYS_PER_WEEK
    weights = groups["customers"].to_numpy().astype(np.float64)
    return x, tx, T, weights


def fit_groups(groups: pa.Table) -> bgnbd.BGNBDParams | None:
    """The BG/NBD fit on grouped (frequency, recency, age) triples in weeks, or None when fewer
    than MIN_REPEAT_BUYERS customers made a repeat purchase."""
    x, tx, T, weights = _triples(groups)
    if not groups.num_rows or weights[x > 0].sum() < MIN_REPEAT_BUYERS:
        return None
    return bgnbd.fit(x, tx, T, weights=weights)


def score_groups(
    groups: pa.Table, value: CustomerValue | None = None
) -> tuple[bgnbd.BGNBDParams | None, pa.Table]:
    """Fit on the grouped (frequency, recency, age) triples, in weeks, and score each triple:
    P(alive), expected purchases in 30 and 90 days and, for CLV, the expected purchases over the
    value horizon discounted to the as-of date. Null predictions when the model is not fitted."""
    value = value or CustomerValue()
    n = groups.num_rows
    x, tx, T, _ = _triples(groups)
    predictions: dict[str, np.ndarray | None] = dict.fromkeys(PREDICTIONS)
    params = fit_groups(groups)
    if params is not None:
        predictions["p_alive"] = bgnbd.p_alive(params, x, tx, T)
        expected = bgnbd.expected_purchases_by_horizon(
            params, [days / DAYS_PER_WEEK for days in HORIZONS_DAYS], x, tx, T)
        for days, values in zip(HORIZONS_DAYS, expected, strict=True):
            predictions[f"expected_purchases_{days}d"] = values
        predictions["discounted_purchases"] = gamma_gamma.discounted_expected_purchases(
            params, value.horizon_days, value.annual_discount_rate, x, tx, T
        )
    columns = {
        "frequency": groups["frequency"],
        "recency_days": groups["recency_days"],
        "age_days": groups["age_days"],
        **{name: _column(values, n) for name, values in predictions.items()},
    }
    return params, pa.table(columns)


def fit_spend_models(con: duckdb.DuckDBPyConnection) -> tuple[pa.Table, list[dict]]:
    """Fit the Gamma-Gamma model per currency on the repeat buyers of `customer_spend` with a
    positive average spend. Returns the parameters of the currencies with enough repeat buyers
    (and q > 1, a finite mean spend) as a table, and a summary per currency for the metadata."""
    fitted: list[dict] = []
    summary: list[dict] = []
    currencies = [c for (c,) in con.execute(
        "SELECT DISTINCT currency FROM customer_spend ORDER BY currency").fetchall()]
    for currency in currencies:
        x, m = con.execute(
            "SELECT repeat_days, repeat_average_spend FROM customer_spend "
            "WHERE currency = $1 AND repeat_days > 0 AND repeat_average_spend > 0 "
            "ORDER BY customer_id",  # the same sums in the same order: a rerun fits the same
            [currency],
        ).fetchnumpy().values()
        row: dict = {"currency": currency, "repeat_buyers": len(x)}
        if len(x) >= MIN_REPEAT_BUYERS:
            x, m = x.astype(np.float64), m.astype(np.float64)
            params = gamma_gamma.fit(x, m)
            row.update(
                p=params.p, q=params.q, gamma=params.gamma,
                log_likelihood=params.log_likelihood, converged=params.converged,
                frequency_spend_correlation=gamma_gamma.frequency_spend_correlation(x, m),
            )
            if params.q > 1 and params.converged:
                fitted.append({"currency": currency, "p": params.p, "q": params.q,
                               "gamma": params.gamma})
        summary.append(row)
    schema = pa.schema([("currency", pa.string()), ("p", pa.float64()), ("q", pa.float64()),
                        ("gamma", pa.float64())])
    return pa.Table.from_pylist(fitted, schema=schema), summary


def _finite(value: float) -> float | None:
    return value if np.isfinite(value) else None


def _fit_metadata(
    params: bgnbd.BGNBDParams, groups: pa.Table
) -> tuple[dict, bgnbd.FitDiagnostics]:
    """The fit's parameters with their standard errors (alpha in weeks) and conditioning."""
    x, tx, T, weights = _triples(groups)
    diagnostics = bgnbd.fit_diagnostics(params, x, tx, T, weights)
    r_se, alpha_se, a_se, b_se = (_finite(v) for v in diagnostics.standard_errors)
    metadata = dict(
        fitted=True, r=params.r, alpha_weeks=params.alpha, a=params.a, b=params.b,
        r_se=r_se, alpha_weeks_se=alpha_se, a_se=a_se, b_se=b_se,
        log_likelihood=params.log_likelihood, customers=int(params.n_customers),
        converged=params.converged, condition_number=_finite(diagnostics.condition_number),
        well_conditioned=diagnostics.well_conditioned,
    )
    return metadata, diagnostics


# A multi_asset of one spec: @asset flags its backfill_policy parameter as beta on every import.
@dg.multi_asset(
    specs=[dg.AssetSpec(
        key=["predictions", "customer_bgnbd"],
        deps=[ACTIVITY, SPEND],
        group_name="predictions",
        kinds={"python", "duckdb"},
        description="BG/NBD (Fader, Hardie & Lee 2005) per buyer as of the run date: P(alive) "
        "and expected purchase days in the next 30 and 90 days, fitted on distinct purchase days "
        "(frequency = days after the first, recency = first to last, age = first to as-of), with "
        "the standard errors of its parameters. Beside it the Gamma-Gamma spend model per "
        "currency (fitted on repeat buyers) and the customer lifetime value: expected purchases "
        "over the value horizon, discounted, times the expected spend per purchase. The "
        "inactivity status mart shows it beside the rule status and flags disagreements.",
    )],
    check_specs=[dg.AssetCheckSpec(
        FIT_CHECK, asset=["predictions", "customer_bgnbd"], blocking=False,
        description="The BG/NBD fit converged and its parameters are identified: the observed "
        "information is positive definite and well conditioned (condition number below 1e8), so "
        "the standard errors mean something. Warns otherwise; never stops the run.",
    )],
    name="predictions__customer_bgnbd",  # the step key @asset gave it
    partitions_def=daily_partitions,
    backfill_policy=one_date_per_run,
)
def customer_bgnbd(context: dg.AssetExecutionContext, winback: WinbackConfig):
    settings = winback.settings()
    value = policies_for(settings).customer_value
    with open_warehouse(settings.warehouse) as con:
        groups = con.sql(GROUPS_SQL).to_arrow_table()
        con.execute("CREATE SCHEMA IF NOT EXISTS predictions")
        params, scored = score_groups(groups, value)
        con.execute(SPEND_SQL)
        spend_params, spend_summary = fit_spend_models(con)
        metadata: dict[str, dg.RawMetadataValue] = {"groups": groups.num_rows}
        if params is None:
            metadata["fitted"] = False
            context.log.warning(
                f"Fewer than {MIN_REPEAT_BUYERS} repeat buyers: the BG/NBD model is not fitted "
                "and its predictions are null."
            )
            check = dg.AssetCheckResult(
                check_name=FIT_CHECK, passed=False, severity=dg.AssetCheckSeverity.WARN,
                metadata={"reason": f"not fitted: fewer than {MIN_REPEAT_BUYERS} repeat buyers"},
            )
        else:
            fit_metadata, diagnostics = _fit_metadata(params, groups)
            metadata.update(fit_metadata)
            problems = [text for bad, text in (
                (not params.converged, "the optimiser did not converge"),
                (not diagnostics.well_conditioned, "the parameters are not identified "
                 "(ill-conditioned information matrix)"),
            ) if bad]
            for problem in problems:
                context.log.warning(f"BG/NBD fit: {problem}; predictions may be poor.")
            check = dg.AssetCheckResult(
                check_name=FIT_CHECK, passed=not problems, severity=dg.AssetCheckSeverity.WARN,
                metadata={"reason": "; ".join(problems) or "converged and well conditioned",
                          "condition_number": fit_metadata["condition_number"]},
            )
        metadata["spend_model_by_currency"] = dg.MetadataValue.json(spend_summary)
        metadata["clv_horizon_days"] = value.horizon_days
        metadata["clv_annual_discount_rate"] = value.annual_discount_rate
        con.register("bgnbd_scored_groups", scored)
        con.register("spend_params", spend_params)
        con.execute("BEGIN TRANSACTION")
        # Expected spend per purchase: E[zeta | x, m] of the customer's main currency, the
        # population mean p gamma / (q - 1) for buyers without a repeat day in it.
        con.execute(f"""
            CREATE OR REPLACE TABLE predictions.customer_bgnbd AS
            WITH spend AS (
                SELECT activity.customer_id, activity.main_currency AS currency,
                       spend_params.p * (spend_params.gamma
                           + coalesce(s.repeat_days, 0) * coalesce(s.repeat_average_spend, 0))
                       / (spend_params.p * coalesce(s.repeat_days, 0) + spend_params.q - 1)
                           AS expected_spend_per_purchase
                FROM {ACTIVITY_TABLE} AS activity
                JOIN spend_params ON spend_params.currency = activity.main_currency
                LEFT JOIN customer_spend AS s
                  ON s.customer_id = activity.customer_id AND s.currency = activity.main_currency
            )
            SELECT activity.customer_id, activity.as_of_date,
                   scored.p_alive, scored.expected_purchases_30d, scored.expected_purchases_90d,
                   activity.main_currency AS clv_currency,
                   spend.expected_spend_per_purchase,
                   spend.expected_spend_per_purchase * scored.discounted_purchases AS clv
            FROM {ACTIVITY_TABLE} AS activity
            JOIN bgnbd_scored_groups AS scored
              ON activity.bgnbd_frequency = scored.frequency
             AND activity.bgnbd_recency_days = scored.recency_days
             AND activity.bgnbd_age_days = scored.age_days
            LEFT JOIN spend ON spend.customer_id = activity.customer_id
            ORDER BY activity.customer_id
        """)
        con.execute("COMMIT")
        con.unregister("bgnbd_scored_groups")
        con.unregister("spend_params")
        (rows,) = con.execute("SELECT count(*) FROM predictions.customer_bgnbd").fetchone()
    metadata["dagster/row_count"] = rows
    yield dg.MaterializeResult(metadata=metadata)
    yield check


def holdout_summary(con: duckdb.DuckDBPyConnection) -> holdout.HoldoutSummary:
    row = con.execute("""
        SELECT count(*), sum(predicted_purchases), sum(actual_purchases),
               avg(abs(predicted_purchases - actual_purchases)),
               regr_slope(actual_purchases, predicted_purchases)
        FROM predictions.customer_bgnbd_holdout
    """).fetchone()
    customers, predicted, actual, mae, slope = row
    return holdout.HoldoutSummary(
        customers=int(customers), predicted_purchases=float(predicted or 0),
        actual_purchases=float(actual or 0), mean_absolute_error=float(mae or 0),
        calibration_slope=None if slope is None else float(slope),
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            key=["predictions", "customer_bgnbd_holdout"],
            deps=[PURCHASE_DAYS],
            group_name="predictions",
            kinds={"python", "duckdb"},
            description="Out-of-time check of the BG/NBD model on the business's own history: "
            "fitted on the purchase days up to the as-of date minus model_check.holdout_days "
            "(policy file, default 90), it forecasts each customer's repeat purchase days in the "
            "holdout days that followed; one row per customer who had bought by the calibration "
            "end with the forecast, P(alive) at the calibration end and what they actually did. "
            "The metadata has the mean absolute error per customer and the calibration slope.",
        ),
        dg.AssetSpec(
            key=["predictions", "bgnbd_model_check"],
            deps=[PURCHASE_DAYS],
            group_name="predictions",
            kinds={"python", "duckdb"},
            description="One row per as-of date: the out-of-time check's summary numbers and "
            "whether the model held (the status mart trusts its disagreement flag, and the "
            "audiences its CLV, only then).",
        ),
    ],
    check_specs=[dg.AssetCheckSpec(
        HOLDOUT_CHECK, asset=["predictions", "customer_bgnbd_holdout"], blocking=False,
        description="The BG/NBD forecast of the holdout period matches what happened: the "
        "calibration slope (actual on predicted repeat purchases per customer) lies within "
        "model_check.min/max_calibration_slope and the total forecast within "
        "max_total_error_share of the actual total. Warns otherwise; never stops the run.",
    )],
    name="predictions__customer_bgnbd_holdout",
    partitions_def=daily_partitions,
    backfill_policy=one_date_per_run,
)
def customer_bgnbd_holdout(context: dg.AssetExecutionContext, winback: WinbackConfig):
    settings = winback.settings()
    thresholds = policies_for(settings).model_check
    calibration_end = settings.as_of - dt.timedelta(days=thresholds.holdout_days)
    with open_warehouse(settings.warehouse) as con:
        con.execute(HOLDOUT_SQL, [calibration_end])
        groups = con.sql("""
            SELECT frequency, recency_days, age_days, count(*) AS customers
            FROM holdout_customers GROUP BY ALL ORDER BY ALL
        """).to_arrow_table()
        params = fit_groups(groups)
        summary = None
        if params is None:
            scored = groups.select(["frequency", "recency_days", "age_days"]).append_column(
                "p_alive", pa.nulls(groups.num_rows, pa.float64())).append_column(
                "predicted_purchases", pa.nulls(groups.num_rows, pa.float64()))
        else:
            x, tx, T, _ = _triples(groups)
            scored = groups.select(["frequency", "recency_days", "age_days"]).append_column(
                "p_alive", _column(bgnbd.p_alive(params, x, tx, T), groups.num_rows),
            ).append_column("predicted_purchases", _column(bgnbd.expected_purchases_by_horizon(
                params, [thresholds.holdout_days / DAYS_PER_WEEK], x, tx, T)[0], groups.num_rows))
        con.execute("CREATE SCHEMA IF NOT EXISTS predictions")
        con.register("holdout_scored_groups", scored)
        con.execute("BEGIN TRANSACTION")
        con.execute("""
            CREATE OR REPLACE TABLE predictions.customer_bgnbd_holdout AS
            SELECT c.customer_id, CAST($1 AS DATE) AS as_of_date,
                   CAST($2 AS DATE) AS calibration_end_date,
                   c.frequency AS calibration_frequency,
                   s.p_alive AS calibration_p_alive,
                   s.predicted_purchases, c.actual_purchases
            FROM holdout_customers AS c
            JOIN holdout_scored_groups AS s
              ON c.frequency = s.frequency AND c.recency_days = s.recency_days
             AND c.age_days = s.age_days
            ORDER BY c.customer_id
        """, [settings.as_of, calibration_end])
        (rows,) = con.execute(
            "SELECT count(*) FROM predictions.customer_bgnbd_holdout").fetchone()
        if params is not None:
            summary = holdout_summary(con)
        verdict = holdout.judge(summary, thresholds)
        con.execute("""
            CREATE OR REPLACE TABLE predictions.bgnbd_model_check (
                as_of_date DATE, holdout_days INTEGER, calibration_end_date DATE,
                customers BIGINT, predicted_purchases DOUBLE, actual_purchases DOUBLE,
                mean_absolute_error DOUBLE, calibration_slope DOUBLE, passed BOOLEAN,
                reason VARCHAR)
        """)
        con.execute(
            "INSERT INTO predictions.bgnbd_model_check VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
            "$9, $10)",
            [settings.as_of, thresholds.holdout_days, calibration_end,
             rows,
             summary.predicted_purchases if summary else None,
             summary.actual_purchases if summary else None,
             summary.mean_absolute_error if summary else None,
             summary.calibration_slope if summary else None, verdict.passed, verdict.reason],
        )
        con.execute("COMMIT")
        con.unregister("holdout_scored_groups")
    numbers: dict[str, dg.RawMetadataValue] = {
        "holdout_days": thresholds.holdout_days,
        "calibration_end_date": calibration_end.isoformat(),
        "fitted": params is not None,
        "model_check_passed": verdict.passed,
        "model_check_reason": verdict.reason,
    }
    if summary is not None:
        numbers.update(
            predicted_repeat_purchases=summary.predicted_purchases,
            actual_repeat_purchases=summary.actual_purchases,
            mean_absolute_error_per_customer=summary.mean_absolute_error,
            calibration_slope=summary.calibration_slope,
        )
    if not verdict.passed:
        context.log.warning(f"BG/NBD out-of-time check: {verdict.reason}")
    yield dg.MaterializeResult(
        asset_key=["predictions", "customer_bgnbd_holdout"],
        metadata={**numbers, "dagster/row_count": rows},
    )
    yield dg.MaterializeResult(
        asset_key=["predictions", "bgnbd_model_check"],
        metadata={**numbers, "dagster/row_count": 1},
    )
    yield dg.AssetCheckResult(
        check_name=HOLDOUT_CHECK, asset_key=["predictions", "customer_bgnbd_holdout"],
        passed=verdict.passed, severity=dg.AssetCheckSeverity.WARN,
        metadata={k: v for k, v in numbers.items() if v is not None},
    )


defs = dg.Definitions(assets=[customer_bgnbd, customer_bgnbd_holdout])

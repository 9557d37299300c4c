"""The statistical view of inactivity: a BG/NBD model fitted on every run, scored per customer."""

import dagster as dg
import numpy as np
import pyarrow as pa

from orchestration.defs.dbt.keys import dbt_model_key
from orchestration.defs.predictions import bgnbd
from orchestration.defs.resources import WinbackConfig
from orchestration.lib.run_config import daily_partitions, one_date_per_run
from orchestration.lib.warehouse import open_warehouse

DAYS_PER_WEEK = 7.0
HORIZONS_DAYS = (30, 90)
# Below this many buyers with a repeat purchase the four parameters are not identified (the fit
# runs off to the bounds); predictions are then left null rather than made up.
MIN_REPEAT_BUYERS = 30
PREDICTIONS = ("p_alive", *(f"expected_purchases_{d}d" for d in HORIZONS_DAYS))
ACTIVITY = dbt_model_key("customer_activity")
ACTIVITY_TABLE = ".".join(ACTIVITY.path)

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


def _column(values: np.ndarray | None, n: int) -> pa.Array:
    if values is None:
        return pa.nulls(n, pa.float64())
    values = np.asarray(values, dtype=np.float64)
    return pa.array(values, mask=~np.isfinite(values))


def score_groups(groups: pa.Table) -> tuple[bgnbd.BGNBDParams | None, pa.Table]:
    """Fit on the grouped (frequency, recency, age) triples, in weeks, and score each triple.

    Returns no parameters and null predictions when fewer than MIN_REPEAT_BUYERS customers
    made a repeat purchase."""
    n = groups.num_rows
    x = groups["frequency"].to_numpy().astype(np.float64)
    tx = groups["recency_days"].to_numpy().astype(np.float64) / DAYS_PER_WEEK
    T = groups["age_days"].to_numpy().astype(np.float64) / DAYS_PER_WEEK
    weights = groups["customers"].to_numpy().astype(np.float64)
    predictions: dict[str, np.ndarray | None] = dict.fromkeys(PREDICTIONS)
    params = None
    if n and weights[x > 0].sum() >= MIN_REPEAT_BUYERS:
        params = bgnbd.fit(x, tx, T, weights=weights)
        predictions["p_alive"] = bgnbd.p_alive(params, x, tx, T)
        for days in HORIZONS_DAYS:
            predictions[f"expected_purchases_{days}d"] = bgnbd.expected_purchases(
                params, days / DAYS_PER_WEEK, x, tx, T
            )
    columns = {
        "frequency": groups["frequency"],
        "recency_days": groups["recency_days"],
        "age_days": groups["age_days"],
        **{name: _column(values, n) for name, values in predictions.items()},
    }
    return params, pa.table(columns)


# A multi_asset of one spec: @asset flags its backfill_policy parameter as beta on every import.
@dg.multi_asset(
    specs=[dg.AssetSpec(
        key=["predictions", "customer_bgnbd"],
        deps=[ACTIVITY],
        group_name="predictions",
        kinds={"python", "duckdb"},
        description="BG/NBD (Fader, Hardie & Lee 2005) per buyer as of the run date: P(alive) "
        "and expected purchase days in the next 30 and 90 days, fitted on distinct purchase days "
        "(frequency = days after the first, recency = first to last, age = first to as-of). The "
        "inactivity status mart shows it beside the rule status and flags disagreements.",
    )],
    name="predictions__customer_bgnbd",  # the step key @asset gave it
    partitions_def=daily_partitions,
    backfill_policy=one_date_per_run,
)
def customer_bgnbd(
    context: dg.AssetExecutionContext, winback: WinbackConfig
) -> dg.MaterializeResult:
    settings = winback.settings()
    with open_warehouse(settings.warehouse) as con:
        groups = con.sql(GROUPS_SQL).to_arrow_table()
        con.execute("CREATE SCHEMA IF NOT EXISTS predictions")
        params, scored = score_groups(groups)
        metadata: dict[str, dg.RawMetadataValue] = {"groups": groups.num_rows}
        if params is None:
            metadata["fitted"] = False
            context.log.warning(
                f"Fewer than {MIN_REPEAT_BUYERS} repeat buyers: the BG/NBD model is not fitted "
                "and its predictions are null."
            )
        else:
            metadata.update(
                fitted=True, r=params.r, alpha_weeks=params.alpha, a=params.a, b=params.b,
                log_likelihood=params.log_likelihood, customers=int(params.n_customers),
                converged=params.converged,
            )
            if not params.converged:
                context.log.warning("The BG/NBD fit did not converge; predictions may be poor.")
        con.register("bgnbd_scored_groups", scored)
        con.execute("BEGIN TRANSACTION")
        con.execute(f"""
            CREATE OR REPLACE TABLE predictions.customer_bgnbd AS
            SELECT activity.customer_id, activity.as_of_date,
                   scored.p_alive, scored.expected_purchases_30d, scored.expected_purchases_90d
            FROM {ACTIVITY_TABLE} AS activity
            JOIN bgnbd_scored_groups AS scored
              ON activity.bgnbd_frequency = scored.frequency
             AND activity.bgnbd_recency_days = scored.recency_days
             AND activity.bgnbd_age_days = scored.age_days
            ORDER BY activity.customer_id
        """)
        con.execute("COMMIT")
        con.unregister("bgnbd_scored_groups")
        (rows,) = con.execute("SELECT count(*) FROM predictions.customer_bgnbd").fetchone()
    metadata["dagster/row_count"] = rows
    return dg.MaterializeResult(metadata=metadata)


defs = dg.Definitions(assets=[customer_bgnbd])

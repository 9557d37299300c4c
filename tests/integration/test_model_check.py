"""The BG/NBD checked against what happened, and customer value, on generated demo data.

One run of the whole graph on a small demo data set as of END: the out-of-time validation marts,
the model check (an asset check), the CLV column and the value-ordered exports exist and hold
sensible numbers. Then the customers' purchase days before the calibration end are shuffled among
them and only the check's asset runs again: a model fitted on those histories cannot say who
buys in the holdout period, and its check warns while the run still succeeds."""

import csv
import datetime as dt

import dagster as dg
import duckdb
import pytest
from daily_run import run_daily

from orchestration import demo
from orchestration.lib.policies import ModelCheck

pytestmark = [pytest.mark.integration, pytest.mark.pipeline_runs(2)]
END = dt.date(2026, 6, 30)
CALIBRATION_END = END - dt.timedelta(days=ModelCheck().holdout_days)
HOLDOUT_ASSETS = [dg.AssetKey(["predictions", "customer_bgnbd_holdout"]),
                  dg.AssetKey(["predictions", "bgnbd_model_check"])]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("model_check")
    demo.generate(root / "landing", customers=3000, orders=30_000, seed=11, end_date=END)
    return root, run_daily(root, END)


def _check(result, name):
    [evaluation] = [e for e in result.get_asset_check_evaluations()
                    if e.asset_check_key.name == name]
    return evaluation


def _query(root, sql, *params):
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def test_the_model_check_passes_on_the_demo_history_and_is_recorded(demo_run):
    root, result = demo_run
    check = _check(result, "bgnbd_holdout_check")
    assert check.passed and check.severity == dg.AssetCheckSeverity.WARN
    slope = check.metadata["calibration_slope"].value
    assert 0.7 <= slope <= 1.3
    [(passed, customers, predicted, actual)] = _query(root, """
        SELECT passed, customers, predicted_purchases, actual_purchases
        FROM predictions.bgnbd_model_check""")
    assert passed and customers > 1000
    assert predicted == pytest.approx(actual, rel=ModelCheck().max_total_error_share)
    fit = _check(result, "bgnbd_fit_identified")
    assert fit.passed


def test_the_validation_marts_compare_forecast_and_actual_per_group(demo_run):
    root, _ = demo_run
    rows = _query(root, """
        SELECT calibration_frequency, customers, predicted_purchases, actual_purchases,
               calibration_end_date
        FROM inactivity.bgnbd_holdout_by_frequency ORDER BY calibration_frequency""")
    assert [r[0] for r in rows] == list(range(8))
    assert {r[4] for r in rows} == {CALIBRATION_END}
    total_customers = _query(root, "SELECT count(*) FROM predictions.customer_bgnbd_holdout")
    assert sum(r[1] for r in rows) == total_customers[0][0]
    # Heavier buyers before the holdout buy more in it, forecast and actual alike.
    assert rows[7][2] / rows[7][1] > rows[0][2] / rows[0][1]
    assert rows[7][3] / rows[7][1] > rows[0][3] / rows[0][1]
    deciles = _query(root, """
        SELECT p_alive_decile, p_alive_mean, bought_again_share
        FROM inactivity.bgnbd_holdout_by_p_alive_decile ORDER BY p_alive_decile""")
    assert [d[0] for d in deciles] == list(range(1, 11))
    assert deciles[-1][2] > deciles[0][2]


def test_the_status_mart_carries_clv_and_the_model_verdict(demo_run):
    root, result = demo_run
    [(buyers, valued, negative, passed)] = _query(root, """
        SELECT count(*) FILTER (WHERE last_order_date IS NOT NULL), count(clv),
               count(*) FILTER (WHERE clv < 0), bool_and(model_check_passed)
        FROM inactivity.customer_inactivity_status""")
    assert passed and negative == 0
    assert valued > 0.9 * buyers
    [(active, lapsed)] = _query(root, """
        SELECT median(clv) FILTER (WHERE status = 'active'),
               median(clv) FILTER (WHERE status = 'lapsed')
        FROM inactivity.customer_inactivity_status""")
    assert active > lapsed
    [materialization] = [m for m in result.asset_materializations_for_node(
        "predictions__customer_bgnbd")]
    metadata = materialization.metadata
    assert {"r_se", "alpha_weeks_se", "a_se", "b_se", "condition_number"} <= set(metadata)
    spend = metadata["spend_model_by_currency"].value
    assert {row["currency"] for row in spend} == {"EUR", "GBP", "USD"}
    assert all(row["converged"] and abs(row["frequency_spend_correlation"]) < 1 for row in spend)


def test_high_value_lapsed_files_list_the_most_valuable_first_and_meta_gets_the_value(demo_run):
    root, _ = demo_run
    folder = root / "exports" / "high_value_lapsed"
    with (folder / "meta" / END.isoformat() / "high_value_lapsed.csv").open() as f:
        meta = list(csv.DictReader(f))
    assert meta and list(meta[0])[-1] == "value"
    values = [float(r["value"]) for r in meta]
    assert values == sorted(values, reverse=True)
    [(floor_ok,)] = _query(root, """
        SELECT bool_and(clv >= 25) FROM activation.sync_audience_members
        WHERE audience = 'high_value_lapsed'""")
    assert floor_ok


def test_the_check_warns_on_a_model_fitted_to_shuffled_histories(demo_run):
    root, _ = demo_run
    with duckdb.connect(str(root / "warehouse.duckdb")) as con:
        # A bijection of the customers with purchases before the calibration end: each one's
        # calibration-period days go to another customer, the holdout-period days stay.
        con.execute("""
            CREATE TEMP TABLE shuffle AS
            WITH buyers AS (
                SELECT customer_id,
                       row_number() OVER (ORDER BY customer_id) AS position,
                       row_number() OVER (ORDER BY md5(customer_id || 'shuffle')) AS shuffled
                FROM (SELECT DISTINCT customer_id FROM intermediate.int_customer_purchase_days
                      WHERE order_date <= $1))
            SELECT a.customer_id AS original, b.customer_id AS replacement
            FROM buyers AS a JOIN buyers AS b ON a.position = b.shuffled""", [CALIBRATION_END])
        con.execute("""
            UPDATE intermediate.int_customer_purchase_days AS days
            SET customer_id = shuffle.replacement FROM shuffle
            WHERE days.customer_id = shuffle.original AND days.order_date <= $1""",
                    [CALIBRATION_END])
    result = run_daily(root, END, asset_selection=HOLDOUT_ASSETS)
    check = _check(result, "bgnbd_holdout_check")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["model_check_reason"].value.startswith("calibration_slope")
    assert check.metadata["calibration_slope"].value < 0.5
    [(passed,)] = _query(root, "SELECT passed FROM predictions.bgnbd_model_check")
    assert passed is False

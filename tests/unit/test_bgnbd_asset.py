"""The BG/NBD asset's scoring step on grouped sufficient statistics (as read from DuckDB)."""

from pathlib import Path

import duckdb
import numpy as np
import pytest

from orchestration.defs.predictions.assets import MIN_REPEAT_BUYERS, score_groups

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "cdnow_sample_rfm.csv"
GROUP_SQL = """
    SELECT frequency, recency_days, age_days, count(*) AS customers
    FROM customers GROUP BY ALL ORDER BY ALL
"""


def _grouped(rows: list[tuple[int, int, int]]):
    con = duckdb.connect()
    con.execute("CREATE TABLE customers (frequency INT, recency_days INT, age_days INT)")
    con.executemany("INSERT INTO customers VALUES (?, ?, ?)", rows)
    return con.sql(GROUP_SQL).to_arrow_table()


@pytest.fixture(scope="module")
def cdnow_days() -> list[tuple[int, int, int]]:
    data = np.loadtxt(FIXTURE, delimiter=",", skiprows=1)
    # The published sample is recorded on a day grid: weeks x 7 are whole days.
    return [(int(x), round(tx * 7), round(T * 7)) for _, x, tx, T in data]


def test_grouped_cdnow_days_reproduce_the_published_fit_with_alpha_in_weeks(cdnow_days):
    groups = _grouped(cdnow_days)
    assert groups.num_rows < len(cdnow_days)
    params, scored = score_groups(groups)
    assert params is not None and params.n_customers == 2357
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in published.items():
        assert getattr(params, name) == pytest.approx(value, rel=0.01), name
    p_alive = scored["p_alive"].to_numpy()
    e30 = scored["expected_purchases_30d"].to_numpy()
    e90 = scored["expected_purchases_90d"].to_numpy()
    assert scored.num_rows == groups.num_rows
    assert np.all((p_alive >= 0) & (p_alive <= 1))
    assert np.all(e30 >= 0) and np.all(e90 > e30)
    no_repeat = scored["frequency"].to_numpy() == 0
    np.testing.assert_array_equal(p_alive[no_repeat], 1.0)


def test_too_few_repeat_buyers_leave_predictions_null_instead_of_a_fit(cdnow_days):
    repeaters = [row for row in cdnow_days if row[0] > 0][: MIN_REPEAT_BUYERS - 1]
    one_timers = [row for row in cdnow_days if row[0] == 0][:500]
    params, scored = score_groups(_grouped(repeaters + one_timers))
    assert params is None
    assert scored["p_alive"].null_count == scored.num_rows
    assert scored["expected_purchases_90d"].null_count == scored.num_rows


def test_spend_models_are_fitted_per_currency_with_enough_repeat_buyers():
    from cdnow_fixture import load

    from orchestration.defs.predictions.assets import fit_spend_models

    sample = load()
    con = duckdb.connect()
    con.execute("CREATE TEMP TABLE customer_spend (customer_id VARCHAR, currency VARCHAR, "
                "repeat_days BIGINT, repeat_average_spend DOUBLE)")
    rows = [(str(i), "USD", int(x), m)
            for i, (x, m) in enumerate(zip(sample.frequency, sample.repeat_average_spend,
                                           strict=True))]
    rows += [(f"e{i}", "EUR", 2, 10.0 + i) for i in range(MIN_REPEAT_BUYERS - 1)]
    rows += [("free", "EUR", 3, 0.0)]  # free repeat purchases only: no spend to model
    con.executemany("INSERT INTO customer_spend VALUES (?, ?, ?, ?)", rows)
    params, summary = fit_spend_models(con)
    assert params.column("currency").to_pylist() == ["USD"]
    usd = params.to_pylist()[0]
    assert (usd["p"], usd["q"], usd["gamma"]) == pytest.approx((6.25, 3.74, 15.44), abs=0.01)
    by_currency = {row["currency"]: row for row in summary}
    assert by_currency["EUR"] == {"currency": "EUR", "repeat_buyers": MIN_REPEAT_BUYERS - 1}
    assert by_currency["USD"]["repeat_buyers"] == 946
    assert by_currency["USD"]["frequency_spend_correlation"] == pytest.approx(0.11, abs=0.01)

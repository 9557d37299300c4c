"""Tests for the BG/NBD model in ``orchestration.defs.predictions.bgnbd``.

Reference values come from Fader, Hardie & Lee (2005), "Counting Your
Customers the Easy Way: An Alternative to the Pareto/NBD Model", Marketing
Science 24(2): for the CDNOW 1/10 sample (2,357 customers, calibration period
of 39 weeks ending 1997-09-30, time unit weeks) the maximum-likelihood
estimates are r = 0.243, alpha = 4.414, a = 0.793, b = 2.426 with
log-likelihood -9582.4, and a customer with x = 2, t_x = 30.43, T = 38.86 is
expected to make about 1.226 purchases in the next 39 weeks.

Fixture provenance (``tests/fixtures/cdnow_sample_rfm.csv``): derived from the
public CDNOW 1/10 sample transaction log ``CDNOW_sample.txt`` (6,919
transactions of 2,357 customers who made their first purchase in Q1 1997;
columns: master id, sample id, date YYYYMMDD, CDs, dollars) as shipped in the
``datasets`` folder of the PyPI package ``lifetimes`` 0.11.3 (the wheel was
downloaded and unzipped for the data file only; no code was used). Per sample
customer id, over transactions dated on or before 1997-09-30:
``frequency`` = number of distinct purchase days minus one,
``recency_weeks`` = (last purchase day - first purchase day) / 7 and
``age_weeks`` = (1997-09-30 - first purchase day) / 7, written at full float
precision. This agrees with the package's rounded ``cdnow_customers_summary.csv``
(frequency exactly; recency and T to its two decimals).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, stats

from orchestration.defs.predictions import bgnbd

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "cdnow_sample_rfm.csv"
PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_LOG_LIKELIHOOD = -9582.4
PUBLISHED_TUPLE = (0.243, 4.414, 0.793, 2.426)


@pytest.fixture(scope="module")
def cdnow() -> dict[str, np.ndarray]:
    data = np.loadtxt(FIXTURE, delimiter=",", skiprows=1)
    return {
        "customer_id": data[:, 0],
        "frequency": data[:, 1],
        "recency": data[:, 2],
        "age": data[:, 3],
    }


@pytest.fixture(scope="module")
def cdnow_fit(cdnow: dict[str, np.ndarray]) -> bgnbd.BGNBDParams:
    return bgnbd.fit(cdnow["frequency"], cdnow["recency"], cdnow["age"])


def _paper_log_likelihood_one(params: tuple[float, ...], x: int, tx: float, T: float) -> float:
    """FHL 2005 eq. 6 for one customer, written out plainly with math.lgamma."""
    r, alpha, a, b = params

    def log_beta(p: float, q: float) -> float:
        return math.lgamma(p) + math.lgamma(q) - math.lgamma(p + q)

    a1 = math.lgamma(r + x) - math.lgamma(r) + r * math.log(alpha)
    alive = math.exp(log_beta(a, b + x) - log_beta(a, b) + a1 - (r + x) * math.log(alpha + T))
    dead = 0.0
    if x > 0:
        dead = math.exp(
            log_beta(a + 1, b + x - 1) - log_beta(a, b) + a1 - (r + x) * math.log(alpha + tx)
        )
    return math.log(alive + dead)


def _expected_by_integration(
    params: tuple[float, float, float, float], t: float, x: int, tx: float, T: float
) -> float:
    """E[Y(t) | x, t_x, T] by quadrature, independent of the 2F1 closed form.

    Given alive at T, lambda ~ Gamma(r+x, alpha+T) and p ~ Beta(a, b+x)
    independently, and E[Y(t) | lambda, p] = (1 - exp(-lambda p t)) / p.
    Integrating lambda out gives (1 - (1 + p t/(alpha+T))^-(r+x)) / p, left to
    integrate against the Beta(a, b+x) density.
    """
    r, alpha, a, b = params
    s = t / (alpha + T)
    density = stats.beta(a, b + x)

    def integrand(p: float) -> float:
        return density.pdf(p) * -math.expm1(-(r + x) * math.log1p(p * s)) / p

    cuts = [0.0, 1e-6, 1e-4, 1e-3, 1e-2, 0.1, 1.0]
    total = sum(
        integrate.quad(integrand, lo, hi, limit=200, epsabs=0.0, epsrel=1e-10)[0]
        for lo, hi in zip(cuts[:-1], cuts[1:], strict=True)
    )
    return float(bgnbd.p_alive(params, x, tx, T)) * total


def _simulate_event_by_event(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    max_age: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simulate the BG/NBD story literally, one purchase at a time.

    Each customer has lambda ~ Gamma(r, rate alpha) and p ~ Beta(a, b); while
    active, waits Exp(lambda) to the next purchase and, after each repeat
    purchase made within the window, drops out with probability p.
    """
    age = rng.uniform(0.25 * max_age, max_age, n)
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    x = np.zeros(n)
    last = np.zeros(n)
    now = np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        idx = np.flatnonzero(active)
        now[idx] += rng.exponential(1.0 / lam[idx])
        inside = now[idx] <= age[idx]
        buyers = idx[inside]
        x[buyers] += 1
        last[buyers] = now[buyers]
        active[idx[~inside]] = False
        active[buyers[rng.random(len(buyers)) < p[buyers]]] = False
    return x, last, age


# --------------------------------------------------------------------------
# The CDNOW fixture and the published fit
# --------------------------------------------------------------------------


def test_cdnow_fixture_holds_the_2357_customers_of_the_one_tenth_sample(cdnow):
    assert len(cdnow["customer_id"]) == 2357
    assert len(np.unique(cdnow["customer_id"])) == 2357
    # All first purchases fall in the first 12 weeks of 1997.
    assert cdnow["age"].min() >= 27.0
    assert cdnow["age"].max() == pytest.approx(272 / 7)
    assert np.all(cdnow["recency"] <= cdnow["age"])
    assert np.all(cdnow["recency"][cdnow["frequency"] == 0] == 0)


def test_fit_on_cdnow_reproduces_the_published_parameters_within_one_percent(cdnow_fit):
    assert cdnow_fit.converged
    for name, published in PUBLISHED.items():
        assert getattr(cdnow_fit, name) == pytest.approx(published, rel=0.01), name


def test_fit_on_cdnow_reproduces_the_published_log_likelihood(cdnow_fit):
    assert abs(cdnow_fit.log_likelihood - PUBLISHED_LOG_LIKELIHOOD) < 0.1
    assert cdnow_fit.n_customers == 2357


def test_fitted_parameters_are_a_stationary_point_of_the_log_likelihood(cdnow, cdnow_fit):
    theta = np.log(cdnow_fit.as_tuple())
    step = 1e-5
    for k in range(4):
        up, down = theta.copy(), theta.copy()
        up[k] += step
        down[k] -= step
        slope = (
            bgnbd.log_likelihood(
                tuple(np.exp(up)), cdnow["frequency"], cdnow["recency"], cdnow["age"]
            )
            - bgnbd.log_likelihood(
                tuple(np.exp(down)), cdnow["frequency"], cdnow["recency"], cdnow["age"]
            )
        ) / (2 * step)
        assert abs(slope) < 0.05


def test_fit_params_are_frozen(cdnow_fit):
    with pytest.raises(AttributeError):
        cdnow_fit.r = 1.0  # type: ignore[misc]


# --------------------------------------------------------------------------
# Likelihood and grouping
# --------------------------------------------------------------------------


def test_log_likelihood_matches_the_paper_formula_evaluated_customer_by_customer(cdnow):
    params = PUBLISHED_TUPLE
    rows = range(0, 2357, 97)
    expected = sum(
        _paper_log_likelihood_one(
            params, int(cdnow["frequency"][i]), cdnow["recency"][i], cdnow["age"][i]
        )
        for i in rows
    )
    idx = np.array(list(rows))
    got = bgnbd.log_likelihood(
        params, cdnow["frequency"][idx], cdnow["recency"][idx], cdnow["age"][idx]
    )
    assert got == pytest.approx(expected, rel=1e-12)


def test_log_likelihood_stays_finite_for_very_heavy_and_very_old_customers():
    value = bgnbd.log_likelihood(
        PUBLISHED_TUPLE, [5000, 0, 1], [9000.0, 0.0, 1e-9], [10000.0, 1e6, 1e6]
    )
    assert np.isfinite(value)


def test_weights_count_as_repeated_rows_in_the_log_likelihood(cdnow):
    x, tx, T = cdnow["frequency"][:50], cdnow["recency"][:50], cdnow["age"][:50]
    weights = np.arange(50) % 4  # includes zero weights
    repeated = np.repeat(np.arange(50), weights)
    weighted = bgnbd.log_likelihood(PUBLISHED_TUPLE, x, tx, T, weights)
    expanded = bgnbd.log_likelihood(PUBLISHED_TUPLE, x[repeated], tx[repeated], T[repeated])
    assert weighted == pytest.approx(expanded, rel=1e-12)


def test_fitting_unique_rows_with_count_weights_gives_the_same_fit_as_one_row_per_customer(
    cdnow, cdnow_fit
):
    triples = np.column_stack([cdnow["frequency"], cdnow["recency"], cdnow["age"]])
    unique, counts = np.unique(triples, axis=0, return_counts=True)
    assert len(unique) < 2357  # the grouping actually collapses rows
    grouped = bgnbd.fit(unique[:, 0], unique[:, 1], unique[:, 2], weights=counts)
    assert grouped.n_customers == 2357
    assert grouped.log_likelihood == pytest.approx(cdnow_fit.log_likelihood, abs=1e-6)
    for name in PUBLISHED:
        assert getattr(grouped, name) == pytest.approx(getattr(cdnow_fit, name), rel=1e-4)


def test_the_fit_and_its_diagnostics_are_the_same_bit_for_bit_whatever_the_row_order(cdnow):
    # The pipeline passes triples sorted as its grouped query returns them, which the grouping
    # takes as they are; any other order is sorted first.
    triples = np.column_stack([cdnow["frequency"], cdnow["recency"], cdnow["age"]])
    ordered, counts = np.unique(triples, axis=0, return_counts=True)
    shuffled = np.random.default_rng(7).permutation(len(ordered))
    results = []
    for rows in (np.arange(len(ordered)), shuffled, shuffled[::-1]):
        x, tx, T = ordered[rows, 0], ordered[rows, 1], ordered[rows, 2]
        fitted = bgnbd.fit(x, tx, T, weights=counts[rows])
        results.append((fitted, bgnbd.fit_diagnostics(fitted, x, tx, T, counts[rows])))
    assert results[1] == results[0]
    assert results[2] == results[0]


def test_fit_recovers_known_parameters_from_simulated_customers():
    true = {"r": 1.0, "alpha": 8.0, "a": 1.5, "b": 4.0}
    rng = np.random.default_rng(2005)
    x, tx, T = _simulate_event_by_event(20_000, max_age=104.0, rng=rng, **true)
    fitted = bgnbd.fit(x, tx, T)
    assert fitted.converged
    for name, value in true.items():
        assert getattr(fitted, name) == pytest.approx(value, rel=0.15), name


def test_fit_accepts_an_explicit_starting_point(cdnow):
    fitted = bgnbd.fit(
        cdnow["frequency"], cdnow["recency"], cdnow["age"], initial=(0.5, 2.0, 2.0, 5.0)
    )
    assert abs(fitted.log_likelihood - PUBLISHED_LOG_LIKELIHOOD) < 0.1


# --------------------------------------------------------------------------
# P(alive)
# --------------------------------------------------------------------------


def test_p_alive_is_one_for_customers_without_repeat_purchases():
    result = bgnbd.p_alive(PUBLISHED_TUPLE, [0, 0, 0], [0.0, 0.0, 0.0], [1.0, 38.86, 500.0])
    np.testing.assert_array_equal(result, 1.0)


def test_p_alive_decreases_as_recency_falls_for_fixed_frequency_and_age():
    recency = np.linspace(38.0, 0.5, 40)
    result = bgnbd.p_alive(PUBLISHED_TUPLE, 3, recency, 38.86)
    assert np.all(np.diff(result) < 0)


def test_p_alive_lies_between_zero_and_one(cdnow, cdnow_fit):
    result = bgnbd.p_alive(cdnow_fit, cdnow["frequency"], cdnow["recency"], cdnow["age"])
    assert result.shape == (2357,)
    assert np.all((result >= 0) & (result <= 1))
    extremes = bgnbd.p_alive(PUBLISHED_TUPLE, [5000, 1, 1], [1e-6, 0.0, 1e5], [1e5, 1e5, 1e5])
    assert np.all((extremes >= 0) & (extremes <= 1))
    assert extremes[0] < 1e-12  # a very heavy buyer silent for ages is gone


def test_p_alive_matches_the_closed_form_for_one_customer():
    r, alpha, a, b = PUBLISHED_TUPLE
    x, tx, T = 2, 30.43, 38.86
    expected = 1.0 / (1.0 + a / (b + x - 1) * ((alpha + T) / (alpha + tx)) ** (r + x))
    assert bgnbd.p_alive(PUBLISHED_TUPLE, x, tx, T) == pytest.approx(expected, rel=1e-12)


# --------------------------------------------------------------------------
# Conditional expected purchases
# --------------------------------------------------------------------------


def test_expected_purchases_for_the_papers_example_customer_is_about_1_226(cdnow_fit):
    # x = 2, t_x = 30.43, T = 38.86, next 39 weeks (checked against the
    # quadrature reference in the next test as well).
    for params in (PUBLISHED_TUPLE, cdnow_fit):
        value = bgnbd.expected_purchases(params, 39.0, 2, 30.43, 38.86)
        assert value == pytest.approx(1.226, abs=5e-4)


@pytest.mark.parametrize(
    ("params", "t", "x", "tx", "T"),
    [
        (PUBLISHED_TUPLE, 39.0, 2, 30.43, 38.86),
        (PUBLISHED_TUPLE, 52.0, 0, 0.0, 38.86),
        (PUBLISHED_TUPLE, 10.0, 10, 35.0, 38.0),
        (PUBLISHED_TUPLE, 1.0, 29, 37.0, 38.5),
        # Integer-valued parameters hit scipy's degenerate 2F1 branch near z = 1.
        ((2.0, 10.0, 3.0, 5.0), 1e6, 300, 360.0, 365.0),
        ((2.0, 10.0, 3.0, 5.0), 52.0, 300, 360.0, 365.0),
        # a = 1 is a removable singularity of the closed form.
        ((1.0, 2.0, 1.0, 3.0), 52.0, 4, 20.0, 50.0),
        # a + b = 1 is one too, for customers without repeat purchases.
        ((0.5, 3.0, 0.4, 0.6), 26.0, 0, 0.0, 50.0),
    ],
)
def test_expected_purchases_match_direct_numerical_integration_of_the_model(params, t, x, tx, T):
    value = float(bgnbd.expected_purchases(params, t, x, tx, T))
    assert value == pytest.approx(_expected_by_integration(params, t, x, tx, T), rel=1e-7)


def test_expected_purchases_are_non_negative_and_increase_with_the_horizon(cdnow, cdnow_fit):
    horizons = np.array([0.0, 0.5, 1.0, 4.0, 13.0, 39.0, 52.0, 104.0, 520.0])
    values = bgnbd.expected_purchases(
        cdnow_fit,
        horizons[:, None],
        cdnow["frequency"][None, :],
        cdnow["recency"][None, :],
        cdnow["age"][None, :],
    )
    assert values.shape == (len(horizons), 2357)
    assert np.all(values >= 0)
    np.testing.assert_array_equal(values[0], 0.0)
    assert np.all(np.diff(values, axis=0) > 0)


def test_expected_purchases_stay_finite_for_heavy_buyers_and_long_horizons():
    values = bgnbd.expected_purchases(
        PUBLISHED_TUPLE, [1.0, 52.0, 1e4], [3000, 3000, 3000], 3600.0, 3650.0
    )
    assert np.all(np.isfinite(values))
    assert np.all(np.diff(values) > 0)


@pytest.mark.parametrize("params", [
    PUBLISHED_TUPLE,
    (1.0, 2.0, 1.0, 3.0),  # a = 1: the singular case takes the per-horizon path
])
def test_expected_purchases_by_horizon_are_each_horizons_expected_purchases_bit_for_bit(
        cdnow, params):
    # Customers sharing (frequency, age) with other recencies, in shuffled order, as the
    # grouped triples of a warehouse are: every customer must get their own value back.
    rng = np.random.default_rng(7)
    x = np.concatenate([cdnow["frequency"], cdnow["frequency"]])
    T = np.concatenate([cdnow["age"], cdnow["age"]])
    tx = np.concatenate([cdnow["recency"], cdnow["recency"] * rng.uniform(0, 1, len(T) // 2)])
    tx[x == 0] = 0.0
    order = rng.permutation(len(x))
    x, tx, T = x[order], tx[order], T[order]
    horizons = [0.0, 30 / 7, 90 / 7, 52.0]
    shared = bgnbd.expected_purchases_by_horizon(params, horizons, x, tx, T)
    assert len(shared) == len(horizons)
    for t, values in zip(horizons, shared, strict=True):
        single = bgnbd.expected_purchases(params, t, x, tx, T)
        np.testing.assert_array_equal(values.view(np.uint64), single.view(np.uint64))
    assert len(np.unique(np.stack([x, T]), axis=1)[0]) < len(x)  # pairs are shared
    with pytest.raises(ValueError, match="non-negative"):
        bgnbd.expected_purchases_by_horizon(params, [1.0, -SECRET], x, tx, T)


# --------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------

SECRET = 123.456  # a value that must never be echoed in an error message


@pytest.mark.parametrize(
    ("frequency", "recency", "age", "fragment"),
    [
        ([-SECRET, 1], [0.0, 1.0], [SECRET, 2.0], "non-negative"),
        ([1, 1], [-SECRET, 1.0], [SECRET, 2.0], "non-negative"),
        ([1, 1], [1.0, 1.0], [-SECRET, 2.0], "non-negative"),
        ([1, 2], [SECRET + 1, 1.0], [SECRET, 2.0], "exceed"),
        ([0, 2], [SECRET, 1.0], [SECRET + 1, 2.0], "frequency is 0"),
        ([SECRET, 2], [1.0, 1.0], [SECRET, 2.0], "integer"),
        ([1, 2], [float("nan"), 1.0], [SECRET, 2.0], "finite"),
        ([1, 2], [1.0, 1.0], [float("inf"), SECRET], "finite"),
        (["abc", "123.456"], [1.0, 1.0], [2.0, 2.0], "numeric"),
        ([1, 2, 3], [1.0, 1.0], [SECRET, 2.0], "same length"),
        ([], [], [], "at least one"),
    ],
)
def test_fit_rejects_invalid_customer_data_without_echoing_values(
    frequency, recency, age, fragment
):
    with pytest.raises(ValueError, match=fragment) as info:
        bgnbd.fit(frequency, recency, age)
    message = str(info.value)
    assert "123" not in message and "456" not in message and "abc" not in message


@pytest.mark.parametrize(
    ("weights", "fragment"),
    [
        ([-SECRET, 1.0], "non-negative"),
        ([0.0, 0.0], "positive"),
        ([1.0], "one entry per customer"),
        ([float("nan"), 1.0], "finite"),
    ],
)
def test_fit_rejects_invalid_weights_without_echoing_values(weights, fragment):
    with pytest.raises(ValueError, match=fragment) as info:
        bgnbd.fit([1, 0], [1.0, 0.0], [2.0, 2.0], weights=weights)
    assert "123" not in str(info.value)


def test_fit_rejects_a_non_positive_iteration_limit_and_bad_starting_point():
    with pytest.raises(ValueError, match="max_iter"):
        bgnbd.fit([1, 0], [1.0, 0.0], [2.0, 2.0], max_iter=0)
    with pytest.raises(ValueError, match="positive"):
        bgnbd.fit([1, 0], [1.0, 0.0], [2.0, 2.0], initial=(1.0, -SECRET, 1.0, 1.0))


@pytest.mark.parametrize(
    "params", [(0.0, 1.0, 1.0, 1.0), (1.0, -SECRET, 1.0, 1.0), (1.0, 1.0, float("nan"), 1.0)]
)
def test_predictions_and_likelihood_reject_non_positive_parameters(params):
    for call in (
        lambda: bgnbd.p_alive(params, 1, 1.0, 2.0),
        lambda: bgnbd.expected_purchases(params, 1.0, 1, 1.0, 2.0),
        lambda: bgnbd.log_likelihood(params, [1], [1.0], [2.0]),
    ):
        with pytest.raises(ValueError, match="positive") as info:
            call()
        assert "123" not in str(info.value)


def test_predictions_reject_invalid_customers_and_negative_horizons():
    with pytest.raises(ValueError, match="exceed"):
        bgnbd.p_alive(PUBLISHED_TUPLE, 1, SECRET + 1, SECRET)
    with pytest.raises(ValueError, match="non-negative") as info:
        bgnbd.expected_purchases(PUBLISHED_TUPLE, -SECRET, 1, 1.0, 2.0)
    assert "123" not in str(info.value)

"""The Gamma-Gamma spend model and CLV (orchestration.defs.predictions.gamma_gamma).

Reference: Fader & Hardie, "The Gamma-Gamma Model of Monetary Value" (2013): on the 946 repeat
buyers of the CDNOW 1/10 sample's 39-week calibration period, with the mean value of their
repeat transactions, p = 6.25, q = 3.74, gamma = 15.44 and log-likelihood -4055.9; the
correlation of frequency and average spend is 0.11 (weak, so the independence the model assumes
is reasonable). The averages are derived from tests/fixtures/cdnow_sample_transactions.csv
(transactions on one day summed, the first purchase day excluded)."""

from math import lgamma, log

import numpy as np
import pytest
from cdnow_fixture import load

from orchestration.defs.predictions import bgnbd, gamma_gamma


@pytest.fixture(scope="module")
def repeat_buyers():
    sample = load()
    repeat = sample.frequency > 0
    return sample.frequency[repeat], sample.repeat_average_spend[repeat]


@pytest.fixture(scope="module")
def spend_fit(repeat_buyers):
    return gamma_gamma.fit(*repeat_buyers)


def test_the_fixture_holds_the_946_repeat_buyers(repeat_buyers):
    frequency, spend = repeat_buyers
    assert len(frequency) == 946
    assert np.all(spend > 0)


def test_fit_reproduces_the_published_cdnow_estimates(spend_fit):
    assert spend_fit.converged
    assert spend_fit.p == pytest.approx(6.25, abs=0.01)
    assert spend_fit.q == pytest.approx(3.74, abs=0.01)
    assert spend_fit.gamma == pytest.approx(15.44, abs=0.01)
    assert spend_fit.log_likelihood == pytest.approx(-4055.9, abs=0.1)


def test_the_fit_converges_whatever_order_the_buyers_come_in():
    """A currency's CLV is dropped when its fit did not converge. The same buyers in another row
    order (the warehouse returns them unordered) must fit alike: here scipy's line search stops
    at the optimum for 10 of 100 orders, and the fit still counts as converged."""
    rng = np.random.default_rng(8)
    x = rng.geometric(0.4, 700).astype(float)
    nu = rng.gamma(2.9, 1 / 80.0, 700)
    m = np.round(rng.gamma(2.3 * x, 1 / (nu * x)), 2)  # the mean of x purchases ~ Gamma(p, nu)
    fits = [gamma_gamma.fit(x[order], m[order])
            for order in (rng.permutation(len(x)) for _ in range(100))]
    assert all(fit.converged for fit in fits)
    p = np.array([fit.p for fit in fits])
    assert np.ptp(p) < 1e-6 * p.mean()


def test_a_fit_stopped_by_its_iteration_limit_is_not_converged(repeat_buyers, monkeypatch):
    minimize = gamma_gamma.optimize.minimize

    def cut_short(*args, **kwargs):
        return minimize(*args, **{**kwargs, "options": {**kwargs["options"], "maxiter": 2}})

    monkeypatch.setattr(gamma_gamma.optimize, "minimize", cut_short)
    assert not gamma_gamma.fit(*repeat_buyers).converged


def test_frequency_and_spend_correlation_is_the_published_weak_one(repeat_buyers):
    assert gamma_gamma.frequency_spend_correlation(*repeat_buyers) == pytest.approx(0.11, abs=0.01)


def test_expected_spend_shrinks_each_average_towards_the_population_mean(spend_fit):
    population = spend_fit.population_mean_spend
    assert population == pytest.approx(6.25 * 15.44 / 2.74, rel=0.01)
    x = np.array([0.0, 1.0, 1.0, 20.0])
    m = np.array([0.0, 10.0, 100.0, 100.0])
    expected = gamma_gamma.expected_average_spend(spend_fit, x, m)
    assert expected[0] == pytest.approx(population)
    # One repeat purchase of 10 is pulled up, of 100 pulled down; twenty of 100 barely move.
    assert 10 < expected[1] < population < expected[2] < 100
    assert abs(expected[3] - 100) < abs(expected[2] - 100)


def test_log_likelihood_is_each_buyers_published_density_whatever_their_order():
    # Repeat counts out of order and repeated, weighted: the total is the weighted sum of each
    # buyer's log density f(m | p, q, gamma, x) of the paper, evaluated one buyer at a time.
    x = np.array([3.0, 1.0, 3.0, 7.0, 1.0, 2.0])
    m = np.array([20.5, 11.0, 35.25, 14.0, 9.5, 60.0])
    w = np.array([1.0, 2.0, 1.0, 0.5, 3.0, 1.0])
    p, q, g = 6.25, 3.74, 15.44
    densities = [
        lgamma(p * xi + q) - lgamma(p * xi) - lgamma(q) + q * log(g) + (p * xi - 1) * log(mi)
        + p * xi * log(xi) - (p * xi + q) * log(g + mi * xi)
        for xi, mi in zip(x, m, strict=True)
    ]
    expected = float(np.dot(w, densities))
    assert gamma_gamma.log_likelihood((p, q, g), x, m, w) == pytest.approx(expected, rel=1e-12)
    order = np.array([5, 3, 0, 4, 1, 2])
    assert gamma_gamma.log_likelihood((p, q, g), x[order], m[order], w[order]) == (
        pytest.approx(expected, rel=1e-12))


def test_fit_refuses_one_time_buyers_and_non_positive_spend_without_echoing_values():
    with pytest.raises(ValueError, match="repeat buyers only") as err:
        gamma_gamma.fit([0, 2], [12.5, 30.25])
    assert "12.5" not in str(err.value)
    with pytest.raises(ValueError, match="must be positive"):
        gamma_gamma.fit([1, 2], [0.0, 30.25])


def test_clv_discounting_lowers_value_and_a_zero_rate_gives_the_plain_forecast():
    params = bgnbd.BGNBDParams(0.243, 4.414, 0.793, 2.426, 0.0, 1.0, True)
    x, tx, T = np.array([2.0, 0.0]), np.array([30.43, 0.0]), np.array([38.86, 38.86])
    plain = bgnbd.expected_purchases(params, 365 / 7, x, tx, T)
    undiscounted = gamma_gamma.discounted_expected_purchases(params, 365, 0.0, x, tx, T)
    discounted = gamma_gamma.discounted_expected_purchases(params, 365, 0.1, x, tx, T)
    np.testing.assert_allclose(undiscounted, plain, rtol=1e-9)
    assert np.all(discounted < plain)
    # Purchases a year out are worth 1/1.1; spread over the year the factor lies between.
    assert np.all(discounted > plain / 1.1)

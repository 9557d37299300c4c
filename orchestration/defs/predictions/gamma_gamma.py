"""Gamma-Gamma spend model and customer lifetime value on top of the BG/NBD.

Implements Fader & Hardie, "The Gamma-Gamma Model of Monetary Value" (2013), from its formulas:
a customer's transaction values vary around their mean spend ``zeta`` as
``Gamma(p, nu)`` with ``nu ~ Gamma(q, gamma)`` across customers, so the average ``m`` of ``x``
transactions has the density

    f(m | p, q, gamma, x) = G(px+q) / (G(px) G(q)) * gamma^q * m^(px-1) * x^(px)
                            / (gamma + m x)^(px+q)

and the expected mean spend of a customer given ``(x, m)`` is a weighted average of the population
mean ``p gamma / (q - 1)`` and their own average:

    E[zeta | x, m] = (q - 1) / (px + q - 1) * p gamma / (q - 1) + px / (px + q - 1) * m.

The model assumes that spend is independent of purchase frequency:
:func:`frequency_spend_correlation` reports the correlation to check it. Fitted on repeat
buyers only (``x`` repeat transactions and the mean of their values, the first purchase
excluded), each currency on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special

from orchestration.defs.predictions import bgnbd
from orchestration.defs.predictions.blas import one_blas_thread
from orchestration.defs.predictions.optimum import reached_optimum

FloatArray = NDArray[np.float64]
_LOG_BOUND = 20.0
DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class GammaGammaParams:
    """Fitted Gamma-Gamma parameters (``gamma`` in the currency's unit), the maximised
    log-likelihood, the customer weight fitted and whether the optimiser converged."""

    p: float
    q: float
    gamma: float
    log_likelihood: float
    n_customers: float
    converged: bool

    @property
    def population_mean_spend(self) -> float:
        """``p gamma / (q - 1)``: the mean spend of a customer never seen repeating (infinite
        when ``q <= 1``)."""
        return self.p * self.gamma / (self.q - 1.0) if self.q > 1.0 else float("inf")


def _columns(
    frequency: ArrayLike, average_spend: ArrayLike, weights: ArrayLike | None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    x = np.asarray(frequency, dtype=np.float64)
    m = np.asarray(average_spend, dtype=np.float64)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64)
    if not (x.shape == m.shape == w.shape) or x.ndim != 1:
        raise ValueError("frequency, average spend and weights must be 1-D of the same length")
    for name, arr in (("frequency", x), ("average spend", m), ("weights", w)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        if bad:
            raise ValueError(f"{name} must be finite; {bad} value(s) are not")
    if np.any(x < 1):
        raise ValueError(
            f"the Gamma-Gamma model is fitted on repeat buyers only; "
            f"{int(np.count_nonzero(x < 1))} row(s) have no repeat purchase"
        )
    if np.any(m <= 0):
        raise ValueError(
            f"average spend must be positive; {int(np.count_nonzero(m <= 0))} value(s) are not"
        )
    return x, m, w


class _Terms:
    """The columns of the likelihood that do not depend on the parameters, computed once per
    fit. ``x`` takes few distinct values (repeat purchase days), so the gamma functions of
    ``p x`` are evaluated per distinct value and gathered, which gives the same numbers as
    evaluating them per row (three quarters of a fit's time at a million buyers went there)."""

    def __init__(self, x: FloatArray, m: FloatArray, w: FloatArray) -> None:
        self.x, self.m, self.w = x, m, w
        self.distinct_x, self.row_of = np.unique(x, return_inverse=True)
        self.log_m, self.log_x = np.log(m), np.log(x)

    def per_distinct(self, values: FloatArray) -> FloatArray:
        return values[self.row_of]

    def per_row(self, p: float, q: float,
                gamma: float) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Each row's log-likelihood, with ``p x`` and ``log(gamma + m x)`` (the gradient needs
        them too)."""
        px = p * self.x
        pu = p * self.distinct_x
        log_g_mx = np.log(gamma + self.m * self.x)
        per = (
            self.per_distinct(special.gammaln(pu + q)) - self.per_distinct(special.gammaln(pu))
            - special.gammaln(q)
            + q * np.log(gamma) + (px - 1.0) * self.log_m + px * self.log_x
            - (px + q) * log_g_mx
        )
        return per, px, log_g_mx

    def loglik(self, p: float, q: float, gamma: float) -> float:
        return float(np.dot(self.w, self.per_row(p, q, gamma)[0]))


@one_blas_thread
def log_likelihood(
    params: GammaGammaParams | tuple[float, float, float],
    frequency: ArrayLike,
    average_spend: ArrayLike,
    weights: ArrayLike | None = None,
) -> float:
    """Total (weighted) Gamma-Gamma log-likelihood of repeat buyers' average spend."""
    p, q, gamma = _param_tuple(params)
    return _Terms(*_columns(frequency, average_spend, weights)).loglik(p, q, gamma)


def _param_tuple(
    params: GammaGammaParams | tuple[float, float, float],
) -> tuple[float, float, float]:
    if isinstance(params, GammaGammaParams):
        return params.p, params.q, params.gamma
    p, q, gamma = (float(v) for v in params)
    return p, q, gamma


@one_blas_thread
def fit(
    frequency: ArrayLike, average_spend: ArrayLike, weights: ArrayLike | None = None
) -> GammaGammaParams:
    """Maximum-likelihood fit on repeat buyers: ``frequency`` repeat purchases (>= 1) and the
    positive mean value of those purchases, optionally weighted (e.g. customer counts)."""
    x, m, w = _columns(frequency, average_spend, weights)
    if len(x) == 0:
        raise ValueError("at least one repeat buyer is required")
    total_weight = float(w.sum())
    # Start from the method of moments of the Gamma mixture: p = 1, q and gamma matching the
    # mean and spread of the averages.
    mean = float(np.dot(w, m) / total_weight)
    var = float(np.dot(w, (m - mean) ** 2) / total_weight) or mean**2
    q0 = max(2.0 + mean**2 / var, 1.5)
    start = np.log([1.0, q0, mean * (q0 - 1.0)])

    terms = _Terms(x, m, w)
    log_mx = terms.log_m + terms.log_x

    def objective(theta: FloatArray) -> tuple[float, FloatArray]:
        p, q, gamma = np.exp(theta)
        per, px, log_g_mx = terms.per_row(p, q, gamma)
        value = float(np.dot(w, per))
        if not np.isfinite(value):
            return 1e300, np.zeros(3)
        pu = p * terms.distinct_x
        psi_pxq = terms.per_distinct(special.digamma(pu + q))
        grad = np.array([
            np.dot(w, x * (psi_pxq - terms.per_distinct(special.digamma(pu)) + log_mx
                           - log_g_mx)),
            np.dot(w, psi_pxq - special.digamma(q) + np.log(gamma) - log_g_mx),
            np.dot(w, q / gamma - (px + q) / (gamma + m * x)),
        ])
        # Negative mean log-likelihood; chain rule d/dlog(v) = v * d/dv.
        return -value / total_weight, -grad * np.array([p, q, gamma]) / total_weight

    result = optimize.minimize(
        objective, start, jac=True, method="L-BFGS-B", bounds=[(-_LOG_BOUND, _LOG_BOUND)] * 3,
        options={"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-9},
    )
    p, q, gamma = (float(v) for v in np.exp(result.x))
    total = terms.loglik(p, q, gamma)
    return GammaGammaParams(p, q, gamma, total, total_weight,
                            reached_optimum(result, _LOG_BOUND) and bool(np.isfinite(total)))


def expected_average_spend(
    params: GammaGammaParams | tuple[float, float, float],
    frequency: ArrayLike,
    average_spend: ArrayLike,
) -> FloatArray:
    """``E[zeta | x, m]``: each customer's expected spend per purchase; the population mean for
    ``x == 0`` (nothing seen but the first purchase). Needs ``q > 1``."""
    p, q, gamma = _param_tuple(params)
    if q <= 1.0:
        raise ValueError("the expected spend is finite only for q > 1")
    x = np.asarray(frequency, dtype=np.float64)
    m = np.where(x > 0, np.asarray(average_spend, dtype=np.float64), 0.0)
    return (p * (gamma + x * m)) / (p * x + q - 1.0)


def frequency_spend_correlation(
    frequency: ArrayLike, average_spend: ArrayLike, weights: ArrayLike | None = None
) -> float:
    """Weighted Pearson correlation of repeat purchases and average spend (the model assumes
    none); NaN when either does not vary."""
    x, m, w = _columns(frequency, average_spend, weights)
    mx, mm = np.average(x, weights=w), np.average(m, weights=w)
    cov = np.average((x - mx) * (m - mm), weights=w)
    sx = np.sqrt(np.average((x - mx) ** 2, weights=w))
    sm = np.sqrt(np.average((m - mm) ** 2, weights=w))
    return float(cov / (sx * sm)) if sx > 0 and sm > 0 else float("nan")


def discounted_expected_purchases(
    params: bgnbd.BGNBDParams,
    horizon_days: int,
    annual_discount_rate: float,
    frequency: ArrayLike,
    recency_weeks: ArrayLike,
    age_weeks: ArrayLike,
    step_days: int = 30,
) -> FloatArray:
    """BG/NBD expected purchases over the horizon, each step's purchases discounted to today:
    ``sum_k (E[Y(t_k)] - E[Y(t_k-1)]) / (1 + d)^(t_k / 365.25)`` with ``t_k`` every ``step_days``
    up to ``horizon_days`` (the last step may be shorter). Multiplied by the expected spend per
    purchase this is the customer lifetime value over the horizon."""
    if horizon_days < 1 or step_days < 1:
        raise ValueError("horizon_days and step_days must be positive")
    if annual_discount_rate <= -1:
        raise ValueError("the discount rate must be above -1")
    ends = list(range(step_days, horizon_days, step_days)) + [horizon_days]
    total = np.zeros(np.broadcast(frequency, recency_weeks, age_weeks).shape)
    previous = np.zeros_like(total)
    cumulatives = bgnbd.expected_purchases_by_horizon(
        params, [end / 7.0 for end in ends], frequency, recency_weeks, age_weeks)
    for end, cumulative in zip(ends, cumulatives, strict=True):
        total += (cumulative - previous) / (1.0 + annual_discount_rate) ** (end / DAYS_PER_YEAR)
        previous = cumulative
    return total

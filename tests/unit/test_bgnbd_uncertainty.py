"""Standard errors and conditioning of the BG/NBD fit (bgnbd.fit_diagnostics)."""

from pathlib import Path

import numpy as np
import pytest

from orchestration.defs.predictions import bgnbd

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "cdnow_sample_rfm.csv"


@pytest.fixture(scope="module")
def cdnow():
    _, x, tx, T = np.loadtxt(FIXTURE, delimiter=",", skiprows=1).T
    return x, tx, T


@pytest.fixture(scope="module")
def cdnow_fit(cdnow):
    return bgnbd.fit(*cdnow)


def _second_difference_covariance(params, x, tx, T) -> np.ndarray:
    """Independent check: the Hessian of the log-likelihood itself (no gradient code) by second
    differences in the natural parameters, inverted."""
    theta = np.array(params.as_tuple())
    h = 1e-4 * theta
    hessian = np.empty((4, 4))
    for i in range(4):
        for j in range(4):
            def ll(di, dj, i=i, j=j):
                shifted = theta.copy()
                shifted[i] += di * h[i]
                shifted[j] += dj * h[j]
                return bgnbd.log_likelihood(tuple(shifted), x, tx, T)
            hessian[i, j] = (ll(1, 1) - ll(1, -1) - ll(-1, 1) + ll(-1, -1)) / (4 * h[i] * h[j])
    return np.linalg.inv(-hessian)


def test_cdnow_standard_errors_match_the_inverse_hessian_of_the_likelihood(cdnow, cdnow_fit):
    diagnostics = bgnbd.fit_diagnostics(cdnow_fit, *cdnow)
    reference = np.sqrt(np.diag(_second_difference_covariance(cdnow_fit, *cdnow)))
    np.testing.assert_allclose(diagnostics.standard_errors, reference, rtol=1e-3)
    # About r 0.013, alpha 0.38, a 0.19, b 0.71 weeks: every estimate is several SEs from 0.
    assert np.all(np.array(cdnow_fit.as_tuple()) / reference > 3)
    assert diagnostics.well_conditioned


def test_a_fit_on_a_handful_of_customers_is_flagged_as_not_identified():
    x = np.array([0.0, 0.0, 1.0, 0.0, 2.0])
    tx = np.array([0.0, 0.0, 5.0, 0.0, 9.0])
    T = np.array([10.0, 12.0, 11.0, 10.0, 12.0])
    params = bgnbd.fit(x, tx, T)
    diagnostics = bgnbd.fit_diagnostics(params, x, tx, T)
    assert not diagnostics.well_conditioned


def test_standard_errors_shrink_with_more_customers_like_one_over_root_n(cdnow, cdnow_fit):
    x, tx, T = cdnow
    single = bgnbd.fit_diagnostics(cdnow_fit, x, tx, T)
    quadruple = bgnbd.fit_diagnostics(cdnow_fit, x, tx, T, weights=np.full(len(x), 4.0))
    np.testing.assert_allclose(
        np.array(quadruple.standard_errors) * 2, single.standard_errors, rtol=1e-3)

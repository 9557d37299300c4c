"""When a bounded L-BFGS-B maximum-likelihood fit has reached its optimum.

scipy reports ``success`` only when its own tolerances are met. Near the optimum of a mean
log-likelihood the objective's rounding noise (~1e-16 relative) can stop the line search first
("ABNORMAL_TERMINATION_IN_LNSRCH") although the gradient is already ~1e-8: the same data in
another row order then "fails" one time in twenty with parameters equal to eight digits. A fit
counts as converged when scipy says so, or when the line search stopped at a point whose
projected gradient (components pushing against a bound do not count) is below ``GRADIENT_TOL``.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import OptimizeResult

# Largest projected gradient component of the negative mean log-likelihood (per customer, in
# log-parameter space) accepted as a stationary point when the line search stopped early.
GRADIENT_TOL = 1e-6
_LINE_SEARCH_STOPPED = 2  # L-BFGS-B's status for "ABNORMAL" / line search failures


def reached_optimum(result: OptimizeResult, bound: float) -> bool:
    """Whether `result` of ``optimize.minimize(..., method="L-BFGS-B", jac=True)`` with every
    variable bounded to [-bound, bound] is the fit's optimum (see the module docstring)."""
    if not np.isfinite(result.fun):
        return False
    if result.success:
        return True
    if result.status != _LINE_SEARCH_STOPPED:
        return False  # iteration limit, or the objective gave no usable value
    x, grad = np.asarray(result.x), np.asarray(result.jac)
    held_by_bound = ((x <= -bound) & (grad > 0)) | ((x >= bound) & (grad < 0))
    projected = np.where(held_by_bound, 0.0, grad)
    return bool(np.all(np.isfinite(projected)) and np.max(np.abs(projected)) < GRADIENT_TOL)

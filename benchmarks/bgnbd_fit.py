"""Benchmark: fit the BG/NBD model to a large simulated customer base.

Simulates ``--customers`` customers (default 1,000,000) from known BG/NBD
parameters, records their purchases on a daily grid (as a transactional
source would) expressed in weeks, times :func:`orchestration.defs.predictions.bgnbd.fit`
(wall clock, including validation and grouping) and prints the customer
count, the number of unique (x, t_x, T) groups, the fit time, fitted vs true
parameters and the process's peak resident memory.

Run from the repository root::

    python benchmarks/bgnbd_fit.py --customers 1000000

Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestration.defs.predictions import bgnbd, gamma_gamma  # noqa: E402

# CDNOW-like parameters (weekly time unit), from Fader, Hardie & Lee (2005).
TRUE_PARAMS = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
MAX_AGE_DAYS = 730  # customers acquired uniformly over the last two years


def simulate(
    n: int, r: float, alpha: float, a: float, b: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw (frequency, recency_weeks, age_weeks) for ``n`` BG/NBD customers.

    Per customer: ``lambda ~ Gamma(r, rate=alpha)``, ``p ~ Beta(a, b)``; the
    customer drops out right after repeat purchase number ``J ~ Geometric(p)``.
    Given ``N ~ Poisson(lambda T)`` Poisson events in ``(0, T]``, the observed
    count is ``x = min(N, J)`` and the time of the x-th event is the x-th order
    statistic of ``N`` uniforms, i.e. ``T * Beta(x, N - x + 1)``. Recency is
    then rounded to whole days (at least day 1) and returned, like age, in
    weeks.
    """
    age_days = rng.integers(1, MAX_AGE_DAYS + 1, size=n)
    age = age_days / 7.0
    lam = rng.gamma(shape=r, scale=1.0 / alpha, size=n)
    p = np.clip(rng.beta(a, b, size=n), 1e-12, 1.0)
    drop_after = rng.geometric(p)
    n_events = rng.poisson(lam * age)
    x = np.minimum(n_events, drop_after)
    pos = x > 0
    order_stat = rng.beta(np.where(pos, x, 1), np.where(pos, n_events - x + 1, 1))
    recency_days = np.where(pos, np.clip(np.rint(order_stat * age * 7.0), 1, age_days), 0)
    return x.astype(np.float64), recency_days / 7.0, age


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20050101)
    args = parser.parse_args(argv)
    if args.customers < 1:
        parser.error("--customers must be positive")

    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    x, tx, T = simulate(args.customers, rng=rng, **TRUE_PARAMS)
    sim_seconds = time.perf_counter() - t0
    n_groups = len(np.unique(np.column_stack([x, tx, T]), axis=0))

    t0 = time.perf_counter()
    params = bgnbd.fit(x, tx, T)
    fit_seconds = time.perf_counter() - t0

    t0 = time.perf_counter()
    bgnbd.p_alive(params, x, tx, T)
    bgnbd.expected_purchases(params, 52.0, x, tx, T)
    predict_seconds = time.perf_counter() - t0

    t0 = time.perf_counter()
    diagnostics = bgnbd.fit_diagnostics(params, x, tx, T)
    se_seconds = time.perf_counter() - t0

    # The asset scores distinct triples; CLV discounting evaluates the expectation once a month.
    groups = np.unique(np.column_stack([x, tx, T]), axis=0)
    t0 = time.perf_counter()
    gamma_gamma.discounted_expected_purchases(params, 365, 0.1, *groups.T)
    clv_seconds = time.perf_counter() - t0

    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    print(f"customers:        {args.customers:,}")
    print(f"unique groups:    {n_groups:,}")
    print(f"simulate seconds: {sim_seconds:.2f}")
    print(f"fit seconds:      {fit_seconds:.2f}  (converged={params.converged})")
    print(
        f"predict seconds:  {predict_seconds:.2f}  (p_alive + 52-week expectation, all customers)"
    )
    print(f"std-error seconds: {se_seconds:.2f}  (Hessian; condition number "
          f"{diagnostics.condition_number:,.0f})")
    print(f"clv seconds:      {clv_seconds:.2f}  (365 days discounted monthly, unique groups)")
    print(f"log-likelihood:   {params.log_likelihood:,.1f}")
    print(f"{'param':<7}{'true':>10}{'fitted':>10}{'rel.err':>10}{'std.err':>10}")
    for (name, true), se in zip(TRUE_PARAMS.items(), diagnostics.standard_errors, strict=True):
        fitted = getattr(params, name)
        print(f"{name:<7}{true:>10.4f}{fitted:>10.4f}{(fitted - true) / true:>+10.2%}{se:>10.4f}")
    print(f"peak memory:      {peak_mib:,.0f} MiB (ru_maxrss)")


if __name__ == "__main__":
    main()

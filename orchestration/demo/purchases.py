"""When demo customers buy: a BG/NBD-like purchase process and the simulated win-back campaign."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from orchestration.demo.common import CHUNK_ORDERS, SECONDS_PER_DAY, Clock, with_time_of_day
from orchestration.demo.customers import Customers

if TYPE_CHECKING:
    from orchestration.lib.audiences import AudienceConfig

_RATE_SHAPE = 0.8  # gamma shape of the per-customer purchase rate (scale is calibrated)
_DROPOUT_BETA = (0.25, 0.8)  # beta(a, b) of the per-customer dropout probability
_MAX_ORDERS_PER_DAY = 2.0  # practical ceiling on a customer's repeat purchases
_SAME_DAY_SHARE = 0.03  # orders followed by another order the same day


def _poisson_inverse(mu: np.ndarray, log_u: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """min(cap, smallest n with PoissonCDF(n; mu) >= u), vectorised in log space.

    With fixed uniforms the result is non-decreasing in mu, which makes the rate calibration a
    monotone search.
    """
    out = np.zeros(mu.shape, dtype=np.int64)
    idx = np.flatnonzero(cap > 0)
    m = np.maximum(mu[idx], 1e-300)
    log_pmf = -m
    log_cdf = log_pmf.copy()
    log_mu, lu, cp = np.log(m), log_u[idx], cap[idx]
    limit = m + 40.0 * np.sqrt(m) + 50.0  # guard against rounding when u is ~1
    live = log_cdf < lu
    idx, log_pmf, log_cdf, log_mu, lu, cp, limit = (
        a[live] for a in (idx, log_pmf, log_cdf, log_mu, lu, cp, limit)
    )
    k = 0
    while idx.size:
        k += 1
        log_pmf = log_pmf + log_mu - math.log(k)
        log_cdf = np.logaddexp(log_cdf, log_pmf)
        done = (log_cdf >= lu) | (cp <= k) | (limit <= k)
        out[idx[done]] = k
        live = ~done
        idx, log_pmf, log_cdf, log_mu, lu, cp, limit = (
            a[live] for a in (idx, log_pmf, log_cdf, log_mu, lu, cp, limit)
        )
    return out


@dataclass
class OrderPlan:
    keys: np.ndarray  # sorted (second << 32 | customer index), one per distinct order


def _purchase_caps(
    drop: np.ndarray, u_drop: np.ndarray, practical: np.ndarray, goal: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Purchase lives, the cap on repeat purchases, and the dropout chances they used.

    Repeat purchases stop at dropout, and nobody keeps up more than ~2 orders a day. When the
    request asks for more orders per customer than dropout allows, customers stay longer.
    """

    def purchase_lives(p: np.ndarray) -> np.ndarray:
        """Purchases before dropping out if time were unlimited (first purchase included)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            n = 1 + np.floor(np.log(u_drop) / np.log1p(-p))
        return np.clip(np.where(np.isfinite(n), n, 1), 1, 10_000_000).astype(np.int64)

    for _ in range(40):
        lives = purchase_lives(drop)
        cap = np.minimum(lives - 1, practical)
        if drop.size + cap.sum() >= 1.2 * goal or drop.max() < 1e-9:
            break
        drop = drop / 2
    return lives, cap, drop


def _calibrate_rate(
    rate: np.ndarray,
    tau: np.ndarray,
    drop: np.ndarray,
    log_u: np.ndarray,
    cap: np.ndarray,
    goal: float,
) -> float:
    """The scale of the purchase rates whose realised order count is closest to `goal`."""
    b = rate.size

    def realised(k: float) -> int:
        return int(b + _poisson_inverse(k * rate * tau, log_u, cap).sum())

    # Start from the expected count, E[min(D, 1 + Poisson(mu))] = (1 - q e^{-mu p}) / p.
    def expected(k: float) -> float:
        x = k * rate * tau * drop
        return float(np.sum(-np.expm1(-x) / drop + np.exp(-x)))

    lo, hi = math.log(1e-9), math.log(1e4)
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if expected(math.exp(mid)) < goal else (lo, mid)
    k0 = math.exp(hi)
    lo_k, hi_k = k0 / 2, k0 * 2
    for _ in range(30):
        if realised(lo_k) <= goal:
            break
        lo_k /= 2
    for _ in range(60):
        if realised(hi_k) >= goal:
            break
        hi_k *= 2
    best_k, best_gap = hi_k, abs(realised(hi_k) - goal)
    for _ in range(40):
        mid = math.sqrt(lo_k * hi_k)
        got = realised(mid)
        if abs(got - goal) < best_gap:
            best_k, best_gap = mid, abs(got - goal)
        if best_gap <= max(1.0, 0.002 * goal):
            break
        lo_k, hi_k = (mid, hi_k) if got < goal else (lo_k, mid)
    return best_k


def plan_orders(
    rng: np.random.Generator, cust: Customers, clock: Clock, target: int
) -> OrderPlan:
    """Order instants for every customer, calibrated so their number is close to `target`."""
    n = cust.n
    last = np.full(n, -1, dtype=np.int64)
    first = np.full(n, -1, dtype=np.int64)
    cust.last_order, cust.first_order = last, first
    buyers = np.flatnonzero(cust.buyer)
    if buyers.size == 0 or target <= 0:
        return OrderPlan(keys=np.zeros(0, dtype=np.int64))
    if buyers.size > target:  # fewer orders than buyers: only the earliest first orders happen
        keep = np.argsort(cust.first_order_days[buyers], kind="stable")[:target]
        buyers = np.sort(buyers[keep])
    b = buyers.size
    rate = rng.gamma(_RATE_SHAPE, 1.0, b)  # relative purchase rate (heterogeneous cadence)
    drop = np.clip(rng.beta(*_DROPOUT_BETA, b), 1e-12, 1.0)  # dropout chance after each purchase
    u_drop = 1.0 - rng.random(b)
    u_count = np.clip(1.0 - rng.random(b), 1e-300, 1.0 - 1e-12)
    t0 = cust.first_order_days[buyers]
    op0 = clock.to_op(t0)
    tau = np.maximum(clock.to_op(np.array([clock.horizon_days]))[0] - op0, 1e-9)
    practical = np.floor(_MAX_ORDERS_PER_DAY * tau).astype(np.int64)
    goal = target / (1.0 + _SAME_DAY_SHARE)
    lives, cap, drop = _purchase_caps(drop, u_drop, practical, goal)
    goal = min(goal, float(b + cap.sum()))
    log_u = np.log(u_count)
    mu = _calibrate_rate(rate, tau, drop, log_u, cap, goal) * rate * tau
    extra = _poisson_inverse(mu, log_u, cap)  # repeat purchases
    # Poisson events in (0, tau): more than `extra` for customers who dropped out, whose
    # purchases are then the first `extra` of those events.
    events = extra.copy()
    dropped = np.flatnonzero(extra == lives - 1)
    exact = dropped[mu[dropped] <= 1e4]
    events[exact] = _poisson_inverse(mu[exact], log_u[exact], np.full(exact.size, 1 << 62))
    rough = dropped[mu[dropped] > 1e4]
    if rough.size:
        events[rough] = rng.poisson(mu[rough])
    events = np.maximum(events, extra)
    return _order_instants(rng, cust, clock, buyers, extra, events, t0, tau)


def _order_instants(
    rng: np.random.Generator,
    cust: Customers,
    clock: Clock,
    buyers: np.ndarray,
    extra: np.ndarray,
    events: np.ndarray,
    t0: np.ndarray,
    tau: np.ndarray,
) -> OrderPlan:
    """Place each buyer's first order and `extra` repeat orders in time, chunk by chunk.

    Also records every customer's first and last order second in `cust`.
    """
    last, first = cust.last_order, cust.first_order
    b = buyers.size
    op0 = clock.to_op(t0)
    offset = cust.offset[buyers]
    keys: list[np.ndarray] = []
    per_block = np.cumsum(extra + 1)
    bounds = np.searchsorted(per_block, np.arange(CHUNK_ORDERS, int(per_block[-1]), CHUNK_ORDERS))
    edges = np.unique(np.concatenate(([0], bounds, [b])))
    for lo_i, hi_i in zip(edges[:-1], edges[1:], strict=True):
        j = extra[lo_i:hi_i]
        total_j = int(j.sum())
        s = np.cumsum(rng.standard_exponential(total_j))
        seg_end = np.cumsum(j)
        seg_start = seg_end - j
        base = np.where(seg_start > 0, s[np.maximum(seg_start - 1, 0)] if total_j else 0.0, 0.0)
        s_rel = s - np.repeat(base, j)
        last_s = np.where(j > 0, s_rel[np.maximum(seg_end - 1, 0)] if total_j else 0.0, 0.0)
        # Order statistics of `events` uniforms: S_k / S_{events+1}.
        total = last_s + rng.standard_gamma((events[lo_i:hi_i] - j + 1).astype(np.float64))
        op = np.repeat(op0[lo_i:hi_i], j) + np.repeat(tau[lo_i:hi_i], j) * s_rel / np.repeat(
            total, j
        )
        when = clock.from_op(op)
        when = with_time_of_day(rng, when, np.repeat(offset[lo_i:hi_i], j))
        when = np.maximum(when, np.repeat(t0[lo_i:hi_i], j) + 0.02)
        when = np.where(when > clock.horizon_days, clock.from_op(op), when)
        who = np.concatenate((buyers[lo_i:hi_i], np.repeat(buyers[lo_i:hi_i], j)))
        when = np.concatenate((t0[lo_i:hi_i], when))
        # Some orders are followed by a second one the same day ("forgot something").
        again = rng.random(when.size) < _SAME_DAY_SHARE
        later = when[again] + rng.uniform(10.0, 240.0, int(again.sum())) / 1440.0
        fits = later <= clock.horizon_days
        who = np.concatenate((who, who[again][fits]))
        when = np.concatenate((when, later[fits]))
        sec = np.clip(np.floor(when * SECONDS_PER_DAY), 0, clock.horizon).astype(np.int64)
        np.maximum.at(last, who, sec)
        keys.append((sec << 32) | who.astype(np.int64))
        first[buyers[lo_i:hi_i]] = sec[: hi_i - lo_i]
    all_keys = np.concatenate(keys) if keys else np.zeros(0, dtype=np.int64)
    all_keys.sort(kind="stable")
    return OrderPlan(keys=all_keys)


@dataclass(frozen=True)
class Campaign:
    """A simulated win-back send `days_before_end` days before the end date (see the module
    docstring). `holdout_seed` and `holdout_share` must be the audience's own (config/
    audiences.yml), so the simulated treatment group is the one the pipeline exports."""

    audience: str
    holdout_seed: str
    holdout_share: float
    effect: float = 0.25
    days_before_end: int = 40
    quiet_days: int = 45
    window_days: int = 30

    @classmethod
    def for_audience(cls, config: AudienceConfig, audience: str, **overrides) -> Campaign:
        """The campaign for one audience of an AudienceConfig (orchestration.lib.audiences)."""
        found = config.get(audience)
        return cls(audience=audience, holdout_seed=config.holdout_seed,
                   holdout_share=found.holdout_share, **overrides)

    def send_date(self, end_date: dt.date) -> dt.date:
        return end_date - dt.timedelta(days=self.days_before_end)


def add_campaign_orders(
    rng: np.random.Generator, cust: Customers, clock: Clock, plan: OrderPlan,
    campaign: Campaign,
) -> OrderPlan:
    """The campaign's extra purchases, added to the planned orders (kept sorted)."""
    from orchestration.lib.audiences import assign_group

    send_day = (campaign.send_date(clock.end) - clock.start).days
    if send_day < campaign.quiet_days or not plan.keys.size:
        return plan
    day_end = (send_day + 1) * SECONDS_PER_DAY
    sec, who = plan.keys >> 32, plan.keys & 0xFFFFFFFF
    known = sec < day_end
    last = np.full(cust.n, -1, dtype=np.int64)
    np.maximum.at(last, who[known], sec[known])
    eligible = np.flatnonzero(
        (last >= 0) & (last < day_end - campaign.quiet_days * SECONDS_PER_DAY))
    treated = np.array(
        [assign_group(campaign.holdout_seed, campaign.audience, str(cid),
                      campaign.holdout_share) == "treatment" for cid in cust.ids[eligible]],
        dtype=bool)
    buyers = eligible[treated & (rng.random(eligible.size) < campaign.effect)]
    # One purchase on a day 1..window after the send date, during the day.
    day = send_day + rng.integers(1, campaign.window_days + 1, buyers.size)
    when = day * SECONDS_PER_DAY + rng.integers(8 * 3600, 20 * 3600, buyers.size)
    fits = when <= clock.horizon
    buyers, when = buyers[fits], when[fits]
    np.maximum.at(cust.last_order, buyers, when)
    keys = np.concatenate((plan.keys, (when << 32) | buyers.astype(np.int64)))
    keys.sort(kind="stable")
    return OrderPlan(keys=keys)

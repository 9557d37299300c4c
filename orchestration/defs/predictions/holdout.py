"""Out-of-time check of the BG/NBD: fit on the purchases up to a calibration end, forecast the
next holdout period and compare with what the customers then did.

The summary numbers judge the forecast per customer: the mean absolute error, the calibration
slope (least-squares slope of actual on predicted repeat purchases: 1 when customers forecast to
buy twice as often do buy twice as often, near 0 when the forecast ranks customers no better than
chance) and the total forecast against the total that happened."""

from __future__ import annotations

import math
from dataclasses import dataclass

from orchestration.lib.policies import ModelCheck


@dataclass(frozen=True)
class HoldoutSummary:
    """Customers in the calibration period and how their forecast compares with the holdout."""

    customers: int
    predicted_purchases: float
    actual_purchases: float
    mean_absolute_error: float
    calibration_slope: float | None

    @property
    def total_error_share(self) -> float | None:
        """|predicted - actual| / actual over all customers (None without actual purchases)."""
        if self.actual_purchases <= 0:
            return None
        return abs(self.predicted_purchases - self.actual_purchases) / self.actual_purchases


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reason: str


def judge(summary: HoldoutSummary | None, thresholds: ModelCheck) -> Verdict:
    """Whether the model held on the holdout period, with the reason in words (no customer data)."""
    if summary is None:
        return Verdict(False, "not_fitted: too few repeat buyers before the calibration end")
    slope, share = summary.calibration_slope, summary.total_error_share
    if share is None or slope is None or not math.isfinite(slope):
        return Verdict(False, "no_holdout_purchases: nothing to compare the forecast with")
    low, high = thresholds.min_calibration_slope, thresholds.max_calibration_slope
    if not low <= slope <= high:
        return Verdict(
            False, f"calibration_slope {slope:.2f} outside [{low:g}, {high:g}]: the model does "
            "not rank customers by how much they buy",
        )
    if share > thresholds.max_total_error_share:
        return Verdict(
            False, f"total forecast off by {share:.0%} (limit "
            f"{thresholds.max_total_error_share:.0%}): predicted {summary.predicted_purchases:,.0f}"
            f" repeat purchase days, actual {summary.actual_purchases:,.0f}",
        )
    return Verdict(True, f"calibration_slope {slope:.2f}, total forecast off by {share:.0%}")

"""The CDNOW 1/10 sample's transactions (tests/fixtures/cdnow_sample_transactions.csv, see the
fixtures README) summarised per customer the way the pipeline counts purchases: distinct
purchase days, in weeks, for a calibration period ending 1997-09-30 (39 weeks after the first
day of the cohort's acquisition quarter) and the 39-week holdout period after it."""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "cdnow_sample_transactions.csv"
CALIBRATION_END = dt.date(1997, 9, 30)
HOLDOUT_END = dt.date(1998, 6, 30)


@dataclass(frozen=True)
class Sample:
    frequency: np.ndarray  # repeat purchase days in the calibration period
    recency_weeks: np.ndarray
    age_weeks: np.ndarray
    repeat_average_spend: np.ndarray  # mean dollars of the calibration repeat days (0 if none)
    holdout_purchases: np.ndarray  # purchase days in the holdout period


def load() -> Sample:
    spend: dict[int, dict[dt.date, float]] = defaultdict(lambda: defaultdict(float))
    with FIXTURE.open(newline="") as f:
        for row in csv.DictReader(f):
            spend[int(row["customer_id"])][dt.date.fromisoformat(row["order_date"])] += float(
                row["dollars"])
    columns: dict[str, list[float]] = defaultdict(list)
    for _, days in sorted(spend.items()):
        calibration = sorted(d for d in days if d <= CALIBRATION_END)
        first, repeat = calibration[0], calibration[1:]
        columns["frequency"].append(len(repeat))
        columns["recency_weeks"].append((calibration[-1] - first).days / 7)
        columns["age_weeks"].append((CALIBRATION_END - first).days / 7)
        columns["repeat_average_spend"].append(
            sum(days[d] for d in repeat) / len(repeat) if repeat else 0.0)
        columns["holdout_purchases"].append(
            sum(CALIBRATION_END < d <= HOLDOUT_END for d in days))
    return Sample(**{name: np.asarray(values, dtype=np.float64)
                     for name, values in columns.items()})

"""What the demo generator's modules share: the output contract, categories and currencies,
the clock, value renderers and the CSV writer."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from orchestration.lib.contracts import CONTRACTS

# The landing entities in the order generate() writes and reports them (customers first: orders
# draw on them). Every file's columns, names and order, are the input contract's, so the demo
# data always passes the loaders' header check; the demo writes no column the contract lacks.
ENTITIES = (
    "customers",
    "orders",
    "order_items",
    "consent_events",
    "suppressions",
    "erasure_requests",
    "support_tickets",
    "loyalty_ledger",
    "exclusions",
)
ENTITY_COLUMNS: dict[str, tuple[str, ...]] = {e: CONTRACTS[e].column_names for e in ENTITIES}
CATEGORIES = ("apparel", "shoes", "home", "beauty", "electronics", "garden", "toys", "grocery")

CHUNK_ORDERS = 500_000  # orders generated per chunk
WRITE_SLICE = 50_000  # orders rendered to text at a time
SECONDS_PER_DAY = 86_400

CURRENCIES = ("GBP", "EUR", "USD")
GBP, EUR, USD = 0, 1, 2

# name, SKU prefix, median catalogue price (EUR), log-sd, popularity
CATEGORY_SPEC = (
    ("apparel", "APP", 32.0, 0.6, 0.26),
    ("shoes", "SHO", 75.0, 0.45, 0.12),
    ("home", "HOM", 38.0, 0.8, 0.14),
    ("beauty", "BEA", 18.0, 0.6, 0.14),
    ("electronics", "ELE", 110.0, 0.9, 0.08),
    ("garden", "GAR", 30.0, 0.8, 0.07),
    ("toys", "TOY", 22.0, 0.7, 0.09),
    ("grocery", "GRO", 6.0, 0.5, 0.10),
)
CATEGORY_P = np.array([c[4] for c in CATEGORY_SPEC]) / sum(c[4] for c in CATEGORY_SPEC)

# Timestamp rendering: +00:00, the customer's local standard offset, or Z.
_STYLE_P = np.array([0.85, 0.12, 0.03])


@dataclass(frozen=True)
class Clock:
    """The window: seconds since `start` 00:00 UTC; nothing valid lies after `horizon`."""

    start: dt.date
    end: dt.date
    start_epoch: int
    n_days: int
    horizon: int  # seconds; end_date 22:59:59 UTC, so no rendered offset moves it past end_date
    grid: np.ndarray  # day boundaries 0..n_days
    op: np.ndarray  # cumulative seasonal purchase intensity at the boundaries

    @classmethod
    def build(cls, end: dt.date, years: int) -> Clock:
        try:
            start = end.replace(year=end.year - years)
        except ValueError:  # 29 February
            start = end.replace(year=end.year - years, day=28)
        start_epoch = int(
            dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC).timestamp()
        )
        n_days = (end - start).days + 1
        days = np.datetime64(start.isoformat(), "D") + np.arange(n_days)
        month = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
        dom = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
        weekday = (days.astype(np.int64) + 3) % 7  # Monday = 0
        h = np.ones(n_days)
        h += 0.08 * np.isin(weekday, (0, 6)) - 0.10 * (weekday == 5)
        h += 1.3 * ((month == 11) & (dom >= 22))  # Black Friday / Cyber Monday
        h += 0.5 * ((month == 12) & (dom <= 20))  # Christmas shopping
        h += 0.3 * ((month == 1) & (dom <= 10))  # January sales
        h -= 0.15 * (month == 8)  # summer holidays
        op = np.concatenate(([0.0], np.cumsum(h)))
        return cls(
            start=start,
            end=end,
            start_epoch=start_epoch,
            n_days=n_days,
            horizon=(n_days - 1) * SECONDS_PER_DAY + 23 * 3600 - 1,
            grid=np.arange(n_days + 1, dtype=np.float64),
            op=op,
        )

    @property
    def horizon_days(self) -> float:
        return self.horizon / SECONDS_PER_DAY

    def to_op(self, days: np.ndarray) -> np.ndarray:
        return np.interp(days, self.grid, self.op)

    def from_op(self, op: np.ndarray) -> np.ndarray:
        return np.interp(op, self.op, self.grid)

    def year_of(self, sec: np.ndarray) -> np.ndarray:
        stamp = (self.start_epoch + sec).astype("datetime64[s]")
        return stamp.astype("datetime64[Y]").astype(np.int64) + 1970

    def years(self) -> list[int]:
        return list(range(self.start.year, self.end.year + 1))


def _local_hours(rng: np.random.Generator, n: int) -> np.ndarray:
    """Local time of day (hours) for shop activity: a lunchtime and an evening peak."""
    pick = rng.random(n)
    hours = np.where(
        pick < 0.42,
        rng.normal(12.5, 2.2, n),
        np.where(pick < 0.9, rng.normal(20.5, 1.8, n), rng.uniform(0.0, 24.0, n)),
    )
    return np.mod(hours, 24.0)


def with_time_of_day(
    rng: np.random.Generator, days: np.ndarray, offset_min: np.ndarray
) -> np.ndarray:
    """Keep each instant's local calendar day but redraw its local time of day."""
    shift = offset_min / 1440.0
    local_day = np.floor(days + shift)
    return local_day + _local_hours(rng, days.size) / 24.0 - shift


_SUFFIX_CACHE: dict[int, str] = {}


def _offset_suffix(minutes: int) -> str:
    if minutes not in _SUFFIX_CACHE:
        sign = "+" if minutes >= 0 else "-"
        hh, mm = divmod(abs(minutes), 60)
        _SUFFIX_CACHE[minutes] = f"{sign}{hh:02d}:{mm:02d}"
    return _SUFFIX_CACHE[minutes]


def render_ts(
    clock: Clock, sec: np.ndarray, offset_min: np.ndarray, style: np.ndarray
) -> np.ndarray:
    """ISO-8601 strings: style 0 = +00:00, 1 = the customer's local offset, 2 = Z."""
    sec = np.asarray(sec, dtype=np.int64)
    if sec.size == 0:
        return np.array([], dtype=str)
    off = np.where(style == 1, offset_min, 0).astype(np.int64)
    text = np.datetime_as_string(
        (clock.start_epoch + sec + off * 60).astype("datetime64[s]"), unit="s"
    )
    uniq, inverse = np.unique(off, return_inverse=True)
    suffix = np.array([_offset_suffix(int(u)) for u in uniq])[inverse]
    suffix = np.where(style == 2, "Z", suffix)
    return np.strings.add(text, suffix)


def _zero_padded(numbers: np.ndarray, width: int) -> np.ndarray:
    text = np.asarray(numbers, dtype=np.int64).astype(str)
    return np.strings.zfill(text, width) if text.size else text


def prefixed_ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    return np.strings.add(prefix, _zero_padded(numbers, width))


def money(cents: np.ndarray) -> np.ndarray:
    cents = np.asarray(cents, dtype=np.int64)
    units = (cents // 100).astype(str)
    return np.strings.add(np.strings.add(units, "."), _zero_padded(cents % 100, 2))


def styles(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.choice(3, size=n, p=_STYLE_P)


def write_csv(path: Path, header: Sequence[str], rows) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count

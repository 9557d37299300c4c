"""Demo orders, order lines and the loyalty ledger, written in time order, chunk by chunk."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from orchestration.demo.common import (
    CATEGORIES,
    CATEGORY_P,
    CATEGORY_SPEC,
    CHUNK_ORDERS,
    CURRENCIES,
    ENTITY_COLUMNS,
    SECONDS_PER_DAY,
    WRITE_SLICE,
    Clock,
    money,
    prefixed_ids,
    render_ts,
    styles,
)
from orchestration.demo.customers import Customers
from orchestration.demo.purchases import OrderPlan

ORDER_STATUSES = ("placed", "paid", "shipped", "cancelled", "refunded")

# Price list conversion from the EUR catalogue, shipping fee and free-shipping threshold (cents).
_FX_FROM_EUR = np.array([0.86, 1.0, 1.09])
_SHIPPING_FEE = np.array([395, 495, 599], dtype=np.int64)
_FREE_SHIPPING_FROM = np.array([5_000, 6_000, 7_500], dtype=np.int64)
_GROCERY = CATEGORIES.index("grocery")
_SKUS_PER_CATEGORY = 240
# Unparseable ordered_at values of malformed rows.
_BAD_TIMESTAMPS = (
    "2024-13-45T99:99:99+00:00",
    "yesterday",
    "0000-00-00 00:00:00",
    "#VALUE!",
    "31/02/2023 25:61",
)
# Shares of orders
_DUPLICATE_ORDER_SHARE = 0.02
_ORPHAN_ORDER_SHARE = 0.001
_MALFORMED_ORDER_SHARE = 0.0005
_MALFORMED_KINDS = (
    "bad_amount",
    "empty_order_id",
    "bad_ordered_at",
    "future_ordered_at",
    "missing_column",
)


def _catalogue(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(SKU codes [category, sku], prices in cents [category, sku, currency]), prices ascending."""
    s = _SKUS_PER_CATEGORY
    codes = np.empty((len(CATEGORIES), s), dtype=object)
    prices = np.zeros((len(CATEGORIES), s, len(CURRENCIES)), dtype=np.int64)
    for c, (_, prefix, median, sigma, _) in enumerate(CATEGORY_SPEC):
        numbers = rng.choice(90_000, size=s, replace=False) + 10_000
        codes[c] = [f"{prefix}-{x:05d}" for x in numbers]
        eur = np.sort(np.exp(rng.normal(math.log(median), sigma, s)))
        for cur in range(len(CURRENCIES)):
            amount = eur * _FX_FROM_EUR[cur]
            # Shelf prices end in .99 (or .49 below 3.00).
            shelf = np.where(
                amount >= 3.0, np.ceil(amount) * 100 - 1, np.round(amount * 2) * 50 - 1
            )
            prices[c, :, cur] = np.maximum(shelf, 49).astype(np.int64)
    return codes, prices


class _CsvYears:
    """One CSV writer per calendar year: `<folder>/<entity>_<year>.csv`."""

    def __init__(self, folder: Path, entity: str, years: list[int]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for stale in sorted(folder.glob(f"{entity}_*.csv")):
            stale.unlink()
        self.handles = {}
        self.writers = {}
        for y in years:
            handle = (folder / f"{entity}_{y}.csv").open("w", encoding="utf-8", newline="")
            writer = csv.writer(handle, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
            writer.writerow(ENTITY_COLUMNS[entity])
            self.handles[y], self.writers[y] = handle, writer
        self.rows = 0

    def write(self, year: int, rows: list) -> None:
        self.writers[year].writerows(rows)
        self.rows += len(rows)

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()


@dataclass
class _Defects:
    """Deliberately broken order rows and orphaned orders, at fixed global positions."""

    bad_pos: np.ndarray  # sorted positions of malformed rows
    bad_kind: np.ndarray  # index into _MALFORMED_KINDS, per bad_pos
    orphan_pos: np.ndarray  # sorted positions of orders for customers that do not exist
    orphan_ids: np.ndarray

    @classmethod
    def draw(cls, rng: np.random.Generator, cust: Customers, total: int) -> _Defects:
        # Future-dated rows come from the most recent orders (a till with its clock set ahead).
        per_kind = max(1, int(round(_MALFORMED_ORDER_SHARE * total / len(_MALFORMED_KINDS))))
        recent_from = max(0, total - max(total // 50, 50 * per_kind))
        bad: dict[int, int] = {}
        for kind_no, kind in enumerate(_MALFORMED_KINDS):
            lo = recent_from if kind == "future_ordered_at" else 0
            if total - lo <= 0:
                continue
            for p in rng.choice(total - lo, size=min(per_kind, total - lo), replace=False).tolist():
                bad.setdefault(p + lo, kind_no)
        bad_pos = np.array(sorted(bad), dtype=np.int64)
        bad_kind = np.array([bad[p] for p in bad_pos.tolist()], dtype=np.int64)
        n_orphan = min(total, max(1, int(round(_ORPHAN_ORDER_SHARE * total)))) if total else 0
        orphan_pos = (
            np.unique(rng.integers(0, total, size=n_orphan)) if n_orphan else np.zeros(0, np.int64)
        )
        orphan_ids = prefixed_ids(
            "C",
            cust.n + 1 + rng.integers(0, max(20, cust.n // 50), size=orphan_pos.size),
            cust.id_width,
        )
        return cls(bad_pos, bad_kind, orphan_pos, orphan_ids)


@dataclass
class _Lines:
    """A chunk's order lines (flat, in order) and each order's currency and total."""

    cur: np.ndarray  # per order: index into CURRENCIES
    n_lines: np.ndarray  # per order
    amount: np.ndarray  # per order, cents
    line_order: np.ndarray  # per line: the order it belongs to, within the chunk
    line_no: np.ndarray
    cat: np.ndarray
    sku: np.ndarray
    qty: np.ndarray
    unit: np.ndarray  # cents


def _draw_lines(
    rng: np.random.Generator, cust: Customers, who: np.ndarray, prices: np.ndarray
) -> _Lines:
    n = who.size
    cur = np.where(rng.random(n) < 0.03, cust.currency2[who], cust.currency[who])
    n_lines = rng.choice(4, size=n, p=[0.5, 0.28, 0.14, 0.08]) + 1
    line_order = np.repeat(np.arange(n), n_lines)
    n_l = line_order.size
    line_no = np.arange(n_l) - np.repeat(np.cumsum(n_lines) - n_lines, n_lines) + 1
    lw = who[line_order]
    cat = np.where(
        rng.random(n_l) < 0.55,
        cust.favourite[lw],
        rng.choice(len(CATEGORIES), size=n_l, p=CATEGORY_P),
    )
    sku = np.clip(
        np.round((cust.tier[lw] + rng.normal(0.0, 0.18, n_l)) * (_SKUS_PER_CATEGORY - 1)),
        0,
        _SKUS_PER_CATEGORY - 1,
    ).astype(np.int64)
    qty = rng.choice(6, size=n_l, p=[0.8, 0.12, 0.05, 0.015, 0.01, 0.005]) + 1
    qty = qty + np.where(cat == _GROCERY, rng.poisson(1.2, n_l), 0)
    unit = prices[cat, sku, cur[line_order]]
    on_sale = rng.random(n_l) < 0.08
    unit = np.where(on_sale, np.round(unit * rng.uniform(0.5, 0.8, n_l)), unit).astype(np.int64)
    free = rng.random(n) < 0.008  # replacements and 100 % vouchers
    unit = np.where(free[line_order], 0, unit)
    subtotal = np.round(np.bincount(line_order, weights=qty * unit, minlength=n)).astype(np.int64)
    voucher = (rng.random(n) < 0.06) & ~free
    subtotal = subtotal - np.where(voucher, np.round(subtotal * 0.1).astype(np.int64), 0)
    shipping = np.where((subtotal < _FREE_SHIPPING_FROM[cur]) & ~free, _SHIPPING_FEE[cur], 0)
    return _Lines(
        cur=cur,
        n_lines=n_lines,
        amount=subtotal + shipping,
        line_order=line_order,
        line_no=line_no,
        cat=cat,
        sku=sku,
        qty=qty,
        unit=unit,
    )


@dataclass
class _Statuses:
    """Each order's status as of the horizon, and the one before it (for re-exports)."""

    status: np.ndarray  # index into ORDER_STATUSES
    updated: np.ndarray  # seconds
    prev_status: np.ndarray
    prev_updated: np.ndarray
    paid_t: np.ndarray  # seconds the order was (or would be) paid
    refund_t: np.ndarray


def _draw_statuses(rng: np.random.Generator, sec: np.ndarray, horizon: int) -> _Statuses:
    n = sec.size
    plan_u = rng.random(n)
    paid_t = sec + rng.integers(20, 1800, n)
    ship_t = paid_t + rng.integers(6 * 3600, 4 * SECONDS_PER_DAY, n)
    refund_t = ship_t + rng.integers(3 * SECONDS_PER_DAY, 35 * SECONDS_PER_DAY, n)
    cancel_t = sec + np.round(rng.exponential(8 * 3600, n)).astype(np.int64) + 60
    status = np.full(n, 0)  # placed
    updated = sec.copy()
    status = np.where(paid_t <= horizon, 1, status)
    updated = np.where(paid_t <= horizon, paid_t, updated)
    status = np.where(ship_t <= horizon, 2, status)
    updated = np.where(ship_t <= horizon, ship_t, updated)
    refunded = (plan_u >= 0.05) & (plan_u < 0.08) & (refund_t <= horizon)
    status = np.where(refunded, 4, status)
    updated = np.where(refunded, refund_t, updated)
    cancelled = (plan_u < 0.05) & (cancel_t <= horizon)
    pending = (plan_u < 0.05) & ~cancelled  # will be cancelled, not yet
    status = np.where(cancelled, 3, np.where(pending, 0, status))
    updated = np.where(cancelled, cancel_t, np.where(pending, sec, updated))
    abandoned = (plan_u >= 0.08) & (plan_u < 0.083)  # never paid
    status = np.where(abandoned, 0, status)
    updated = np.where(abandoned, sec, updated)
    # The status before the final one, shown by the first export of a re-exported order.
    prev_status = np.select([status == 4, status == 2, status == 1, status == 3], [2, 1, 0, 0], 0)
    prev_updated = np.select([status == 4, status == 2], [ship_t, paid_t], sec)
    return _Statuses(status, updated, prev_status, prev_updated, paid_t, refund_t)


def _write_order_chunk(
    rng: np.random.Generator,
    cust: Customers,
    clock: Clock,
    start: int,
    sec: np.ndarray,
    who: np.ndarray,
    lines: _Lines,
    st: _Statuses,
    defects: _Defects,
    codes: np.ndarray,
    width: int,
    orders_out: _CsvYears,
    items_out: _CsvYears,
) -> None:
    """Write one chunk's orders (~2 % first with an earlier status) and order lines."""
    n = sec.size
    pos = np.arange(start, start + n)
    bad_lo, bad_hi = np.searchsorted(defects.bad_pos, [start, start + n])
    chunk_bad = defects.bad_pos[bad_lo:bad_hi] - start
    chunk_kinds = defects.bad_kind[bad_lo:bad_hi]
    dup = (rng.random(n) < _DUPLICATE_ORDER_SHARE / 0.98) & (st.status != 0)
    dup[chunk_bad] = False
    style = styles(rng, n)
    off = cust.offset[who]
    year = clock.year_of(sec)
    o_lo, o_hi = np.searchsorted(defects.orphan_pos, [start, start + n])
    orphans = dict(
        zip(
            (defects.orphan_pos[o_lo:o_hi] - start).tolist(),
            defects.orphan_ids[o_lo:o_hi].tolist(),
            strict=True,
        )
    )

    def order_rows(idx: np.ndarray, status: np.ndarray, updated: np.ndarray) -> list[tuple]:
        return list(
            zip(
                prefixed_ids("O", pos[idx] + 1, width).tolist(),
                _customer_ids(cust, who, idx, orphans),
                render_ts(clock, sec[idx], off[idx], style[idx]).tolist(),
                [ORDER_STATUSES[x] for x in status[idx].tolist()],
                [CURRENCIES[x] for x in lines.cur[idx].tolist()],
                money(lines.amount[idx]).tolist(),
                render_ts(clock, updated[idx], off[idx], style[idx]).tolist(),
                strict=True,
            )
        )

    # Render and write in slices, to keep the Python row objects small.
    shown_status = np.where(dup, st.prev_status, st.status)
    shown_updated = np.where(dup, st.prev_updated, st.updated)
    first_line = np.concatenate((np.cumsum(lines.n_lines) - lines.n_lines, [lines.line_order.size]))
    for s0 in range(0, n, WRITE_SLICE):
        s1 = min(n, s0 + WRITE_SLICE)
        rows = order_rows(np.arange(s0, s1), shown_status, shown_updated)
        order_ids = [row[0] for row in rows]  # before any row is malformed
        m_lo, m_hi = np.searchsorted(chunk_bad, [s0, s1])
        for p, kind in zip(
            chunk_bad[m_lo:m_hi].tolist(), chunk_kinds[m_lo:m_hi].tolist(), strict=True
        ):
            rows[p - s0] = _malform(
                rows[p - s0], _MALFORMED_KINDS[kind], int(sec[p]), int(lines.amount[p]), clock, rng
            )
        y_slice = year[s0:s1]
        for y in np.unique(y_slice).tolist():
            orders_out.write(y, [rows[i] for i in np.flatnonzero(y_slice == y).tolist()])
        _write_item_slice(lines, order_ids, s0, int(first_line[s0]), int(first_line[s1]), codes,
                          year, items_out)

    # Re-exports: the same orders with their final status, after the chunk's rows.
    d_idx = np.flatnonzero(dup)
    if d_idx.size:
        d_idx = d_idx[np.argsort(st.updated[d_idx], kind="stable")]
        d_rows = order_rows(d_idx, st.status, st.updated)
        d_year = year[d_idx]
        for y in np.unique(d_year).tolist():
            orders_out.write(y, [d_rows[j] for j in np.flatnonzero(d_year == y).tolist()])


def _write_item_slice(
    lines: _Lines,
    order_ids: list[str],
    s0: int,
    l0: int,
    l1: int,
    codes: np.ndarray,
    year: np.ndarray,
    items_out: _CsvYears,
) -> None:
    """Write lines `l0:l1`, those of the orders `order_ids` (the chunk's orders from `s0`)."""
    line_order = lines.line_order[l0:l1]
    cat, sku = lines.cat[l0:l1], lines.sku[l0:l1]
    item_rows = list(
        zip(
            [order_ids[i] for i in (line_order - s0).tolist()],
            lines.line_no[l0:l1].tolist(),
            codes[cat, sku].tolist(),
            [CATEGORIES[c] for c in cat.tolist()],
            lines.qty[l0:l1].tolist(),
            money(lines.unit[l0:l1]).tolist(),
            strict=True,
        )
    )
    l_year = year[line_order]
    for y in np.unique(l_year).tolist():
        items_out.write(y, [item_rows[i] for i in np.flatnonzero(l_year == y).tolist()])


def write_orders(
    rng: np.random.Generator,
    cat_rng: np.random.Generator,
    cust: Customers,
    plan: OrderPlan,
    clock: Clock,
    out_dir: Path,
) -> tuple[int, int, int]:
    """Write orders, order lines and the loyalty ledger; return the rows written to each."""
    keys = plan.keys
    total = keys.size
    years = clock.years()
    codes, prices = _catalogue(cat_rng)
    width = max(8, len(str(total)))
    defects = _Defects.draw(rng, cust, total)

    orders_out = _CsvYears(out_dir / "orders", "orders", years)
    items_out = _CsvYears(out_dir / "order_items", "order_items", years)
    ledger_dir = out_dir / "loyalty_ledger"
    ledger_dir.mkdir(parents=True, exist_ok=True)
    ledger_schema = pa.schema(
        zip(
            ENTITY_COLUMNS["loyalty_ledger"],
            (pa.string(), pa.string(), pa.int64(), pa.string()),
            strict=True,
        )
    )
    ledger = pq.ParquetWriter(
        ledger_dir / "loyalty_ledger.parquet", ledger_schema, compression="zstd"
    )
    ledger_rows = 0
    lots = _Lots()
    # Members' welcome bonus at sign-up, emitted with the chunk covering that instant.
    bonus_members = np.flatnonzero(cust.member)
    bonus_sec = cust.created[bonus_members]

    starts = list(range(0, total, CHUNK_ORDERS)) or [0]
    for ci, a in enumerate(starts):
        b = min(a + CHUNK_ORDERS, total)
        k = keys[a:b]
        sec = k >> 32
        who = (k & 0xFFFFFFFF).astype(np.int64)
        lines = _draw_lines(rng, cust, who, prices)
        st = _draw_statuses(rng, sec, clock.horizon)
        _write_order_chunk(rng, cust, clock, a, sec, who, lines, st, defects, codes, width,
                           orders_out, items_out)

        lo_t = -1 if ci == 0 else int(sec[0])
        hi_t = (1 << 62) if ci == len(starts) - 1 else int(keys[b] >> 32)
        bonus = (
            bonus_members[(bonus_sec > lo_t) & (bonus_sec <= hi_t)]
            if ci
            else bonus_members[bonus_sec <= hi_t]
        )
        ledger_rows += _write_ledger_chunk(
            ledger, rng, cust, clock, lots, bonus, who, sec, st.paid_t, st.refund_t, st.status,
            lines.amount,
        )

    orders_out.close()
    items_out.close()
    ledger.close()
    return orders_out.rows, items_out.rows, ledger_rows


def _customer_ids(
    cust: Customers, who: np.ndarray, idx: np.ndarray, orphans: dict[int, str]
) -> list[str]:
    """Customer ids of chunk orders `idx`, with the deliberately orphaned ones swapped in."""
    out = cust.ids[who[idx]].tolist()
    for j, i in enumerate(idx.tolist()):
        if i in orphans:
            out[j] = orphans[i]
    return out


def _malform(
    row: tuple, kind: str, sec: int, cents: int, clock: Clock, rng: np.random.Generator
) -> tuple:
    order_id, customer_id, ordered_at, status, currency, amount, updated_at = row
    if kind == "bad_amount":
        amount = (f"{cents // 100},{(cents % 100) // 10}x", "N/A", "12,5x", "#REF!")[
            int(rng.integers(4))
        ]
    elif kind == "empty_order_id":
        order_id = ""
    elif kind == "bad_ordered_at":
        ordered_at = _BAD_TIMESTAMPS[int(rng.integers(len(_BAD_TIMESTAMPS)))]
    elif kind == "future_ordered_at":
        future = sec + int(rng.integers(30, 400)) * SECONDS_PER_DAY
        future = max(future, clock.horizon + 3600 + int(rng.integers(0, 30 * SECONDS_PER_DAY)))
        ordered_at = render_ts(clock, np.array([future]), np.array([0]), np.array([0]))[0]
        updated_at = ordered_at
    else:  # missing_column: the trailing updated_at (and its delimiter) is gone
        return (order_id, customer_id, ordered_at, status, currency, amount)
    return (order_id, customer_id, ordered_at, status, currency, amount, updated_at)


class _Lots:
    """Each member's unexpired loyalty points as FIFO lots [expires, points], with totals."""

    def __init__(self) -> None:
        self.lots: dict[int, list[list[int]]] = {}
        self.total: dict[int, int] = {}

    def add(self, member: int, expires: int, points: int) -> None:
        self.lots.setdefault(member, []).append([expires, points])
        self.total[member] = self.total.get(member, 0) + points

    def available(self, member: int, now: int) -> int:
        held = self.lots.get(member)
        if not held:
            return 0
        while held and held[0][0] <= now:
            self.total[member] -= held.pop(0)[1]
        return self.total[member]

    def take(self, member: int, points: int, newest_first: bool = False) -> None:
        held = self.lots.get(member, [])
        order = range(len(held) - 1, -1, -1) if newest_first else range(len(held))
        for idx in order:
            got = min(held[idx][1], points)
            held[idx][1] -= got
            self.total[member] -= got
            points -= got
            if points == 0:
                break
        held[:] = [x for x in held if x[1] > 0]

    def expire(self, now: int) -> None:
        """Forget lots that expired by `now` (keeps memory flat for members who stopped buying)."""
        for member in list(self.lots):
            self.available(member, now)
            if not self.lots[member]:
                del self.lots[member]
                del self.total[member]


def _write_ledger_chunk(
    writer: pq.ParquetWriter,
    rng: np.random.Generator,
    cust: Customers,
    clock: Clock,
    lots: _Lots,
    bonus: np.ndarray,
    who: np.ndarray,
    sec: np.ndarray,
    paid_t: np.ndarray,
    refund_t: np.ndarray,
    status: np.ndarray,
    amount: np.ndarray,
) -> int:
    """Loyalty entries for one chunk of orders (in time order).

    Members earn 1 point per whole currency unit when an order is paid (expiring a year later),
    lose them again when it is refunded, and sometimes redeem multiples of 500 unexpired points
    at checkout.
    """
    year = 365 * SECONDS_PER_DAY
    out_c: list[int] = []
    out_t: list[int] = []
    out_p: list[int] = []
    for c, t in zip(bonus.tolist(), (cust.created[bonus] + 5).tolist(), strict=True):
        lots.add(c, t + year, 100)
        out_c.append(c), out_t.append(t), out_p.append(100)
    members = np.flatnonzero(cust.member[who])
    u = rng.random(members.size).tolist()
    k = rng.integers(1, 4, members.size).tolist()
    points = (amount[members] // 100).tolist()
    m_who, m_sec = who[members].tolist(), sec[members].tolist()
    m_status, m_paid, m_refund = (
        status[members].tolist(),
        paid_t[members].tolist(),
        refund_t[members].tolist(),
    )
    for j in range(members.size):
        c, st, t = m_who[j], m_status[j], m_sec[j]
        if st != 3 and u[j] < 0.3:
            available = lots.available(c, t)
            if available >= 500:
                spend = min(available // 500, k[j]) * 500
                out_c.append(c), out_t.append(t), out_p.append(-spend)
                lots.take(c, spend)
        if st in (1, 2, 4) and points[j] > 0:
            out_c.append(c), out_t.append(m_paid[j]), out_p.append(points[j])
            lots.add(c, m_paid[j] + year, points[j])
            if st == 4:
                out_c.append(c), out_t.append(m_refund[j]), out_p.append(-points[j])
                lots.take(c, points[j], newest_first=True)
    if sec.size:
        lots.expire(int(sec[-1]))
    if not out_c:
        return 0
    cust_idx = np.array(out_c, dtype=np.int64)
    when = np.minimum(np.array(out_t, dtype=np.int64), clock.horizon)
    pts = np.array(out_p, dtype=np.int64)
    order = np.lexsort((cust_idx, when))
    cust_idx, when, pts = cust_idx[order], when[order], pts[order]
    style = styles(rng, cust_idx.size)
    off = cust.offset[cust_idx]
    occurred = render_ts(clock, when, off, style).tolist()
    expiry = render_ts(clock, when + year, off, style).tolist()
    table = pa.Table.from_arrays(
        [
            pa.array(cust.ids[cust_idx].tolist(), pa.string()),
            pa.array(occurred, pa.string()),
            pa.array(pts, pa.int64()),
            pa.array(
                [e if p > 0 else None for e, p in zip(expiry, pts.tolist(), strict=True)],
                pa.string(),
            ),
        ],
        schema=writer.schema,
    )
    writer.write_table(table)
    return table.num_rows

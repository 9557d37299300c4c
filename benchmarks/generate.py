"""Fast benchmark data: a landing folder that satisfies Winback's input contracts, at any size.

Vectorised with numpy and pyarrow and written in chunks (one Parquet row group or CSV block per
chunk of orders/customers), so memory stays bounded and 10 million orders take seconds of CPU,
not the demo generator's minutes. The data is plain but realistic where the pipeline's cost and
its statuses depend on it:

* customers join over the window (10 % a migrated batch on day one); about 15 % never order;
  each buyer has a gamma-distributed purchase weight and a lifetime after which they stop, so
  the as-of date finds active, at-risk, inactive and lapsed customers;
* orders are spread over the buyer's active span (~3 years in all), statuses follow the order's
  age (placed -> paid -> shipped, plus cancellations and refunds), currencies follow the
  country (a few orders in a second currency), ~2 % of orders are delivered twice (an earlier
  `placed` version and the final one, with a later `updated_at`), ~0.1 % name unknown customers;
* order_items: 1-4 lines per order (off with --no-items);
* customers carry dirt: missing, invalid, duplicate, padded/mixed-case, role, disposable and
  formula-like emails; phones in several national formats with invalid, unparseable and
  region-less ones; lower-case or missing countries;
* consent_events (about 80 % opt in by email, some opt out later; 25 % by SMS), suppressions
  (0.5 % of addresses, some in another case) and erasure requests (0.05 % of customers).

`--next-day` writes, into new files of the same folder (`<entity>/<entity>-<day>.<ext>`), one
more day (end date + 1): ~0.3 % new orders from existing buyers, a few new customers with their
consent events and first orders. Give it the same --orders/--customers/--seed/--end-date.

    .venv/bin/python benchmarks/generate.py --orders 1000000 --customers 100000 \\
        --out /tmp/winback-bench/1m/landing --end-date 2026-11-29 [--next-day]

The same arguments give the same rows (files may differ in compression metadata only).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

CHUNK = 1_000_000  # orders (or customers) generated and written at a time
DAY = 86_400
TS = pa.timestamp("s", tz="UTC")

COUNTRIES = ("GB", "DE", "FR", "US", "NL")
COUNTRY_P = (0.35, 0.2, 0.15, 0.2, 0.1)
HOME_CURRENCY = np.array([0, 1, 1, 2, 1])  # index into CURRENCIES per country
CURRENCIES = pa.array(["GBP", "EUR", "USD"])
FIRST = ("Anna", "Ben", "Chloé", "David", "Emma", "Finn", "Grace", "Hugo", "Isla", "Jonas",
         "Katie", "Liam", "Mia", "Noah", "Olivia", "Paul", "Zoë", "Ravi", "Sofia", "Tom")
LAST = ("Smith", "Müller", "Martin", "Johnson", "de Vries", "O'Brien", "Dubois", "Schmidt",
        "Brown", "Jansen", "Bernard", "Williams", "Fischer", "Garcia", "Taylor", "Bakker")
DOMAINS = ("gmail.com", "yahoo.co.uk", "outlook.com", "web.de", "orange.fr", "hotmail.com",
           "icloud.com", "gmx.de", "ziggo.nl", "btinternet.com")
CATEGORIES = pa.array(["apparel", "shoes", "home", "beauty", "electronics", "garden", "toys",
                       "grocery"])
CATEGORY_P = np.array([0.26, 0.12, 0.14, 0.14, 0.08, 0.07, 0.09, 0.10])
ORDER_STATUS = pa.array(["placed", "paid", "shipped", "cancelled", "refunded"])

SCHEMAS = {
    "customers": pa.schema([
        ("customer_id", pa.string()), ("first_name", pa.string()), ("last_name", pa.string()),
        ("email", pa.string()), ("phone", pa.string()), ("country", pa.string()),
        ("postal_code", pa.string()), ("created_at", TS), ("updated_at", TS)]),
    "orders": pa.schema([
        ("order_id", pa.string()), ("customer_id", pa.string()), ("ordered_at", TS),
        ("status", pa.string()), ("currency", pa.string()), ("amount", pa.float64()),
        ("updated_at", TS)]),
    "order_items": pa.schema([
        ("order_id", pa.string()), ("line_no", pa.int64()), ("sku", pa.string()),
        ("category", pa.string()), ("quantity", pa.int64()), ("unit_price", pa.float64())]),
    "consent_events": pa.schema([
        ("customer_id", pa.string()), ("channel", pa.string()), ("status", pa.string()),
        ("source", pa.string()), ("occurred_at", TS)]),
    "suppressions": pa.schema([
        ("email", pa.string()), ("reason", pa.string()), ("occurred_at", TS)]),
    "erasure_requests": pa.schema([("customer_id", pa.string()), ("requested_at", TS)]),
}


class Writers:
    """One open file per entity, appended chunk by chunk (Parquet row groups or CSV blocks)."""

    def __init__(self, out: Path, fmt: str, stem: str | None = None):
        self.out, self.fmt, self.stem = out, fmt, stem
        self.open: dict[str, object] = {}
        self.rows: dict[str, int] = {}

    def write(self, entity: str, table: pa.Table) -> None:
        if table.num_rows == 0:  # an empty file would fail the loader; no file = no records
            return
        table = table.cast(SCHEMAS[entity])
        if entity not in self.open:
            folder = self.out / entity
            folder.mkdir(parents=True, exist_ok=True)
            name = f"{self.stem and f'{entity}-{self.stem}' or entity}.{self.fmt}"
            path = folder / name
            if self.fmt == "parquet":
                self.open[entity] = pq.ParquetWriter(path, SCHEMAS[entity], compression="zstd")
            else:
                self.open[entity] = pacsv.CSVWriter(path, SCHEMAS[entity])
            self.rows[entity] = 0
        self.open[entity].write_table(table)
        self.rows[entity] += table.num_rows

    def close(self) -> dict[str, int]:
        for writer in self.open.values():
            writer.close()
        return self.rows


def ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers, pa.int64()), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def ts(seconds: np.ndarray, start_epoch: int, mask: np.ndarray | None = None) -> pa.Array:
    return pa.array(seconds.astype(np.int64) + start_epoch, pa.int64(), mask=mask).cast(TS)


def rng_for(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, *stream])


class Population:
    """Per-customer numeric attributes, derived from the seed alone (O(customers) memory)."""

    def __init__(self, customers: int, seed: int, end: dt.date, years: int):
        self.n = customers
        self.start = end - dt.timedelta(days=365 * years)
        self.start_epoch = int(dt.datetime(*self.start.timetuple()[:3], tzinfo=dt.UTC).timestamp())
        self.horizon = ((end - self.start).days + 1) * DAY - 1  # end date 23:59:59 UTC
        r = rng_for(seed, 1)
        self.country = r.choice(len(COUNTRIES), customers, p=COUNTRY_P).astype(np.int8)
        created = r.integers(0, self.horizon, customers)
        migrated = r.random(customers) < 0.10  # a batch migrated on day one
        created[migrated] = r.integers(0, DAY, int(migrated.sum()))
        self.created = created
        weight = r.gamma(1.0, 1.0, customers)
        weight[r.random(customers) < 0.15] = 0.0  # prospects
        lifetime = r.exponential(500 * DAY, customers)
        self.active_end = np.minimum(created + lifetime.astype(np.int64) + DAY, self.horizon)
        span = (self.active_end - created).astype(np.float64)
        p = weight * (span + 90 * DAY)
        self.cum = np.cumsum(p / p.sum()) if p.sum() > 0 else None
        self.span = span
        self.weight = weight

    def draw_buyers(self, r: np.random.Generator, n: int) -> np.ndarray:
        return np.minimum(np.searchsorted(self.cum, r.random(n)), self.n - 1)


def customer_ids(numbers: np.ndarray) -> pa.Array:
    return ids("C", numbers, 8)


def customers_table(r: np.random.Generator, idx: np.ndarray, country: np.ndarray,
                    created: np.ndarray, start_epoch: int, horizon: int) -> pa.Table:
    n = len(idx)
    first_i, last_i = r.integers(0, len(FIRST), n), r.integers(0, len(LAST), n)
    first, last = pa.array(FIRST).take(first_i), pa.array(LAST).take(last_i)
    ascii_first = pc.utf8_lower(pa.array([s.replace("é", "e").replace("ë", "e") for s in FIRST])
                                .take(first_i))
    ascii_last = pc.utf8_lower(pa.array([s.replace("ü", "ue").replace("'", "").replace(" ", "")
                                         for s in LAST]).take(last_i))
    num = pc.cast(pa.array(idx, pa.int64()), pa.string())
    domain = pa.array(DOMAINS).take(r.integers(0, len(DOMAINS), n))
    email = pc.binary_join_element_wise(
        pc.binary_join_element_wise(ascii_first, ascii_last, num, "."), domain, "@")
    # Dirt, by share of customers (the rest are plain valid unique addresses).
    kind = r.random(n)
    dirty = {
        "invalid": pc.replace_substring(email, "@", " at "),
        "duplicate": email.take(r.integers(0, n, n)),
        "padded": pc.binary_join_element_wise(" ", pc.utf8_upper(email), " ", ""),
        "role": pc.binary_join_element_wise(pa.array(["info", "sales", "noreply"])
                                            .take(r.integers(0, 3, n)), domain, "@"),
        "disposable": pc.binary_join_element_wise(num, "mailinator.com", "@"),
        "formula": pc.binary_join_element_wise("=", email, ""),
    }
    edges = np.cumsum([0.02, 0.015, 0.02, 0.005, 0.005, 0.001])
    for (_, alt), lo, hi in zip(dirty.items(), np.r_[0, edges[:-1]], edges, strict=True):
        email = pc.if_else(pa.array((kind >= lo) & (kind < hi)), alt, email)
    email = pc.if_else(pa.array(kind > 0.96), pa.nulls(n, pa.string()), email)

    # Phones: national formats per country (mostly valid), international for some.
    d8 = pc.utf8_lpad(pc.cast(pa.array(r.integers(0, 10**8, n)), pa.string()), 8, "0")
    d4 = pc.utf8_lpad(pc.cast(pa.array(r.integers(0, 10**4, n)), pa.string()), 4, "0")
    gb = pc.binary_join_element_wise("07", pc.cast(pa.array(r.integers(4, 10, n)), pa.string()),
                                     d8, "")
    de = pc.binary_join_element_wise("+49 151 ", d8, "")
    fr = pc.binary_join_element_wise("06 ", pc.utf8_slice_codeunits(d8, 0, 2), " ",
                                     pc.utf8_slice_codeunits(d8, 2, 4), " ",
                                     pc.utf8_slice_codeunits(d8, 4, 6), " ",
                                     pc.utf8_slice_codeunits(d8, 6, 8), "")
    us_area = pa.array(["212", "415", "312", "617", "206", "303"]).take(r.integers(0, 6, n))
    us_exch = pc.cast(pa.array(r.integers(201, 999, n)), pa.string())
    us = pc.binary_join_element_wise("(", us_area, ") ", us_exch, "-", d4, "")
    nl = pc.binary_join_element_wise("06-", pc.utf8_slice_codeunits(d8, 0, 8), "")
    phone = pc.choose(pa.array(country, pa.int8()), gb, de, fr, us, nl)
    pkind = r.random(n)
    # Junk (unparseable). Not short digit strings: phonenumbers accepts some (DE "01681" ->
    # "+491681"), which then fail the contact_hygiene GX E.164 regex (see README.md).
    junk = pa.array(["n/a", "unknown", "12345678901234567890", "tbd"]).take(r.integers(0, 4, n))
    phone = pc.if_else(pa.array(pkind < 0.03), junk, phone)
    phone = pc.if_else(pa.array((pkind >= 0.03) & (pkind < 0.05)),
                       pc.binary_join_element_wise(phone, " ext. 12", ""), phone)
    phone = pc.if_else(pa.array(pkind > 0.78), pa.nulls(n, pa.string()), phone)

    ckind = r.random(n)
    country_s = pa.array(COUNTRIES).take(pa.array(country, pa.int8()))
    country_s = pc.if_else(pa.array(ckind < 0.03), pc.utf8_lower(country_s), country_s)
    country_s = pc.if_else(pa.array(ckind > 0.98), pa.nulls(n, pa.string()), country_s)
    updated = created + (r.random(n) * (horizon - created)).astype(np.int64)
    return pa.table({
        "customer_id": customer_ids(idx), "first_name": first, "last_name": last,
        "email": email, "phone": phone, "country": country_s,
        "postal_code": pc.cast(pa.array(r.integers(10000, 99999, n)), pa.string()),
        "created_at": ts(created, start_epoch),
        "updated_at": ts(updated, start_epoch, mask=r.random(n) < 0.3),
    })


def crm_tables(r: np.random.Generator, idx: np.ndarray, created: np.ndarray, emails: pa.Array,
               start_epoch: int, horizon: int, erasure_share: float = 0.0005) -> dict:
    n = len(idx)
    cid = customer_ids(idx)
    signup = np.minimum(created + r.integers(0, 3 * DAY, n), horizon)
    email_in = r.random(n) < 0.8
    email_out = email_in & (r.random(n) < 0.08)
    sms_in = r.random(n) < 0.25
    later = signup + (r.random(n) * (horizon - signup)).astype(np.int64)
    parts = [
        (email_in, "email", "opted_in", "signup", signup),
        (email_out, "email", "opted_out", "preference_centre", later),
        (sms_in, "sms", "opted_in", "checkout", signup),
    ]
    consent = pa.concat_tables([
        pa.table({"customer_id": cid.filter(pa.array(mask)),
                  "channel": pa.array([ch] * int(mask.sum()), pa.string()),
                  "status": pa.array([st] * int(mask.sum()), pa.string()),
                  "source": pa.array([src] * int(mask.sum()), pa.string()),
                  "occurred_at": ts(when[mask], start_epoch)})
        for mask, ch, st, src, when in parts])
    has_email = pc.is_valid(emails).to_numpy(zero_copy_only=False)
    sup = has_email & (r.random(n) < 0.005)
    sup_email = emails.filter(pa.array(sup))
    k = len(sup_email)
    sup_email = pc.if_else(pa.array(r.random(k) < 0.3), pc.utf8_upper(sup_email), sup_email)
    suppressions = pa.table({
        "email": sup_email,
        "reason": pa.array(["hard_bounce", "spam_complaint", "unsubscribe", "manual"])
        .take(r.choice(4, k, p=[0.5, 0.1, 0.3, 0.1])),
        "occurred_at": ts(later[sup], start_epoch)})
    erase = r.random(n) < erasure_share
    erasures = pa.table({"customer_id": cid.filter(pa.array(erase)),
                         "requested_at": ts(later[erase], start_epoch)})
    return {"consent_events": consent, "suppressions": suppressions,
            "erasure_requests": erasures}


def orders_tables(r: np.random.Generator, first_id: int, buyer: np.ndarray, when: np.ndarray,
                  buyer_country: np.ndarray, horizon: int, start_epoch: int, items: bool,
                  order_ids: pa.Array | None = None, cust: pa.Array | None = None,
                  unknown_share: float = 0.001) -> dict:
    """Orders (and lines) of `buyer` (customer numbers) at `when` (seconds from the start)."""
    n = len(buyer)
    age = horizon - when
    u = r.random(n)
    status = np.where(age < 2 * DAY, np.where(u < 0.5, 0, 1),
                      np.where(age < 7 * DAY, np.where(u < 0.3, 1, 2),
                               np.where(u < 0.88, 2, np.where(u < 0.94, 3, 4))))
    currency = HOME_CURRENCY[buyer_country]
    flip = r.random(n) < 0.03
    currency = np.where(flip, (currency + r.integers(1, 3, n)) % 3, currency)
    cents = np.round(np.exp(r.normal(3.8, 0.7, n)) * 100)
    delay = np.minimum(when + r.integers(0, 5 * DAY, n), horizon)
    cust = customer_ids(buyer) if cust is None else cust
    unknown = r.random(n) < unknown_share
    if unknown.any():
        cust = pc.if_else(pa.array(unknown), ids("C9", r.integers(0, 10**8, n), 8), cust)
    oid = order_ids if order_ids is not None else ids("O", np.arange(first_id, first_id + n), 10)
    final = pa.table({
        "order_id": oid, "customer_id": cust, "ordered_at": ts(when, start_epoch),
        "status": ORDER_STATUS.take(pa.array(status)),
        "currency": CURRENCIES.take(pa.array(currency)), "amount": cents / 100,
        "updated_at": ts(delay, start_epoch, mask=r.random(n) < 0.2)})
    # ~2 % delivered twice: an earlier `placed` version first (updated_at = ordered_at).
    again = np.flatnonzero((r.random(n) < 0.02) & (status >= 1))
    earlier = final.take(pa.array(again)).set_column(
        3, "status", pa.array(["placed"] * len(again), pa.string())).set_column(
        6, "updated_at", ts(when[again], start_epoch))
    out = {"orders": pa.concat_tables([earlier, final])}
    if items:
        lines = np.minimum(1 + r.poisson(0.6, n), 4)
        total = int(lines.sum())
        row = np.repeat(np.arange(n), lines)
        line_no = np.arange(total) - np.repeat(np.cumsum(lines) - lines, lines) + 1
        cat = np.where(r.random(total) < 0.6, buyer[row] % len(CATEGORY_P),
                       r.choice(len(CATEGORY_P), total, p=CATEGORY_P))
        qty = 1 + r.poisson(0.3, total)
        out["order_items"] = pa.table({
            "order_id": oid.take(pa.array(row)), "line_no": line_no,
            "sku": ids("SKU", cat * 1000 + r.integers(0, 1000, total), 5),
            "category": CATEGORIES.take(pa.array(cat)), "quantity": qty,
            "unit_price": np.round(cents[row] / lines[row] / qty) / 100})
    return out


def generate(out: Path, orders: int, customers: int, seed: int, end: dt.date, years: int,
             fmt: str, items: bool) -> dict[str, int]:
    pop = Population(customers, seed, end, years)
    w = Writers(out, fmt)
    for j, lo in enumerate(range(0, customers, CHUNK)):
        idx = np.arange(lo, min(lo + CHUNK, customers))
        r = rng_for(seed, 2, j)
        table = customers_table(r, idx, pop.country[idx], pop.created[idx], pop.start_epoch,
                                pop.horizon)
        w.write("customers", table)
        # 0.05 % of customers ask for erasure (at least a couple, so small sets exercise it).
        erasure_share = max(0.0005, 2 / len(idx)) if j == 0 else 0.0005
        for entity, t in crm_tables(r, idx, pop.created[idx], table["email"].combine_chunks(),
                                    pop.start_epoch, pop.horizon, erasure_share).items():
            w.write(entity, t)
    if pop.cum is None and orders:
        raise SystemExit("generate: no buyers; use more customers")
    for j, lo in enumerate(range(0, orders, CHUNK)):
        n = min(CHUNK, orders - lo)
        r = rng_for(seed, 3, j)
        buyer = pop.draw_buyers(r, n)
        when = pop.created[buyer] + (r.random(n) * pop.span[buyer]).astype(np.int64)
        order = np.argsort(when, kind="stable")  # order ids follow time within a chunk
        buyer, when = buyer[order], when[order]
        for entity, t in orders_tables(r, lo, buyer, when, pop.country[buyer], pop.horizon,
                                       pop.start_epoch, items).items():
            w.write(entity, t)
    return w.close()


def generate_next_day(out: Path, orders: int, customers: int, seed: int, end: dt.date,
                      years: int, fmt: str, items: bool) -> dict[str, int]:
    """One more day after `end`: ~0.3 % new orders, a few new customers, their consent."""
    pop = Population(customers, seed, end, years)
    day = end + dt.timedelta(days=1)
    day0, horizon = pop.horizon + 1, pop.horizon + DAY
    r = rng_for(seed, 4, day.toordinal())
    w = Writers(out, fmt, stem=day.isoformat())
    new_n = max(1, round(customers * 0.0005))
    new_idx = np.arange(customers, customers + new_n) + 10**7  # clear of the existing ids
    new_country = r.choice(len(COUNTRIES), new_n, p=COUNTRY_P).astype(np.int8)
    new_created = day0 + r.integers(0, DAY, new_n)
    table = customers_table(r, new_idx, new_country, new_created, pop.start_epoch, horizon)
    w.write("customers", table)
    for entity, t in crm_tables(r, new_idx, new_created,
                                table["email"].combine_chunks(), pop.start_epoch, horizon,
                                erasure_share=0.0).items():
        w.write(entity, t)
    # Orders: existing buyers still active near the end (by weight), plus half the newcomers.
    n_orders = max(1, round(orders * 0.003))
    live = np.flatnonzero((pop.weight > 0) & (pop.active_end >= pop.horizon - 30 * DAY))
    if len(live) == 0:
        live = np.flatnonzero(pop.weight > 0)
    p = pop.weight[live] / pop.weight[live].sum()
    buyer = live[np.minimum(np.searchsorted(np.cumsum(p), r.random(n_orders)), len(live) - 1)]
    newcomers = np.flatnonzero(r.random(new_n) < 0.5)
    buyer_no = np.concatenate([buyer, new_idx[newcomers]])
    buyer_country = np.concatenate([pop.country[buyer], new_country[newcomers]])
    earliest = np.concatenate([np.full(len(buyer), day0), new_created[newcomers]])
    when = np.minimum(earliest + (r.random(len(earliest)) * (horizon - earliest)).astype(np.int64),
                      horizon)
    order = np.argsort(when, kind="stable")
    buyer_no, buyer_country, when = buyer_no[order], buyer_country[order], when[order]
    oids = pc.binary_join_element_wise(f"O{day:%Y%m%d}-", pc.utf8_lpad(
        pc.cast(pa.array(np.arange(len(when))), pa.string()), 7, "0"), "")
    tables = orders_tables(r, 0, buyer_no, when, buyer_country, horizon, pop.start_epoch, items,
                           order_ids=oids, unknown_share=0.0)
    for entity, t in tables.items():
        w.write(entity, t)
    return w.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--orders", type=int, required=True, help="distinct orders (cold data)")
    parser.add_argument("--customers", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True, help="landing folder to write")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--end-date", type=dt.date.fromisoformat, required=True,
                        help="last day of the cold data (YYYY-MM-DD); the cold run's as-of date. "
                        "Must lie before today: the loader rejects future timestamps")
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    parser.add_argument("--no-items", action="store_true", help="write no order_items")
    parser.add_argument("--next-day", action="store_true",
                        help="write the day after --end-date into new files of --out")
    args = parser.parse_args(argv)
    if args.orders < 0 or args.customers < 1 or args.years < 1:
        parser.error("need --orders >= 0, --customers >= 1, --years >= 1")
    last = args.end_date + dt.timedelta(days=1 if args.next_day else 0)
    if last >= dt.datetime.now(dt.UTC).date():
        parser.error(f"data would run through {last}, not before today (UTC): pick an earlier "
                     "--end-date (the pipeline quarantines timestamps in the future)")
    if not args.next_day and (args.out / "orders").exists():
        parser.error(f"{args.out}/orders exists: write into an empty folder")
    if args.next_day and not (args.out / "orders").is_dir():
        parser.error(f"--next-day needs the cold data in {args.out} first")
    cpu0, wall0 = time.process_time(), time.perf_counter()
    fn = generate_next_day if args.next_day else generate
    rows = fn(args.out, args.orders, args.customers, args.seed, args.end_date, args.years,
              args.format, not args.no_items)
    result = {"mode": "next_day" if args.next_day else "cold", "out": str(args.out),
              "orders": args.orders, "customers": args.customers, "seed": args.seed,
              "end_date": str(args.end_date), "format": args.format, "rows": rows,
              "cpu_s": round(time.process_time() - cpu0, 2),
              "wall_s": round(time.perf_counter() - wall0, 2)}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

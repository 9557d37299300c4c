"""Deterministic, realistic demo data for the win-back landing folder.

`generate()` writes one sub-folder per entity (the loaders' input contract) with data that
behaves like a real shop's export:

* customers join at different times over the window (a few are a migrated batch on day one);
  about 15 % never order (prospects);
* buyers follow a BG/NBD-like process: a gamma-distributed purchase rate per customer (cadences
  from weekly to yearly, on a seasonal calendar with a Black-Friday/Christmas peak) and, after
  each purchase, a beta-distributed chance of dropping out for good, so customers stop buying at
  different times and the order count per customer is heavy-tailed (many one-time buyers, a few
  heavy buyers); some customers order twice on the same day;
* the overall purchase rate is calibrated so the number of distinct orders is close to the
  `orders` argument;
* orders carry 1-4 lines, biased to a favourite category and a price tier per customer, in the
  customer's currency (a small share in a second currency), with statuses that follow the
  order's age (placed -> paid -> shipped, plus cancellations and refunds);
* consent events, suppressions, erasure requests, support tickets and a loyalty ledger are
  derived from the same customers and orders;
* optionally a win-back campaign (`Campaign`): on its send date, customers who had bought before
  but not in the last `quiet_days`, and whom the pipeline's own seeded hash puts in the
  treatment group of the campaign's audience, buy once more within the conversion window with
  probability `effect`; the holdout does not, so the reactivation-outcomes mart shows a real
  lift (about `effect` x (1 - the holdout's own conversion rate));
* realistic dirt is injected on purpose: invalid / duplicate / mixed-case / padded / role /
  disposable / formula-like emails, awkward names, phones in every format, and a handful of
  malformed order rows (see `generate` for the list).

Everything is drawn from `numpy.random.default_rng`-style generators seeded from `seed` (one
independent stream per purpose), timestamps are whole seconds, money is integer cents, and files
are written in a fixed order with fixed formatting, so the same arguments give byte-identical
files. Orders are generated in time order and written in chunks (order ids follow time): the
default size takes a few seconds; 10 million orders for 1 million customers take a few minutes and
about 1 GB of memory.

Run as ``winback demo --out data/landing``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from orchestration.demo.common import ENTITIES, Clock
from orchestration.demo.crm import (
    write_consent_and_suppressions,
    write_erasure_requests,
    write_exclusions,
    write_support_tickets,
)
from orchestration.demo.customers import draw_customers, write_customers
from orchestration.demo.orders import write_orders
from orchestration.demo.purchases import Campaign, add_campaign_orders, plan_orders


def generate(
    out_dir: Path,
    *,
    customers: int = 20_000,
    orders: int = 200_000,
    seed: int = 42,
    end_date: dt.date,
    years: int = 3,
    campaign: Campaign | None = None,
) -> dict[str, int]:
    """Write the demo landing folder under `out_dir`; return data rows written per entity.

    Row counts include the deliberately malformed order rows and the ~2 % of orders exported
    twice (an earlier status first, the final status later with a later `updated_at`). Dirt that
    a loader must handle: a handful of order rows (about 0.05 %, at least one of each kind) with
    an unparseable amount, an empty order_id, an unparseable ordered_at, an ordered_at after
    `end_date`, or a missing trailing column; about 0.1 % of orders for customer_ids that do not
    exist; and dirty emails, names and phones in customers.
    """
    if customers < 1:
        raise ValueError("customers must be at least 1")
    if orders < 0:
        raise ValueError("orders must not be negative")
    if years < 1:
        raise ValueError("years must be at least 1")
    if customers >= 1 << 32:
        raise ValueError("customers must be below 2**32")
    out_dir = Path(out_dir)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(10)]
    (r_cust, r_names, r_plan, r_orders, r_catalogue, r_consent, r_erasure, r_tickets,
     r_campaign, r_exclusions) = streams
    clock = Clock.build(end_date, years)

    cust = draw_customers(r_cust, customers, clock)
    counts: dict[str, int] = {}
    counts["customers"] = write_customers(
        r_names, cust, clock, out_dir / "customers" / "customers.csv"
    )
    plan = plan_orders(r_plan, cust, clock, orders)
    if campaign is not None:
        plan = add_campaign_orders(r_campaign, cust, clock, plan, campaign)
    o_rows, i_rows, l_rows = write_orders(r_orders, r_catalogue, cust, plan, clock, out_dir)
    del plan
    counts["orders"] = o_rows
    counts["order_items"] = i_rows
    counts["consent_events"], counts["suppressions"] = write_consent_and_suppressions(
        r_consent, cust, clock, out_dir
    )
    counts["erasure_requests"] = write_erasure_requests(r_erasure, cust, clock, out_dir)
    counts["support_tickets"] = write_support_tickets(r_tickets, cust, clock, out_dir)
    counts["loyalty_ledger"] = l_rows
    counts["exclusions"] = write_exclusions(r_exclusions, cust, clock, out_dir)
    return {entity: counts[entity] for entity in ENTITIES}

"""A small hand-made landing folder whose statuses and figures are computed by hand.

As-of date 2026-06-30, threshold 180 days (at risk from 150, lapsed from 360).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

AS_OF = "2026-06-30"

CUSTOMERS = [
    # customer_id, first_name, last_name, email, phone, country, postal_code, created_at, updated_at
    ("C01", "Ann", "Recent", "ann@example.com", "", "GB", "SW1A 1AA", "2025-01-01T00:00:00Z", ""),
    ("C02", 'Zoë, "Z"', "O'Old", " Zoe.Old@Example.COM ", "", "GB", "", "2025-01-01T00:00:00Z", ""),
    ("C03", "Nev", "Never", "nev@example.com", "", "US", "", "2025-01-01T00:00:00Z", ""),
    ("C04", "Mo", "Multi", "mo@example.com", "", "DE", "", "2025-01-01T00:00:00Z", ""),
    ("C05", "Otto", "Optout", "otto@example.com", "", "DE", "", "2025-01-01T00:00:00Z", ""),
    ("C06", "Lou", "Lapsed", "lou@example.com", "", "FR", "", "2024-01-01T00:00:00Z", ""),
    ("C07", "Eve", "Erased", "eve@example.com", "", "GB", "", "2025-01-01T00:00:00Z", ""),
    ("C08", "Sue", "Suppressed", "sue@example.com", "", "GB", "", "2025-01-01T00:00:00Z", ""),
    ("C09", "Bob", "Bademail", "bob at example", "", "GB", "", "2025-01-01T00:00:00Z", ""),
    ("C10", "=cmd", "Formula", "=cmd@example.com", "", "GB", "", "2025-01-01T00:00:00Z", ""),
    ("C11", "Rae", "Returned", "rae@example.com", "", "GB", "", "2024-01-01T00:00:00Z", ""),
    ("C12", "Cat", "Complaint", "cat@example.com", "", "GB", "", "2025-01-01T00:00:00Z", ""),
    ("C13", "=Ivy", "Sheet", "ivy@example.com", "", "GB", "", "2025-01-01T00:00:00Z", ""),
]

ORDERS = [
    # order_id, customer_id, ordered_at, status, currency, amount, updated_at
    ("O01", "C01", "2026-01-10T10:00:00+00:00", "paid", "GBP", "20.00", ""),
    ("O02", "C01", "2026-06-20T10:00:00+01:00", "paid", "GBP", "30.00", ""),
    ("O03", "C01", "2026-07-05T10:00:00+00:00", "paid", "GBP", "99.00", ""),  # after as-of
    ("O04", "C02", "2025-12-12T09:00:00+00:00", "shipped", "GBP", "45.50", ""),
    ("O05", "C04", "2026-05-01T08:00:00+00:00", "paid", "EUR", "10.00", ""),
    ("O06", "C04", "2026-05-01T12:00:00+00:00", "paid", "EUR", "0.00", ""),  # free item counts
    ("O07", "C04", "2026-05-01T18:00:00+00:00", "refunded", "EUR", "15.00", ""),
    ("O08", "C04", "2026-06-25T08:00:00+00:00", "cancelled", "EUR", "12.00", ""),
    ("O09", "C05", "2025-09-03T08:00:00+00:00", "paid", "EUR", "25.00", ""),
    ("O10", "C06", "2025-05-26T08:00:00+00:00", "paid", "EUR", "25.00", ""),
    ("O11", "C07", "2025-12-01T08:00:00+00:00", "paid", "GBP", "25.00", ""),
    ("O12", "C08", "2025-12-01T08:00:00+00:00", "paid", "GBP", "25.00", ""),
    ("O13", "C09", "2025-12-01T08:00:00+00:00", "paid", "GBP", "25.00", ""),
    ("O14", "C10", "2025-12-01T08:00:00+00:00", "paid", "GBP", "25.00", ""),
    ("O15", "C11", "2025-01-01T08:00:00+00:00", "paid", "GBP", "25.00", ""),
    ("O16", "C11", "2026-06-10T08:00:00+00:00", "paid", "GBP", "25.00", ""),  # back after 525 days
    ("O17", "C12", "2025-12-01T08:00:00+00:00", "paid", "GBP", "25.00", ""),
    ("O18", "C13", "2025-12-01T08:00:00+00:00", "paid", "GBP", "25.00", ""),
    # O04 re-exported later as refunded: the later version wins (activity, no revenue).
    ("O04", "C02", "2025-12-12T09:00:00+00:00", "refunded", "GBP", "45.50", "2025-12-20T00:00:00Z"),
]

ORDER_ITEMS = [
    ("O02", "1", "SKU-1", "Shoes", "1", "30.00"),
    ("O04", "1", "SKU-2", "home", "1", "5.50"),
    ("O04", "2", "SKU-3", "garden", "2", "20.00"),
]

CONSENT = [
    ("C01", "email", "opted_in", "checkout", "2025-01-01T00:00:00Z"),
    ("C02", "email", "opted_in", "checkout", "2025-01-01T00:00:00Z"),
    ("C04", "email", "opted_in", "checkout", "2025-01-01T00:00:00Z"),
    ("C05", "email", "opted_in", "checkout", "2025-01-01T00:00:00Z"),
    ("C05", "email", "opted_out", "preference_centre", "2026-02-01T00:00:00Z"),
    ("C06", "email", "opted_in", "checkout", "2025-01-01T00:00:00Z"),
    ("C07", "email", "opted_in", "checkout", "2025-01-01T00:00:00Z"),
    ("C08", "email", "opted_in", "checkout", "2025-01-01T00:00:00Z"),
    ("C09", "email", "opted_in", "checkout", "2025-01-01T00:00:00Z"),
    ("C10", "email", "opted_in", "checkout", "2025-01-01T00:00:00Z"),
    ("C12", "email", "opted_in", "checkout", "2025-01-01T00:00:00Z"),
    ("C13", "email", "opted_in", "checkout", "2025-01-01T00:00:00Z"),
]


CUSTOMER_HEADER = ["customer_id", "first_name", "last_name", "email", "phone", "country",
                   "postal_code", "created_at", "updated_at"]
ORDER_HEADER = ["order_id", "customer_id", "ordered_at", "status", "currency", "amount",
                "updated_at"]


def write_csv_file(path: Path, header: list[str], rows) -> None:
    """A landing CSV with a header row, as a shop or CRM export would write it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def write_landing(root: Path) -> Path:
    write_csv_file(
        root / "customers" / "customers.csv",
        CUSTOMER_HEADER,
        CUSTOMERS,
    )
    write_csv_file(
        root / "orders" / "orders.csv",
        ORDER_HEADER,
        ORDERS,
    )
    write_csv_file(
        root / "order_items" / "items.csv",
        ["order_id", "line_no", "sku", "category", "quantity", "unit_price"],
        ORDER_ITEMS,
    )
    consent = root / "consent_events" / "consent.jsonl"
    consent.parent.mkdir(parents=True)
    consent.write_text(
        "".join(
            json.dumps(dict(zip(["customer_id", "channel", "status", "source", "occurred_at"],
                                row, strict=True))) + "\n"
            for row in CONSENT
        )
    )
    write_csv_file(
        root / "suppressions" / "suppressions.csv",
        ["email", "reason", "occurred_at"],
        [(" SUE@example.com", "unsubscribe", "2026-03-01T00:00:00Z")],
    )
    write_csv_file(
        root / "erasure_requests" / "erasure.csv",
        ["customer_id", "requested_at"],
        [("C07", "2026-08-01T00:00:00Z")],  # requested after the as-of date: still erased
    )
    write_csv_file(
        root / "support_tickets" / "tickets.csv",
        ["ticket_id", "customer_id", "opened_at", "closed_at", "kind", "satisfaction"],
        [("T1", "C12", "2026-06-01T00:00:00Z", "", "complaint", "2")],
    )
    return root


def do_not_contact_landing(root: Path, consent: str = "", erasures: str = "") -> Path:
    """A landing folder of the do-not-contact entities only: the CSV rows of `consent` and
    `erasures` (header lines included by this function), no suppression."""
    for entity, header, body in (
            ("consent_events", "customer_id,channel,status,source,occurred_at", consent),
            ("suppressions", "email,reason,occurred_at", ""),
            ("erasure_requests", "customer_id,requested_at", erasures)):
        (root / entity).mkdir(parents=True, exist_ok=True)
        (root / entity / "a.csv").write_text(header + "\n" + body, encoding="utf-8")
    return root

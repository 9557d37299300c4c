"""Dirty contacts added to the hand-made landing folder (tests/landing_fixture.py), as extra
files beside it so the base fixture's figures stay as they are. As-of 2026-06-30.

Every extra customer last bought on 2025-12-01 (inactive as of the as-of date) unless noted.
"""

from __future__ import annotations

import json
from pathlib import Path

from landing_fixture import CUSTOMERS, write_csv_file, write_landing

EXTRA_CUSTOMERS = [
    # customer_id, first_name, last_name, email, phone, country, postal_code, created_at, updated_at
    ("C20", "Xanthippe", "Rolemail", "Info@Shop-Example.org", "07911 123456", "GB", "",
     "2025-01-01T00:00:00Z", ""),
    ("C21", "Quenby", "Throwaway", "quenby@mailinator.com", "+44 7911 123457 ext. 77", "GB", "",
     "2025-01-01T00:00:00Z", ""),
    # Same address as C02 (created 2025-01-01): C02 stays the owner.
    ("C22", "Zebedee", "Twin", "ZOE.OLD@example.com", "07911 123456", "GB", "",
     "2025-03-01T00:00:00Z", ""),
    ("C23", "Ödön", "山田", "  user@Bücher.de ", "030 1234567", "DE", "",
     "2025-01-01T00:00:00Z", ""),
    ("C24", "Wilhelmina", "Noconsent", "wilhelmina@example.net", "+44 1234", "GB", "",
     "2025-01-01T00:00:00Z", ""),
    ("C25", "Peregrine", "Texter", "peregrine@example.net", "(202) 555-0143 x99", "US", "",
     "2025-01-01T00:00:00Z", ""),
]
EXTRA_CONSENT = [
    ("C20", "email", "opted_in", "checkout", "2025-01-01T00:00:00Z"),
    ("C20", "sms", "opted_in", "checkout", "2025-01-01T00:00:00Z"),
    ("C21", "email", "opted_in", "checkout", "2025-01-01T00:00:00Z"),
    ("C21", "sms", "opted_in", "checkout", "2025-01-01T00:00:00Z"),
    ("C22", "email", "opted_in", "checkout", "2025-01-01T00:00:00Z"),
    ("C22", "sms", "opted_in", "checkout", "2025-01-01T00:00:00Z"),
    ("C23", "email", "opted_in", "checkout", "2025-01-01T00:00:00Z"),
    ("C23", "sms", "opted_in", "checkout", "2025-01-01T00:00:00Z"),
    ("C25", "email", "opted_in", "checkout", "2025-01-01T00:00:00Z"),
    ("C25", "sms", "opted_in", "checkout", "2025-01-01T00:00:00Z"),
    ("C25", "sms", "opted_out", "sms_stop", "2026-05-01T00:00:00Z"),
]
EXTRA_ORDERS = [
    (f"O{20 + n}", customer[0], "2025-12-01T08:00:00+00:00", "paid", "GBP", "25.00", "")
    for n, customer in enumerate(EXTRA_CUSTOMERS)
]

# Every email and phone in the landing folder (as written and as normalised) and every name
# that is not an ordinary English word (the base fixture's last names mostly are: Recent, Old,
# Suppressed, ...; a log line may well contain those words without naming anyone).
_ENGLISH_WORD_NAMES = {"Recent", "Never", "Multi", "Optout", "Lapsed", "Erased", "Suppressed",
                       "Bademail", "Formula", "Returned", "Complaint", "Sheet", "Mo"}
PERSONAL_VALUES = sorted(
    {
        value.strip()
        for row in CUSTOMERS + EXTRA_CUSTOMERS
        for value in (row[1], row[2], row[3], row[4])
        if value.strip() and value.strip() not in _ENGLISH_WORD_NAMES
    }
    | {row[3].strip().lower() for row in CUSTOMERS + EXTRA_CUSTOMERS if "@" in row[3]}
    | {"user@bücher.de", "+447911123456", "+447911123457", "+49301234567", "+12025550143",
       "sue@example.com", "SUE@example.com"}
)


def write_contacts_landing(root: Path) -> Path:
    write_landing(root)
    write_csv_file(
        root / "customers" / "dirty_contacts.csv",
        ["customer_id", "first_name", "last_name", "email", "phone", "country", "postal_code",
         "created_at", "updated_at"],
        EXTRA_CUSTOMERS,
    )
    write_csv_file(
        root / "orders" / "dirty_contacts.csv",
        ["order_id", "customer_id", "ordered_at", "status", "currency", "amount", "updated_at"],
        EXTRA_ORDERS,
    )
    append_consent(root, "dirty_contacts.jsonl", EXTRA_CONSENT)
    return root


def append_consent(root: Path, name: str, rows: list[tuple[str, ...]]) -> None:
    path = root / "consent_events" / name
    path.write_text(
        "".join(
            json.dumps(dict(zip(["customer_id", "channel", "status", "source", "occurred_at"],
                                row, strict=True)), ensure_ascii=False) + "\n"
            for row in rows
        ),
        encoding="utf-8",
    )


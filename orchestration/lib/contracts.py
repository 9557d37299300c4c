"""Input contracts: every landing entity's columns by name, type and requiredness.

This module is the one place the inputs are declared. Ingestion checks headers against it,
types rows by it and quarantines what does not fit; the README renders it for users
(`winback contracts`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ColumnType(StrEnum):
    TEXT = "text"
    ID = "id"  # trimmed text key
    TIMESTAMP = "timestamp"  # stored as UTC TIMESTAMPTZ; naive values use the source time zone
    DECIMAL = "decimal"
    INTEGER = "integer"
    ENUM = "enum"


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    required: bool = True
    values: tuple[str, ...] = ()  # allowed values for ENUM, compared lower-cased and trimmed
    description: str = ""

    @property
    def sql_type(self) -> str:
        return {
            ColumnType.TEXT: "VARCHAR",
            ColumnType.ID: "VARCHAR",
            ColumnType.TIMESTAMP: "TIMESTAMPTZ",
            ColumnType.DECIMAL: "DECIMAL(18, 2)",
            ColumnType.INTEGER: "BIGINT",
            ColumnType.ENUM: "VARCHAR",
        }[self.type]


@dataclass(frozen=True)
class DoNotContact:
    """How a do-not-contact record fails closed (RELIABILITY.md): a row that identifies a person
    blocks that person whatever is wrong with its other fields. Its defects are recorded with
    the row in `raw.<entity>._defects`; only a row without an identity is quarantined.

    - `identity`: the columns that identify the person; a row missing one identifies nobody.
    - Every timestamp column that is missing, unparseable or in the future holds the row's load
      time instead ("from the moment it was loaded").
    - `unreadable`: (enum column, value stored when the value is missing or outside the list);
      None stores NULL, which downstream reads as "every value" (an opt-out on every channel).
    - `grant`: (column, value) of a record that grants rather than withdraws (an opt-in): such
      a row keeps the strict rules, so a flawed opt-in is quarantined and grants nothing.
    """

    identity: tuple[str, ...]
    unreadable: tuple[tuple[str, str | None], ...] = ()
    grant: tuple[str, str] | None = None


@dataclass(frozen=True)
class Contract:
    entity: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    required_entity: bool = False
    # Timestamp columns that may not lie in the future at load time.
    no_future: tuple[str, ...] = field(default=())
    # Set for do-not-contact entities (opt-outs, suppressions, erasure requests).
    do_not_contact: DoNotContact | None = None
    # Optional columns of which a row needs at least one (it identifies nobody otherwise):
    # a row with all of them blank is quarantined as `missing_any_of:<a>|<b>`.
    any_of: tuple[str, ...] = field(default=())

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)


def _c(name: str, type_: ColumnType, required: bool = True, *values: str, doc: str = "") -> Column:
    return Column(name, type_, required, tuple(values), doc)


T = ColumnType

CONTRACTS: dict[str, Contract] = {
    c.entity: c
    for c in (
        Contract(
            "orders",
            "One row per order (re-exports of an order with a later updated_at supersede it).",
            (
                _c("order_id", T.ID),
                _c("customer_id", T.ID),
                _c("ordered_at", T.TIMESTAMP, doc="with offset, or naive in WINBACK_SOURCE_TZ"),
                _c("status", T.ENUM, True, "placed", "paid", "shipped", "cancelled", "refunded"),
                _c("currency", T.TEXT, doc="ISO 4217 code"),
                _c("amount", T.DECIMAL, doc="order total, '.' decimal separator"),
                _c("updated_at", T.TIMESTAMP, False),
            ),
            key=("order_id",),
            required_entity=True,
            no_future=("ordered_at",),
        ),
        Contract(
            "order_items",
            "Order lines: what was bought, for the last category bought.",
            (
                _c("order_id", T.ID),
                _c("line_no", T.INTEGER),
                _c("sku", T.TEXT, False),
                _c("category", T.TEXT, False),
                _c("quantity", T.INTEGER, False),
                _c("unit_price", T.DECIMAL, False),
            ),
            key=("order_id", "line_no"),
        ),
        Contract(
            "customers",
            "CRM customers. Bad emails or phones never reject a row; they are flagged downstream.",
            (
                _c("customer_id", T.ID),
                _c("first_name", T.TEXT, False),
                _c("last_name", T.TEXT, False),
                _c("email", T.TEXT, False),
                _c("phone", T.TEXT, False),
                _c("country", T.TEXT, False, doc="ISO 3166 alpha-2"),
                _c("postal_code", T.TEXT, False),
                _c("created_at", T.TIMESTAMP, False),
                _c("updated_at", T.TIMESTAMP, False),
            ),
            key=("customer_id",),
            required_entity=True,
        ),
        Contract(
            "consent_events",
            "Marketing consent changes; the latest event per customer and channel wins.",
            (
                _c("customer_id", T.ID),
                _c("channel", T.ENUM, True, "email", "sms"),
                _c("status", T.ENUM, True, "opted_in", "opted_out"),
                _c("source", T.TEXT, False),
                _c("occurred_at", T.TIMESTAMP),
            ),
            key=("customer_id", "channel", "occurred_at"),
            no_future=("occurred_at",),
            do_not_contact=DoNotContact(
                identity=("customer_id",),
                unreadable=(("channel", None), ("status", "opted_out")),
                grant=("status", "opted_in"),
            ),
        ),
        Contract(
            "suppressions",
            "Addresses the email platform must never receive again.",
            (
                _c("email", T.TEXT),
                _c("reason", T.ENUM, True,
                   "hard_bounce", "spam_complaint", "unsubscribe", "manual"),
                _c("occurred_at", T.TIMESTAMP),
            ),
            key=("email", "reason", "occurred_at"),
            no_future=("occurred_at",),
            do_not_contact=DoNotContact(identity=("email",), unreadable=(("reason", "unknown"),)),
        ),
        Contract(
            "erasure_requests",
            "Right-to-erasure requests: the customer disappears from every mart and export.",
            (_c("customer_id", T.ID), _c("requested_at", T.TIMESTAMP)),
            key=("customer_id",),
            no_future=("requested_at",),
            do_not_contact=DoNotContact(identity=("customer_id",)),
        ),
        Contract(
            "exclusions",
            "Global exclusion lists (staff, test accounts, partners...): a customer listed by id "
            "or email (at least one) is in no audience while the entry is active.",
            (
                _c("list_name", T.ID, doc="the list the entry belongs to"),
                _c("customer_id", T.ID, False, doc="customer_id or email (at least one)"),
                _c("email", T.TEXT, False, doc="normalised like customers' emails"),
                _c("reason", T.TEXT, False),
                _c("added_at", T.TIMESTAMP),
                _c("removed_at", T.TIMESTAMP, False,
                   doc="the entry's latest version decides; set to end the exclusion"),
            ),
            key=("list_name", "customer_id", "email", "added_at"),
            no_future=("added_at",),
            any_of=("customer_id", "email"),
        ),
        Contract(
            "support_tickets",
            "Support tickets, for churn signals and routing complaints to service.",
            (
                _c("ticket_id", T.ID),
                _c("customer_id", T.ID),
                _c("opened_at", T.TIMESTAMP),
                _c("closed_at", T.TIMESTAMP, False),
                _c("kind", T.ENUM, True,
                   "complaint", "service_request", "discount_request", "other"),
                _c("satisfaction", T.INTEGER, False, doc="1-5"),
            ),
            key=("ticket_id",),
            no_future=("opened_at",),
        ),
        Contract(
            "loyalty_ledger",
            "Optional loyalty points ledger (signed points, optional expiry).",
            (
                _c("customer_id", T.ID),
                _c("occurred_at", T.TIMESTAMP),
                _c("points", T.INTEGER),
                _c("expires_at", T.TIMESTAMP, False),
            ),
            key=("customer_id", "occurred_at"),
            no_future=("occurred_at",),
        ),
    )
}


def render_markdown() -> str:
    """The contracts as Markdown tables, for the README and `winback contracts`."""
    out: list[str] = []
    for contract in CONTRACTS.values():
        need = "required" if contract.required_entity else "optional"
        out.append(f"#### `{contract.entity}/` ({need})\n\n{contract.description}\n")
        out.append("| column | type | required | notes |\n|---|---|---|---|")
        for col in contract.columns:
            notes = col.description
            if col.values:
                notes = "one of " + ", ".join(f"`{v}`" for v in col.values)
            out.append(
                f"| `{col.name}` | {col.type.value} | {'yes' if col.required else 'no'} | {notes} |"
            )
        out.append("")
    return "\n".join(out)

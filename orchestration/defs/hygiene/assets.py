"""Contact checks that need maintained libraries rather than SQL (email-validator, phonenumbers,
disposable-email-domains). Each asset reads distinct raw values from DuckDB in batches and writes
one row per distinct value, so memory stays bounded and dbt joins the results back by value."""

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import dagster as dg
import duckdb
import pyarrow as pa

from orchestration.defs.hygiene.summary import contact_hygiene_counts
from orchestration.defs.resources import WinbackConfig
from orchestration.lib.asset_keys import raw_asset_key
from orchestration.lib.contacts import (
    DISPOSABLE_LIST_VERSION,
    ROLE_LOCAL_PARTS,
    check_email,
    check_phone,
)
from orchestration.lib.metadata import counts_table
from orchestration.lib.warehouse import open_warehouse

BATCH_ROWS = 50_000
EMAIL_CHECKS_SCHEMA = pa.schema(
    [
        ("email_raw", pa.string()),
        ("email_normalized", pa.string()),
        ("is_valid", pa.bool_()),
        ("invalid_reason", pa.string()),
        ("is_role_address", pa.bool_()),
        ("is_disposable_domain", pa.bool_()),
    ]
)
PHONE_CHECKS_SCHEMA = pa.schema(
    [
        ("phone_raw", pa.string()),
        ("country_code", pa.string()),
        ("phone_e164", pa.string()),
        ("phone_extension", pa.string()),
        ("phone_type", pa.string()),
        ("is_valid", pa.bool_()),
        ("invalid_reason", pa.string()),
    ]
)
_DUCKDB_TYPES = {pa.string(): "VARCHAR", pa.bool_(): "BOOLEAN"}


def replace_checks_table(
    con: duckdb.DuckDBPyConnection,
    table: str,
    schema: pa.Schema,
    source_sql: str,
    check: Callable[[tuple[Any, ...]], Sequence[Any]],
) -> int:
    """Replace `hygiene.<table>` with check(row) for every row of `source_sql`, in batches and in
    one transaction (a failure leaves the previous table). Returns the number of rows written."""
    columns = ", ".join(f"{f.name} {_DUCKDB_TYPES[f.type]}" for f in schema)
    total = 0
    con.execute("CREATE SCHEMA IF NOT EXISTS hygiene")
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"CREATE OR REPLACE TABLE hygiene.{table} ({columns})")
        reader = con.cursor()
        reader.execute(source_sql)
        while rows := reader.fetchmany(BATCH_ROWS):
            checked = [check(row) for row in rows]
            batch = pa.Table.from_pylist(
                [dict(zip(schema.names, values, strict=True)) for values in checked], schema=schema
            )
            con.register("checks_batch", batch)
            con.execute(f"INSERT INTO hygiene.{table} SELECT * FROM checks_batch")
            con.unregister("checks_batch")
            total += len(rows)
        reader.close()
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return total


@dg.asset(
    key=["hygiene", "email_checks"],
    deps=[raw_asset_key("customers"), raw_asset_key("suppressions")],
    group_name="hygiene",
    kinds={"python", "duckdb"},
)
def email_checks(context: dg.AssetExecutionContext, winback: WinbackConfig) -> dg.MaterializeResult:
    """Every distinct email string in the CRM and in the suppression list, trimmed, validated
    (syntax and IDN, no DNS) and lower-cased, with a reason code when invalid, and flags for role
    addresses (info@, noreply@, ...) and disposable domains (disposable-email-domains list).
    Suppressions go through the same normaliser so that they match customers' addresses."""
    settings = winback.settings()
    reasons: Counter[str] = Counter()
    flags: Counter[str] = Counter()

    def check(row: tuple[Any, ...]) -> tuple[Any, ...]:
        (raw,) = row
        result = check_email(raw)
        if result.invalid_reason:
            reasons[result.invalid_reason] += 1
        flags["role_address"] += result.is_role_address
        flags["disposable_domain"] += result.is_disposable_domain
        return (raw, result.email_normalized, result.is_valid, result.invalid_reason,
                result.is_role_address, result.is_disposable_domain)

    with open_warehouse(settings.warehouse) as con:
        total = replace_checks_table(
            con,
            "email_checks",
            EMAIL_CHECKS_SCHEMA,
            "SELECT email FROM raw.customers WHERE email IS NOT NULL "
            "UNION SELECT email FROM raw.suppressions WHERE email IS NOT NULL ORDER BY 1",
            check,
        )
    invalid = sum(reasons.values())
    context.log.info(f"Checked {total} distinct email strings; {invalid} invalid.")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": total,
            "invalid_emails": invalid,
            "invalid_by_reason": counts_table(reasons, count="emails"),
            "role_addresses": flags["role_address"],
            "disposable_domains": flags["disposable_domain"],
            "disposable_email_domains_version": DISPOSABLE_LIST_VERSION,
            "role_local_parts": len(ROLE_LOCAL_PARTS),
        }
    )


@dg.asset(
    key=["hygiene", "phone_checks"],
    deps=[raw_asset_key("customers")],
    group_name="hygiene",
    kinds={"python", "duckdb"},
)
def phone_checks(context: dg.AssetExecutionContext, winback: WinbackConfig) -> dg.MaterializeResult:
    """Every distinct (phone string, customer country) pair in the CRM, parsed with phonenumbers
    using the country as the default region: E.164 only for valid numbers (is_valid_number), the
    extension kept apart, the number type (mobile, fixed line, ...), and a reason code otherwise."""
    settings = winback.settings()
    reasons: Counter[str] = Counter()
    types: Counter[str] = Counter()

    def check(row: tuple[Any, ...]) -> tuple[Any, ...]:
        raw, country = row
        result = check_phone(raw, country)
        if result.invalid_reason:
            reasons[result.invalid_reason] += 1
        if result.phone_type:
            types[result.phone_type] += 1
        return (raw, country, result.phone_e164, result.phone_extension, result.phone_type,
                result.is_valid, result.invalid_reason)

    with open_warehouse(settings.warehouse) as con:
        total = replace_checks_table(
            con,
            "phone_checks",
            PHONE_CHECKS_SCHEMA,
            # Keyed like stg_crm__customers: country trimmed and upper-cased.
            "SELECT DISTINCT phone, upper(trim(country)) FROM raw.customers "
            "WHERE phone IS NOT NULL AND trim(phone) <> '' ORDER BY 1, 2",
            check,
        )
    invalid = sum(reasons.values())
    context.log.info(f"Checked {total} distinct phone numbers; {invalid} invalid.")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": total,
            "invalid_phones": invalid,
            "invalid_by_reason": counts_table(reasons, count="phones"),
            "valid_by_type": counts_table(types, label="phone_type", count="phones"),
        }
    )


defs = dg.Definitions(assets=[email_checks, phone_checks], asset_checks=[contact_hygiene_counts])

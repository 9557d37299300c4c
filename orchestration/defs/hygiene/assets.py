"""Contact checks that need maintained libraries rather than SQL (email-validator)."""


from collections import Counter

import dagster as dg
import pyarrow as pa

from orchestration.defs.ingest.assets import raw_asset_key
from orchestration.defs.resources import WinbackConfig
from orchestration.lib.contacts import check_email
from orchestration.lib.warehouse import open_warehouse

BATCH_ROWS = 50_000
EMAIL_CHECKS_SCHEMA = pa.schema(
    [
        ("email_raw", pa.string()),
        ("email_normalized", pa.string()),
        ("is_valid", pa.bool_()),
        ("invalid_reason", pa.string()),
    ]
)


@dg.asset(
    key=["hygiene", "email_checks"],
    deps=[raw_asset_key("customers")],
    group_name="hygiene",
    kinds={"python", "duckdb"},
)
def email_checks(context: dg.AssetExecutionContext, winback: WinbackConfig) -> dg.MaterializeResult:
    """Every distinct email string in the CRM, trimmed, validated (syntax and IDN, no DNS) and
    lower-cased, with a reason code when invalid. Staging joins it back to customers."""
    settings = winback.settings()
    reasons: Counter[str] = Counter()
    total = 0
    with open_warehouse(settings.warehouse) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS hygiene")
        con.execute("BEGIN TRANSACTION")
        con.execute(
            "CREATE OR REPLACE TABLE hygiene.email_checks (email_raw VARCHAR, "
            "email_normalized VARCHAR, is_valid BOOLEAN, invalid_reason VARCHAR)"
        )
        reader = con.cursor()
        reader.execute(
            "SELECT DISTINCT email FROM raw.customers WHERE email IS NOT NULL ORDER BY email"
        )
        while rows := reader.fetchmany(BATCH_ROWS):
            checks = [check_email(email) for (email,) in rows]
            reasons.update(c.invalid_reason for c in checks if c.invalid_reason)
            total += len(rows)
            batch = pa.table(
                [
                    [email for (email,) in rows],
                    [c.email_normalized for c in checks],
                    [c.is_valid for c in checks],
                    [c.invalid_reason for c in checks],
                ],
                schema=EMAIL_CHECKS_SCHEMA,
            )
            con.register("email_batch", batch)
            con.execute("INSERT INTO hygiene.email_checks SELECT * FROM email_batch")
            con.unregister("email_batch")
        reader.close()
        con.execute("COMMIT")
    invalid = sum(reasons.values())
    context.log.info(f"Checked {total} distinct email strings; {invalid} invalid.")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": total,
            "invalid_emails": invalid,
            "invalid_by_reason": dg.MetadataValue.json(dict(sorted(reasons.items()))),
        }
    )


defs = dg.Definitions(assets=[email_checks])

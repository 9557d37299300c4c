"""The contact hygiene summary (counts by reason, share contactable) as a check on the
contacts/contact_hygiene_summary mart, read from the table dbt just built. Counts only."""

from pathlib import Path
from typing import Any

import dagster as dg

from orchestration.defs.dbt.keys import dbt_model_key
from orchestration.defs.resources import WinbackConfig
from orchestration.lib.metadata import counts_table
from orchestration.lib.warehouse import open_warehouse

SUMMARY_MODEL = "contact_hygiene_summary"


def hygiene_summary_metadata(warehouse: Path) -> dict[str, Any]:
    with open_warehouse(warehouse, read_only=True) as con:
        rows = con.execute(
            f"SELECT channel, category, code, customers, share_of_customers "
            f"FROM contacts.{SUMMARY_MODEL} ORDER BY channel, category, code"
        ).fetchall()
    metadata: dict[str, Any] = {}
    for channel in ("email", "sms"):
        verdicts = {code: n for ch, cat, code, n, _ in rows if (ch, cat) == (channel, "verdict")}
        flags = {code: n for ch, cat, code, n, _ in rows if (ch, cat) == (channel, "flag")}
        total = sum(verdicts.values())
        metadata[f"{channel}_contactable"] = verdicts.get("contactable", 0)
        metadata[f"{channel}_share_contactable"] = (
            round(verdicts.get("contactable", 0) / total, 4) if total else 0.0
        )
        metadata[f"{channel}_not_contactable_by_reason"] = counts_table(
            {code: n for code, n in verdicts.items() if code != "contactable"}, count="customers"
        )
        metadata[f"{channel}_flags"] = counts_table(flags, label="flag", count="customers")
    metadata["customers"] = sum(
        n for ch, cat, _, n, _ in rows if (ch, cat) == ("email", "verdict")
    )
    metadata["erased_customers"] = sum(n for _, _, code, n, _ in rows if code == "erased")
    return metadata


@dg.asset_check(
    asset=dbt_model_key(SUMMARY_MODEL),
    name="contact_hygiene_counts",
    blocking=False,
    description=(
        "Counts of the contact hygiene summary (contactable customers and the reasons the others "
        "are not, per channel) as metadata. Warns when customers exist but none is contactable "
        "on any channel, which usually means consent events are missing."
    ),
)
def contact_hygiene_counts(winback: WinbackConfig) -> dg.AssetCheckResult:
    metadata = hygiene_summary_metadata(winback.settings().warehouse)
    reachable = metadata["email_contactable"] + metadata["sms_contactable"]
    return dg.AssetCheckResult(
        passed=reachable > 0 or metadata["customers"] == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=metadata,
    )

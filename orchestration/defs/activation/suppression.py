"""The suppression audience: the do-not-contact set as a hashed exclusion list for the ad
platforms (Google Customer Match, Meta), so people who opted out or were suppressed are also
kept out of paid reach.

Members come from `activation.sync_suppression_members` (as of the run date) plus, failing
closed, everyone the write-time gate finds opted out or suppressed *now* (landing files not yet
loaded included). Files, adds, removes and the manifest are written by the same export writer as
every audience, so the files carry SHA-256 hashes of the platform's normalised email and phone
only, and a person who opted in again leaves through the removes file.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import dagster as dg
import pyarrow as pa

from orchestration.defs.activation.audience_files import (
    ExportResult,
    export_audience,
    forget_erased,
    query_batches,
)
from orchestration.defs.activation.consent_gate import open_gate
from orchestration.defs.activation.match_rates import (
    fail_below_minimum,
    load_match_rates,
    match_estimate,
    match_metadata,
)
from orchestration.defs.activation.platforms import below_minimum, load_limits, platform_for
from orchestration.defs.dbt.keys import dbt_model_checksum, dbt_model_key
from orchestration.defs.resources import WinbackConfig
from orchestration.lib.asset_keys import export_key
from orchestration.lib.audiences import AudienceConfig, SuppressionAudience, load_audiences
from orchestration.lib.freshness import DAILY_FRESHNESS
from orchestration.lib.metadata import counts_table
from orchestration.lib.run_config import daily_partitions, one_date_per_run
from orchestration.lib.warehouse import open_warehouse

SUPPRESSION_MODEL = "sync_suppression_members"
# Only the identifiers an exclusion list matches on leave the warehouse (no names, no zip).
IDENTIFIER_FIELDS = ("phone",)

# Customers the gate finds opted out (latest email consent event known now) or suppressed (an
# address suppressed now, normalised like the hygiene checks), erased ones excepted.
BLOCKED_NOW_SQL = """
SELECT h.customer_id, h.email_normalized AS email, h.phone_e164 AS phone,
       CASE WHEN c.consent_status = 'opted_out' THEN 'opted_out' ELSE 'suppressed' END AS reason
FROM wh.contacts.contact_hygiene AS h
LEFT JOIN gate_consent AS c ON h.customer_id = c.customer_id
WHERE h.customer_id NOT IN (SELECT customer_id FROM gate_erased)
  AND (c.consent_status = 'opted_out'
       OR h.email_normalized IN (SELECT email_normalized FROM gate_suppressed))
  AND (h.email_normalized IS NOT NULL OR h.phone_e164 IS NOT NULL)
"""


def gate_additions(settings) -> tuple[pa.Table, pa.Table]:
    """(customers opted out or suppressed now, erased customer ids) from the write-time gate,
    which attaches the warehouse read-only and is closed before the export writes."""
    with open_gate(settings) as gate:
        return (gate.sql(BLOCKED_NOW_SQL).to_arrow_table(),
                gate.sql("SELECT customer_id FROM gate_erased").to_arrow_table())


def load_additions(con, blocked_now: pa.Table, erased: pa.Table) -> None:
    """The gate's findings as tables of an in-memory database attached to the warehouse
    connection (never written to the warehouse file)."""
    con.execute("ATTACH ':memory:' AS suppression_gate")
    for name, table in (("blocked_now", blocked_now), ("erased", erased)):
        con.register("gate_table", table)
        con.execute(f"CREATE TABLE suppression_gate.{name} AS SELECT * FROM gate_table")
        con.unregister("gate_table")


MEMBERS_SQL = f"""
SELECT min(customer_id) AS customer_id, email, phone, min(reason) AS reason FROM (
    SELECT customer_id, email, phone, reason FROM activation.{SUPPRESSION_MODEL}
    WHERE customer_id NOT IN (SELECT customer_id FROM suppression_gate.erased)
    UNION ALL
    SELECT customer_id, email, phone, reason FROM suppression_gate.blocked_now
) GROUP BY email, phone
"""
ADDED_AT_WRITE_SQL = f"""
SELECT count(*) FROM (SELECT DISTINCT email, phone FROM suppression_gate.blocked_now) AS b
WHERE NOT EXISTS (SELECT 1 FROM activation.{SUPPRESSION_MODEL} AS m
                  WHERE m.email IS NOT DISTINCT FROM b.email
                    AND m.phone IS NOT DISTINCT FROM b.phone)
"""


def suppression_members(con):
    """Everyone to exclude, one row per (email, phone), in a stable order, as column batches
    (the writer hashes them)."""
    return query_batches(
        con, f"{MEMBERS_SQL} ORDER BY email NULLS LAST, phone NULLS LAST, customer_id")


def members_by_reason(con) -> dict[str, int]:
    return dict(con.execute(f"SELECT reason, count(*) FROM ({MEMBERS_SQL}) GROUP BY 1 "
                            "ORDER BY 1").fetchall())


@dataclass(frozen=True)
class SuppressionFiles:
    platform: str
    result: ExportResult
    reasons: dict[str, int]
    added_at_write: int
    match: dict


@dataclass(frozen=True)
class BelowMinimum:
    """A platform whose list would be below its minimum audience size: not written."""

    platform: str
    message: str


def write_suppression_files(
    settings, suppression: SuppressionAudience, platforms, run_id: str
) -> Iterator[SuppressionFiles | BelowMinimum]:
    """Run the gate, then write the suppression audience's folder for each platform (not for
    a platform whose minimum audience size the list is below)."""
    limits = load_limits(settings.platforms_file)
    blocked_now, erased = gate_additions(settings)
    with open_warehouse(settings.warehouse) as con:
        load_additions(con, blocked_now, erased)
        reasons = members_by_reason(con)
        added_at_write = con.execute(ADDED_AT_WRITE_SQL).fetchone()[0]
        definition = {"audience_definition_hash": suppression.definition_hash,
                      "sync_model_checksum": dbt_model_checksum(SUPPRESSION_MODEL),
                      "kind": "suppression"}
        rates = load_match_rates(settings.platforms_file)
        for platform_name in platforms:
            match = match_estimate(con, MEMBERS_SQL, platform_name, rates.get(platform_name))
            message = below_minimum(suppression.name, platform_name, match["rows"],
                                    limits[platform_name])
            if message:
                yield BelowMinimum(platform_name, message)
                continue
            platform = platform_for(platform_name, IDENTIFIER_FIELDS, limits[platform_name],
                                    suppression.name)
            result = export_audience(
                settings.export_dir, con=con, audience=suppression.name, platform=platform,
                limits=limits[platform_name], as_of=settings.as_of,
                members=suppression_members(con), definition=definition, source_run=run_id,
                extra={"members_by_reason": reasons, "added_at_write": added_at_write,
                       "match": match},
                history_days=settings.export_history_days,
            )
            yield SuppressionFiles(platform_name, result, reasons, added_at_write, match)
        forget_erased(con, settings.as_of, [suppression.name],
                      "SELECT customer_id FROM suppression_gate.erased")


def build_suppression_exports(suppression: SuppressionAudience) -> dg.AssetsDefinition:
    specs = [
        dg.AssetSpec(
            key=export_key(suppression.name, platform),
            deps=[dbt_model_key(SUPPRESSION_MODEL), dbt_model_key("contact_hygiene")],
            group_name="activation",
            kinds={"csv"},
            description="The do-not-contact set (opted out, suppressed) as a hashed exclusion "
            f"audience for {platform}, with adds, removes and a manifest per as-of date. Upload "
            "it as an exclusion list so suppressed people are kept out of paid reach.",
            metadata={"audience": suppression.name, "platform": platform},
            freshness_policy=DAILY_FRESHNESS,
        )
        for platform in suppression.platforms
    ]

    @dg.multi_asset(specs=specs, can_subset=True, name="suppression_exports",
                    partitions_def=daily_partitions, backfill_policy=one_date_per_run)
    def suppression_exports(context: dg.AssetExecutionContext, winback: WinbackConfig):
        """Write the suppression audience's hashed files. Whoever the write-time gate finds
        opted out or suppressed now is added, so the list is never behind the email files."""
        settings = winback.settings()
        current = load_audiences(settings.audiences_file).suppression_audience
        if current is None or current.name != suppression.name:
            raise dg.Failure(f"{settings.audiences_file} no longer defines the suppression "
                             f"audience {suppression.name!r} this code location was loaded "
                             "with. Reload the code location (or restart the run).")
        selected = [p for p in current.platforms
                    if export_key(current.name, p) in context.selected_asset_keys]
        too_small = []
        for written in write_suppression_files(settings, current, selected, context.run_id):
            if isinstance(written, BelowMinimum):
                context.log.error(written.message)
                too_small.append(written.message)
                continue
            result = written.result
            context.log.info(f"{current.name} -> {written.platform}: {result.rows} rows, "
                             f"{result.added} adds, {result.removed} removes")
            yield dg.MaterializeResult(
                asset_key=export_key(current.name, written.platform),
                metadata={
                    "dagster/row_count": result.rows,
                    "rows": result.rows,
                    "adds": result.added,
                    "removes": result.removed,
                    "members_by_reason": counts_table(written.reasons, count="rows"),
                    "added_at_write": written.added_at_write,
                    "path": dg.MetadataValue.path(str(result.files[0].path)),
                    "manifest": dg.MetadataValue.path(str(result.folder / "manifest.json")),
                    "definition_hash": current.definition_hash,
                    **match_metadata(written.match),
                },
            )
        fail_below_minimum(too_small)

    return suppression_exports


def build_defs(config: AudienceConfig) -> dg.Definitions:
    """The suppression audience's export assets, when config/audiences.yml defines one."""
    if config.suppression_audience is None:
        return dg.Definitions()
    return dg.Definitions(assets=[build_suppression_exports(config.suppression_audience)])

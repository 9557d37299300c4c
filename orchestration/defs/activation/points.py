"""Points at the inactivity point: a points-grant file for the loyalty system.

When a customer crosses their inactivity threshold, the treated members of the grant audience
(`points_grant` in config/audiences.yml: an email audience of customers who crossed lately,
whose message says the points are waiting) get loyalty points. Held-out members get none (they
are not in the sync model), nor anyone the write-time gate blocks (opted out, suppressed,
erased): the grant is the incentive of the message, measured against the holdout like any
audience, so no message means no grant.

A grant id is derived from the customer and the crossing date (`inactive_since`), so the same
crossing always has the same id. `activation.points_grants_issued` records every grant with the
date it was first issued; a date's file holds the grants first issued on that date, so a rerun
of the date writes the same file and no other date lists them again (a backfill over the
crossing date, then the daily run: one grant). The folder
<export_dir>/<audience>/loyalty_points/<as_of>/ (points_grants.csv and manifest.json) is
published atomically, and the warehouse transaction that records the grants commits only after
it: a crash in between issues them again, with the same ids, on the next run.
"""

import datetime as dt
import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import dagster as dg

from orchestration.defs.activation.atomic_files import (
    CsvParts,
    WrittenFile,
    publish_folder,
    staged_in_transaction,
    write_manifest,
)
from orchestration.defs.activation.audience_files import _source_run
from orchestration.defs.activation.consent_gate import blocked_members, open_gate
from orchestration.defs.dbt.keys import dbt_model_checksum, dbt_model_key
from orchestration.defs.resources import WinbackConfig
from orchestration.lib.asset_keys import export_key
from orchestration.lib.audiences import AudienceConfig, PointsGrant, load_audiences
from orchestration.lib.freshness import DAILY_FRESHNESS
from orchestration.lib.run_config import daily_partitions, one_date_per_run
from orchestration.lib.warehouse import open_warehouse

SYNC_MODEL = "sync_audience_members"
ISSUED = "activation.points_grants_issued"
PLATFORM = "loyalty_points"
STEM = "points_grants"
HEADER = ("grant_id", "customer_id", "points", "reason", "crossed_on", "expires_on")
STAGING_DIR = ".staging"


def grant_id(customer_id: str, crossed_on: dt.date) -> str:
    """The id of a crossing: hex SHA-256 of 'customer_id|crossing date', first 32 digits."""
    return hashlib.sha256(f"{customer_id}|{crossed_on.isoformat()}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class GrantFile:
    folder: Path
    file: WrittenFile
    manifest: dict[str, Any]

    @property
    def rows(self) -> int:
        return self.file.rows


def ensure_issued_table(con) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS activation")
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {ISSUED} (grant_id VARCHAR PRIMARY KEY, "
        "customer_id VARCHAR NOT NULL, crossed_on DATE NOT NULL, points INTEGER NOT NULL, "
        "reason VARCHAR NOT NULL, expires_on DATE NOT NULL, issued_on DATE NOT NULL)")


def _gate_verdicts(settings, audience: str):
    """(blocked customer ids, erased customer ids) as Arrow tables, from the write-time gate
    over the grant audience's members (the gate attaches the warehouse read-only)."""
    with open_gate(settings) as gate:
        blocked_members(gate, f"(SELECT customer_id, email FROM wh.activation.{SYNC_MODEL} "
                              f"WHERE audience = '{audience}')")
        return (gate.sql("SELECT customer_id, reason FROM gate_blocked").to_arrow_table(),
                gate.sql("SELECT customer_id FROM gate_erased").to_arrow_table())


def write_points_grants(settings, grant: PointsGrant, run_id: str) -> GrantFile:
    """Record today's new grants and publish the date's grant file (see the module doc)."""
    as_of = settings.as_of
    blocked, erased = _gate_verdicts(settings, grant.audience)
    folder = settings.export_dir / grant.audience / PLATFORM / as_of.isoformat()
    staging = settings.export_dir / STAGING_DIR
    with open_warehouse(settings.warehouse) as con:
        ensure_issued_table(con)
        con.register("gate_blocked", blocked)
        con.register("gate_erased", erased)
        eligible = con.execute(
            f"SELECT customer_id, inactive_since, revenue_main_currency FROM activation."
            f"{SYNC_MODEL} WHERE audience = ? AND inactive_since IS NOT NULL AND customer_id "
            "NOT IN (SELECT customer_id FROM gate_blocked) ORDER BY customer_id",
            [grant.audience]).fetchall()
        candidates = [(grant_id(c, crossed), c, grant.points_for(revenue), grant.reason,
                       crossed, as_of + dt.timedelta(days=grant.expiry_days), as_of)
                      for c, crossed, revenue in eligible]
        with staged_in_transaction(con, staging) as staged:
            # An erased customer's grants are forgotten (they never qualify again).
            con.execute(f"DELETE FROM {ISSUED} WHERE customer_id IN "
                        "(SELECT customer_id FROM gate_erased)")
            issued_before = {g for (g,) in con.execute(
                f"SELECT grant_id FROM {ISSUED} WHERE issued_on <> ?", [as_of]).fetchall()}
            today = [row for row in candidates if row[0] not in issued_before]
            con.execute(f"DELETE FROM {ISSUED} WHERE issued_on = ?", [as_of])
            if today:
                con.executemany(f"INSERT INTO {ISSUED} (grant_id, customer_id, points, "
                                "reason, crossed_on, expires_on, issued_on) "
                                "VALUES (?, ?, ?, ?, ?, ?, ?)", today)
            parts = CsvParts(staged, STEM, HEADER)
            try:
                parts.write([(g, c, str(p), r, x.isoformat(), e.isoformat())
                             for g, c, p, r, x, e, _ in today])
                (written,) = parts.close()
            except BaseException:
                parts.discard()
                raise
            body = {
                "audience": grant.audience,
                "platform": PLATFORM,
                "as_of_date": as_of.isoformat(),
                "points_grant_definition_hash": grant.definition_hash,
                "sync_model_checksum": dbt_model_checksum(SYNC_MODEL),
                "columns": list(HEADER),
                "rows": written.rows,
                "points": sum(row[2] for row in today),
                "files": [written.as_manifest()],
                "members": {"eligible": len(candidates),
                            "issued_before": len(candidates) - len(today),
                            "granted": len(today)},
                "dropped_at_write": blocked.num_rows,
            }
            body["source_run"] = _source_run(folder / "manifest.json", body, run_id)
            write_manifest(staged / "manifest.json", body)
            publish_folder(staged, folder)
    return GrantFile(folder, replace(written, path=folder / written.path.name), body)


def build_points_grants(grant: PointsGrant) -> dg.AssetsDefinition:
    # A multi_asset of one spec: @asset flags its backfill_policy parameter as beta on import.
    @dg.multi_asset(
        specs=[dg.AssetSpec(
            key=export_key(grant.audience, PLATFORM),
            deps=[dbt_model_key(SYNC_MODEL), dbt_model_key("contact_hygiene")],
            group_name="activation",
            kinds={"csv"},
            description=f"Loyalty points for the treated members of {grant.audience} "
            "(customers who crossed the inactivity threshold lately): one grant per crossing, "
            "with an id derived from customer and crossing date, in a file per as-of date with "
            "a manifest.",
            metadata={"audience": grant.audience, "platform": PLATFORM},
            freshness_policy=DAILY_FRESHNESS,
        )],
        name="points_grants",
        partitions_def=daily_partitions,
        backfill_policy=one_date_per_run,
    )
    def points_grants(context: dg.AssetExecutionContext, winback: WinbackConfig):
        """Write the date's points-grant file: grants not issued on another date."""
        settings = winback.settings()
        current = load_audiences(settings.audiences_file).points_grant
        if current is None or current.audience != grant.audience:
            raise dg.Failure(f"{settings.audiences_file} no longer defines the points grant "
                             f"for {grant.audience!r} this code location was loaded with. "
                             "Reload the code location (or restart the run).")
        written = write_points_grants(settings, current, context.run_id)
        members = written.manifest["members"]
        context.log.info(f"{current.audience} -> {PLATFORM}: {written.rows} grants "
                         f"({members['issued_before']} issued before) in {written.folder}")
        return dg.MaterializeResult(metadata={
            "dagster/row_count": written.rows,
            "grants": written.rows,
            "points": written.manifest["points"],
            "eligible": members["eligible"],
            "issued_before": members["issued_before"],
            "dropped_at_write": written.manifest["dropped_at_write"],
            "path": dg.MetadataValue.path(str(written.file.path)),
            "manifest": dg.MetadataValue.path(str(written.folder / "manifest.json")),
            "definition_hash": current.definition_hash,
        })

    return points_grants


def build_defs(config: AudienceConfig) -> dg.Definitions:
    """The points-grant asset, when config/audiences.yml defines a points grant."""
    if config.points_grant is None:
        return dg.Definitions()
    return dg.Definitions(assets=[build_points_grants(config.points_grant)])

"""Audience exports: import files plus manifests for email platforms."""


import json
from collections import Counter

import dagster as dg

from orchestration.defs.dbt.assets import dbt_model_key
from orchestration.defs.dbt.project import winback_project
from orchestration.defs.resources import WinbackConfig
from orchestration.lib.contact_gate import blocked_members, open_gate
from orchestration.lib.deltas import MANIFEST_NAME, previous_export, removed_rows_sql
from orchestration.lib.exports import spreadsheet_safe, write_csv, write_manifest

AUDIENCE = "winback_inactive_email"
SYNC_MODEL = f"sync_{AUDIENCE}"
PLATFORM = "generic_csv"
HEADER = (
    "customer_id",
    "email",
    "first_name",
    "last_name",
    "last_order_date",
    "inactive_since",
    "last_category",
    "loyalty_points",
)
REMOVALS_HEADER = ("customer_id", "email", "removal_reason")
IDENTIFIERS = ("customer_id", "email")
FETCH_ROWS = 10_000


def definition_version(model_name: str) -> str:
    """Checksum of the audience's dbt model, so a manifest says which definition built it."""
    manifest = json.loads(winback_project.manifest_path.read_text())
    node = manifest["nodes"][f"model.winback.{model_name}"]
    return node["checksum"]["checksum"][:16]


@dg.asset(
    key=["exports", f"{AUDIENCE}_{PLATFORM}"],
    deps=[
        dbt_model_key(SYNC_MODEL),
        # Direct dependency so that the blocking consent gate on contact_hygiene stops the file.
        dbt_model_key("contact_hygiene"),
    ],
    group_name="activation",
    kinds={"csv"},
)
def winback_inactive_email_generic_csv(
    context: dg.AssetExecutionContext, winback: WinbackConfig
) -> dg.MaterializeResult:
    """Generic CSV of the win-back email audience (inactive, email-contactable customers),
    one file per as-of date with a JSON manifest (rows, sha256, definition version).

    Right before writing, consent, suppressions and erasure requests are checked again against
    what is known now (warehouse and landing files), and anyone newly opted out, suppressed or
    erased is dropped. A removals file lists who was in the previous export (the newest earlier
    date) and is not in this one, with the reason, so platforms can delete them."""
    settings = winback.settings()
    as_of = settings.as_of.isoformat()
    platform_dir = settings.export_dir / AUDIENCE / PLATFORM
    out_dir = platform_dir / as_of
    file_name = f"{AUDIENCE}.csv"
    with open_gate(settings.warehouse, settings.landing_dir, settings.source_timezone) as con:
        dropped = blocked_members(con, f"wh.activation.{SYNC_MODEL}")
        cursor = con.cursor()
        cursor.execute(
            f"SELECT {', '.join(f'm.{c}' for c in HEADER)} FROM wh.activation.{SYNC_MODEL} AS m "
            "WHERE m.customer_id NOT IN (SELECT customer_id FROM gate_blocked) "
            "ORDER BY m.customer_id"
        )

        def rows():
            while batch := cursor.fetchmany(FETCH_ROWS):
                for (customer_id, email, first, last, last_order, inactive_since, category,
                     points) in batch:
                    yield (
                        customer_id,
                        email,
                        spreadsheet_safe(first),
                        spreadsheet_safe(last),
                        last_order.isoformat() if last_order else None,
                        inactive_since.isoformat() if inactive_since else None,
                        spreadsheet_safe(category),
                        points,
                    )

        written = write_csv(out_dir / file_name, HEADER, rows())
        cursor.close()

        previous = previous_export(platform_dir, settings.as_of, file_name)
        removals_reasons: Counter[str] = Counter()

        def removals():
            if previous is None:
                return
            removed = con.cursor()
            removed.execute(
                "SELECT r.customer_id, r.email, CASE "
                "WHEN e.customer_id IS NOT NULL THEN 'erased' "
                "WHEN b.customer_id IS NOT NULL OR NOT h.is_contactable_email "
                "THEN 'not_contactable' "
                "WHEN m.customer_id IS NOT NULL THEN 'email_changed' "
                "ELSE 'left_audience' END AS removal_reason "
                f"FROM ({removed_rows_sql(previous, written.path, IDENTIFIERS)}) AS r "
                "LEFT JOIN gate_erased AS e ON r.customer_id = e.customer_id "
                "LEFT JOIN gate_blocked AS b ON r.customer_id = b.customer_id "
                "LEFT JOIN wh.contacts.contact_hygiene AS h ON r.customer_id = h.customer_id "
                f"LEFT JOIN wh.activation.{SYNC_MODEL} AS m ON r.customer_id = m.customer_id "
                "ORDER BY r.customer_id, r.email"
            )
            while batch := removed.fetchmany(FETCH_ROWS):
                for row in batch:
                    removals_reasons[row[2]] += 1
                    yield row
            removed.close()

        removals_written = write_csv(out_dir / f"{AUDIENCE}_removals.csv", REMOVALS_HEADER,
                                     removals())
    manifest_path = out_dir / MANIFEST_NAME
    write_manifest(
        manifest_path,
        {
            "audience": AUDIENCE,
            "platform": PLATFORM,
            "as_of_date": as_of,
            "definition_version": definition_version(SYNC_MODEL),
            "columns": list(HEADER),
            "rows": written.rows,
            "dropped_at_write": dict(sorted(dropped.items())),
            "previous_export_as_of": previous.parent.name if previous else None,
            "removals": dict(sorted(removals_reasons.items())),
            "files": [
                {"name": f.path.name, "rows": f.rows, "sha256": f.sha256, "bytes": f.bytes}
                for f in (written, removals_written)
            ],
        },
    )
    context.log.info(
        f"Wrote {written.rows} rows to {written.path}; dropped at write time: "
        f"{sum(dropped.values())}; removals since the previous export: {removals_written.rows}"
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": written.rows,
            "path": dg.MetadataValue.path(str(written.path)),
            "manifest": dg.MetadataValue.path(str(manifest_path)),
            "sha256": written.sha256,
            "as_of_date": as_of,
            "dropped_at_write": sum(dropped.values()),
            "dropped_at_write_by_reason": dg.MetadataValue.json(dict(sorted(dropped.items()))),
            "removals": removals_written.rows,
            "removals_by_reason": dg.MetadataValue.json(dict(sorted(removals_reasons.items()))),
            "removals_path": dg.MetadataValue.path(str(removals_written.path)),
            "previous_export_as_of": previous.parent.name if previous else "none",
        }
    )


defs = dg.Definitions(assets=[winback_inactive_email_generic_csv])

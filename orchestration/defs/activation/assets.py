"""Audience exports: import files plus manifests for email platforms."""


import json

import dagster as dg

from orchestration.defs.dbt.assets import dbt_model_key
from orchestration.defs.dbt.project import winback_project
from orchestration.defs.resources import WinbackConfig
from orchestration.lib.exports import spreadsheet_safe, write_csv, write_manifest
from orchestration.lib.warehouse import open_warehouse

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
FETCH_ROWS = 10_000


def definition_version(model_name: str) -> str:
    """Checksum of the audience's dbt model, so a manifest says which definition built it."""
    manifest = json.loads(winback_project.manifest_path.read_text())
    node = manifest["nodes"][f"model.winback.{model_name}"]
    return node["checksum"]["checksum"][:16]


@dg.asset(
    key=["exports", f"{AUDIENCE}_{PLATFORM}"],
    deps=[dbt_model_key(SYNC_MODEL)],
    group_name="activation",
    kinds={"csv"},
)
def winback_inactive_email_generic_csv(
    context: dg.AssetExecutionContext, winback: WinbackConfig
) -> dg.MaterializeResult:
    """Generic CSV of the win-back email audience (inactive, email-contactable customers),
    one file per as-of date with a JSON manifest (rows, sha256, definition version)."""
    settings = winback.settings()
    as_of = settings.as_of.isoformat()
    out_dir = settings.export_dir / AUDIENCE / PLATFORM / as_of
    with open_warehouse(settings.warehouse, read_only=True) as con:
        cursor = con.execute(
            f"SELECT {', '.join(HEADER)} FROM activation.{SYNC_MODEL} ORDER BY customer_id"
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

        written = write_csv(out_dir / f"{AUDIENCE}.csv", HEADER, rows())
    manifest_path = out_dir / "manifest.json"
    write_manifest(
        manifest_path,
        {
            "audience": AUDIENCE,
            "platform": PLATFORM,
            "as_of_date": as_of,
            "definition_version": definition_version(SYNC_MODEL),
            "columns": list(HEADER),
            "rows": written.rows,
            "files": [
                {"name": written.path.name, "rows": written.rows, "sha256": written.sha256,
                 "bytes": written.bytes}
            ],
        },
    )
    context.log.info(f"Wrote {written.rows} rows to {written.path}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": written.rows,
            "path": dg.MetadataValue.path(str(written.path)),
            "manifest": dg.MetadataValue.path(str(manifest_path)),
            "sha256": written.sha256,
            "as_of_date": as_of,
        }
    )


defs = dg.Definitions(assets=[winback_inactive_email_generic_csv])

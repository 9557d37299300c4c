"""One asset per landing entity: files -> `raw.<entity>` plus quarantine rows."""


import dagster as dg

from orchestration.defs.resources import WinbackConfig
from orchestration.lib.contracts import CONTRACTS, Contract
from orchestration.lib.ingest import load_entity
from orchestration.lib.warehouse import open_warehouse


def raw_asset_key(entity: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", entity])


def build_ingest_asset(contract: Contract) -> dg.AssetsDefinition:
    required = "Required" if contract.required_entity else "Optional"
    columns = ", ".join(contract.column_names)

    @dg.asset(
        key=raw_asset_key(contract.entity),
        group_name="ingest",
        kinds={"duckdb"},
        description=(
            f"{contract.description}\n\n{required} input: every file in "
            f"`<landing>/{contract.entity}/` (CSV, Parquet or JSON Lines) with columns {columns}. "
            "Rows that do not fit the contract go to `raw.quarantine` with a reason."
        ),
    )
    def _ingest(context: dg.AssetExecutionContext, winback: WinbackConfig) -> dg.MaterializeResult:
        settings = winback.settings()
        with open_warehouse(settings.warehouse) as con:
            report = load_entity(
                con,
                contract,
                settings.landing_dir,
                source_tz=settings.source_timezone,
                max_reject_share=settings.max_reject_share,
            )
        if not report.folder_present:
            context.log.warning(
                f"No {contract.entity}/ folder in the landing directory: no {contract.entity} "
                "records this run."
            )
        quarantined = report.quarantined
        drift = sorted({c for f in report.files for c in f.extra_columns})
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": report.loaded,
                "rows_read": report.rows_read,
                "rows_loaded": report.loaded,
                "rows_quarantined": sum(quarantined.values()),
                "quarantined_by_reason": dg.MetadataValue.json(dict(sorted(quarantined.items()))),
                "files": dg.MetadataValue.json(
                    [
                        {"file": f.source_file, "rows_read": f.rows_read, "loaded": f.loaded}
                        for f in report.files
                    ]
                ),
                "schema_drift_extra_columns": dg.MetadataValue.json(drift),
                "skipped_in_flight_files": dg.MetadataValue.json(report.skipped_in_flight),
                "folder_present": report.folder_present,
            }
        )

    return _ingest


ingest_assets = [build_ingest_asset(contract) for contract in CONTRACTS.values()]

defs = dg.Definitions(assets=ingest_assets)

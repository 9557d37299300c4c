"""One asset per landing entity: new files (and, for orders/customers, an optional SQL source)
appended to `raw.<entity>` plus quarantine rows, each file exactly once."""

import datetime as dt
from collections import Counter

import dagster as dg

from orchestration.defs.resources import WinbackConfig
from orchestration.lib.contracts import CONTRACTS, Contract
from orchestration.lib.ingest import IngestError, load_entity, reconcile_run
from orchestration.lib.sql_source import load_sql_source
from orchestration.lib.warehouse import open_warehouse


def raw_asset_key(entity: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", entity])


def build_ingest_asset(contract: Contract) -> dg.AssetsDefinition:
    required = "Required" if contract.required_entity else "Optional"
    columns = ", ".join(contract.column_names)
    # Orders are checked against the customers loaded by then, so customers load first.
    deps = [raw_asset_key("customers")] if contract.entity == "orders" else []

    @dg.asset(
        key=raw_asset_key(contract.entity),
        group_name="ingest",
        kinds={"duckdb"},
        deps=deps,
        description=(
            f"{contract.description}\n\n{required} input: every file in "
            f"`<landing>/{contract.entity}/` (CSV, Parquet or JSON Lines) with columns {columns}, "
            "each loaded exactly once (content-hash ledger `raw.ingest_ledger`). Rows that do not "
            "fit the contract go to `raw.quarantine` with a reason."
        ),
    )
    def _ingest(context: dg.AssetExecutionContext, winback: WinbackConfig) -> dg.MaterializeResult:
        settings = winback.settings()
        # Microseconds: the stamp identifies this run's rows in the reconciliation below.
        loaded_at = dt.datetime.now(dt.UTC)
        sql = settings.sql_source(contract.entity)
        with open_warehouse(settings.warehouse) as con:
            report = load_entity(
                con,
                contract,
                settings.landing_dir,
                source_tz=settings.source_timezone,
                max_reject_share=settings.max_reject_share,
                loaded_at=loaded_at,
                encoding=settings.file_encoding(contract.entity),
            )
            sql_report = (
                load_sql_source(
                    con,
                    contract,
                    sql,
                    source_tz=settings.source_timezone,
                    max_reject_share=settings.max_reject_share,
                    loaded_at=loaded_at,
                )
                if sql
                else None
            )
            rows_read = report.rows_read + (sql_report.rows_read - sql_report.already_loaded
                                            if sql_report else 0)
            quarantined = report.quarantined + (sql_report.quarantined if sql_report else Counter())
            loaded = report.loaded + (sql_report.loaded if sql_report else 0)
            stored, stored_quarantined = reconcile_run(con, contract.entity, loaded_at)
            if (stored, stored_quarantined) != (loaded, sum(quarantined.values())) or (
                loaded + sum(quarantined.values()) != rows_read
            ):
                raise IngestError(
                    f"{contract.entity}: {rows_read} new rows read, {loaded} loaded and "
                    f"{sum(quarantined.values())} quarantined, but the warehouse holds {stored} "
                    f"and {stored_quarantined} from this run. Re-run the ingest."
                )
            total = con.execute(f'SELECT count(*) FROM raw."{contract.entity}"').fetchall()[0][0]
            unknown_customers = (
                con.execute(
                    "SELECT count(DISTINCT order_id) FROM raw.orders o WHERE NOT EXISTS "
                    "(SELECT 1 FROM raw.customers c WHERE c.customer_id = o.customer_id)"
                ).fetchall()[0][0]
                if contract.entity == "orders"
                else None
            )
        if not report.folder_present and sql is None:
            context.log.warning(
                f"No {contract.entity}/ folder in the landing directory: no {contract.entity} "
                "records this run."
            )
        for skipped in report.skipped_already_loaded:
            context.log.info(
                f"{skipped.source_file}: already loaded as {skipped.loaded_as}; skipped"
            )
        drift = sorted(
            {c for f in report.files for c in f.extra_columns}
            | set(sql_report.extra_columns if sql_report else ())
        )
        metadata = {
            "dagster/row_count": total,
            "rows_read": rows_read,
            "rows_loaded": loaded,
            "rows_quarantined": sum(quarantined.values()),
            "quarantined_by_reason": dg.MetadataValue.json(dict(sorted(quarantined.items()))),
            "duplicate_keys": report.duplicate_keys
            + (sql_report.duplicate_keys if sql_report else 0),
            "files_loaded": dg.MetadataValue.json(
                [
                    {"file": f.source_file, "sha256": f.sha256, "rows_read": f.rows_read,
                     "loaded": f.loaded, "quarantined": sum(f.quarantined.values()),
                     "duplicate_keys": f.duplicate_keys}
                    for f in report.files
                ]
            ),
            "files_skipped_already_loaded": dg.MetadataValue.json(
                [{"file": s.source_file, "loaded_as": s.loaded_as}
                 for s in report.skipped_already_loaded]
            ),
            "schema_drift_extra_columns": dg.MetadataValue.json(drift),
            "skipped_in_flight_files": dg.MetadataValue.json(report.skipped_in_flight),
            "folder_present": report.folder_present,
        }
        if sql_report:
            metadata["sql_source"] = dg.MetadataValue.json(
                {"source": sql_report.source, "rows_fetched": sql_report.rows_read,
                 "already_loaded": sql_report.already_loaded, "loaded": sql_report.loaded,
                 "batches": sql_report.batches, "watermark": sql_report.watermark}
            )
        if unknown_customers is not None:
            metadata["orders_for_unknown_customers"] = unknown_customers
        return dg.MaterializeResult(metadata=metadata)

    return _ingest


ingest_assets = [build_ingest_asset(contract) for contract in CONTRACTS.values()]

defs = dg.Definitions(assets=ingest_assets)

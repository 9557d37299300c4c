"""One asset per landing entity: new files (and, for orders/customers, an optional SQL source)
appended to `raw.<entity>` plus quarantine rows, each file exactly once."""

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

import dagster as dg
import duckdb

from orchestration.defs.ingest.loader import (
    EntityReport,
    load_entity,
    orders_of_unknown_customers,
    reconcile_run,
)
from orchestration.defs.ingest.sql_source import SqlReport, load_sql_source
from orchestration.defs.resources import WinbackConfig
from orchestration.lib.asset_keys import raw_asset_key
from orchestration.lib.contracts import CONTRACTS, Contract
from orchestration.lib.landing import IngestError
from orchestration.lib.metadata import counts_table, records_table
from orchestration.lib.settings import Settings
from orchestration.lib.warehouse import WarehouseLockedError, open_warehouse


@dataclass
class _RunCounts:
    """What one run of an ingest asset read, loaded and quarantined (files and SQL together)."""

    files: EntityReport
    sql: SqlReport | None
    rows_in_table: int = 0
    orders_for_unknown_customers: int | None = None

    @property
    def rows_read(self) -> int:
        return self.files.rows_read + (self.sql.rows_read - self.sql.already_loaded
                                       if self.sql else 0)

    @property
    def quarantined(self) -> Counter[str]:
        return self.files.quarantined + (self.sql.quarantined if self.sql else Counter())

    @property
    def loaded(self) -> int:
        return self.files.loaded + (self.sql.loaded if self.sql else 0)


def _load(con: duckdb.DuckDBPyConnection, contract: Contract, settings: Settings,
          loaded_at: dt.datetime) -> _RunCounts:
    files = load_entity(
        con,
        contract,
        settings.landing_dir,
        source_tz=settings.source_timezone,
        max_reject_share=settings.max_reject_share,
        loaded_at=loaded_at,
        encoding=settings.file_encoding(contract.entity),
    )
    sql = settings.sql_source(contract.entity)
    sql_report = (
        load_sql_source(con, contract, sql, source_tz=settings.source_timezone,
                        max_reject_share=settings.max_reject_share, loaded_at=loaded_at)
        if sql else None
    )
    return _RunCounts(files, sql_report)


def _reconcile(con: duckdb.DuckDBPyConnection, entity: str, loaded_at: dt.datetime,
               counts: _RunCounts) -> None:
    """The rows stamped with this run's load time must be exactly what the run read."""
    quarantined = sum(counts.quarantined.values())
    stored, stored_quarantined = reconcile_run(con, entity, loaded_at)
    if (stored, stored_quarantined) != (counts.loaded, quarantined) or (
        counts.loaded + quarantined != counts.rows_read
    ):
        raise IngestError(
            f"{entity}: {counts.rows_read} new rows read, {counts.loaded} loaded and "
            f"{quarantined} quarantined, but the warehouse holds {stored} "
            f"and {stored_quarantined} from this run. Re-run the ingest."
        )
    counts.rows_in_table = con.execute(f'SELECT count(*) FROM raw."{entity}"').fetchall()[0][0]
    if entity == "orders":
        counts.orders_for_unknown_customers = orders_of_unknown_customers(con)


FILES_LOADED_COLUMNS = [
    ("file", str), ("sha256", str), ("rows_read", int), ("loaded", int), ("quarantined", int),
    ("loaded_with_defects", int), ("duplicate_keys", int),
]


def _metadata(counts: _RunCounts) -> dict[str, Any]:
    report, sql_report = counts.files, counts.sql
    drift = sorted(
        {c for f in report.files for c in f.extra_columns}
        | set(sql_report.extra_columns if sql_report else ())
    )
    metadata: dict[str, Any] = {
        "dagster/row_count": counts.rows_in_table,
        "rows_read": counts.rows_read,
        "rows_loaded": counts.loaded,
        "rows_quarantined": sum(counts.quarantined.values()),
        "quarantined_by_reason": counts_table(counts.quarantined),
        "rows_loaded_with_defects": report.loaded_with_defects,
        "defects_by_reason": counts_table(report.defects),
        "duplicate_keys": report.duplicate_keys
        + (sql_report.duplicate_keys if sql_report else 0),
        "files_loaded": records_table(
            [
                {"file": f.source_file, "sha256": f.sha256, "rows_read": f.rows_read,
                 "loaded": f.loaded, "quarantined": sum(f.quarantined.values()),
                 "loaded_with_defects": f.loaded_with_defects,
                 "duplicate_keys": f.duplicate_keys}
                for f in report.files
            ],
            FILES_LOADED_COLUMNS,
        ),
        "files_skipped_already_loaded": records_table(
            [{"file": s.source_file, "loaded_as": s.loaded_as}
             for s in report.skipped_already_loaded],
            [("file", str), ("loaded_as", str)],
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
    if counts.orders_for_unknown_customers is not None:
        metadata["orders_for_unknown_customers"] = counts.orders_for_unknown_customers
    return metadata


# Reading files (a network share, a file still being copied) or a SQL source (a restart, a
# dropped connection) can fail and then succeed: retry after 15 s, 30 s, 60 s. A retry is safe:
# each file and SQL batch commits with its ledger or watermark row, so a retry loads only what
# the failed attempt did not. Bad input (an IngestError) fails at once: it will not fix itself;
# so does a warehouse held by another program (Winback's own runs wait on the run lock instead),
# which the person running Winback has to close.
INGEST_RETRY = dg.RetryPolicy(max_retries=3, delay=15, backoff=dg.Backoff.EXPONENTIAL)


def build_ingest_asset(
    contract: Contract, retry_policy: dg.RetryPolicy = INGEST_RETRY
) -> dg.AssetsDefinition:
    required = "Required" if contract.required_entity else "Optional"
    columns = ", ".join(contract.column_names)
    # Orders are checked against the customers loaded by then, so customers load first.
    deps = [raw_asset_key("customers")] if contract.entity == "orders" else []

    @dg.asset(
        key=raw_asset_key(contract.entity),
        group_name="ingest",
        kinds={"duckdb"},
        deps=deps,
        retry_policy=retry_policy,
        description=(
            f"{contract.description}\n\n{required} input: every file in "
            f"`<landing>/{contract.entity}/` (CSV, Parquet or JSON Lines) with columns {columns}, "
            "each loaded exactly once (content-hash ledger `raw.ingest_ledger`). Rows that do not "
            "fit the contract go to `raw.quarantine` with a reason."
            + (
                " Do-not-contact records fail closed: a row that identifies the person loads "
                "whatever else is wrong with it (flawed timestamps become the load time), with "
                "its reason codes in `_defects`; only rows identifying nobody are quarantined."
                if contract.do_not_contact else ""
            )
        ),
    )
    def _ingest(context: dg.AssetExecutionContext, winback: WinbackConfig) -> dg.MaterializeResult:
        settings = winback.settings()
        # Microseconds: the stamp identifies this run's rows in the reconciliation.
        loaded_at = dt.datetime.now(dt.UTC)
        try:
            with open_warehouse(settings.warehouse) as con:
                counts = _load(con, contract, settings, loaded_at)
                _reconcile(con, contract.entity, loaded_at, counts)
        except (IngestError, WarehouseLockedError) as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from exc
        if not counts.files.folder_present and counts.sql is None:
            context.log.warning(
                f"No {contract.entity}/ folder in the landing directory: no {contract.entity} "
                "records this run."
            )
        if counts.files.loaded_with_defects:
            context.log.warning(
                f"{contract.entity}: {counts.files.loaded_with_defects} do-not-contact rows loaded "
                f"with defects, blocking from their load time: "
                f"{dict(sorted(counts.files.defects.items()))}"
            )
        for skipped in counts.files.skipped_already_loaded:
            context.log.info(
                f"{skipped.source_file}: already loaded as {skipped.loaded_as}; skipped"
            )
        return dg.MaterializeResult(metadata=_metadata(counts))

    return _ingest


ingest_assets = [build_ingest_asset(contract) for contract in CONTRACTS.values()]

defs = dg.Definitions(assets=ingest_assets)

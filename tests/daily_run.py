"""Run the daily job in process on a test folder: <root>/landing in, <root>/warehouse.duckdb,
<root>/exports and <root>/serving out."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg

from orchestration.definitions import defs
from orchestration.lib.run_config import daily_run


def run_daily(
    root: Path,
    as_of: dt.date | str,
    *,
    asset_selection: list[dg.AssetKey] | None = None,
    expect_success: bool = True,
    instance: dg.DagsterInstance | None = None,
    definitions: dg.Definitions | None = None,
    run_id: str | None = None,
) -> dg.ExecuteInProcessResult:
    """`definitions`: the code location to run (default: the one loaded with the default
    configuration; pass build_defs(load_settings()) for a config that names other audiences).
    `run_id`: the Dagster run id (default: a new one), which export manifests record."""
    as_of = as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(as_of)
    run = daily_run(
        as_of,
        landing_dir=root / "landing",
        warehouse=root / "warehouse.duckdb",
        export_dir=root / "exports",
        serving_dir=root / "serving",
    )
    result = (definitions or defs).resolve_job_def("winback_daily").execute_in_process(
        run_config=run.run_config, partition_key=run.partition_key, raise_on_error=False,
        asset_selection=asset_selection, instance=instance, run_id=run_id,
    )
    if expect_success:
        assert result.success, [e.message for e in result.all_events if e.is_failure]
    return result

"""Run the daily job in process on a test folder: <root>/landing in, <root>/warehouse.duckdb,
<root>/exports and <root>/serving out."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from parse_state import seeded_target

from orchestration.definitions import defs
from orchestration.lib.collector import heap_frozen
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
    `run_id`: the Dagster run id (default: a new one), which export manifests record.
    A run of other `definitions` has dbt parse with its own vars in a target folder of its own
    (_dbt_target_of_its_own)."""
    as_of = as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(as_of)
    run = daily_run(
        as_of,
        landing_dir=root / "landing",
        warehouse=root / "warehouse.duckdb",
        export_dir=root / "exports",
        serving_dir=root / "serving",
    )
    # As `winback run` runs it (orchestration/cli.py): the definitions out of its collections.
    with (_dbt_target_of_its_own(root) if definitions is not None else contextlib.nullcontext(),
          heap_frozen()):
        result = (definitions or defs).resolve_job_def("winback_daily").execute_in_process(
            run_config=run.run_config, partition_key=run.partition_key, raise_on_error=False,
            asset_selection=asset_selection, instance=instance, run_id=run_id,
        )
    if expect_success:
        assert result.success, [e.message for e in result.all_events if e.is_failure]
    return result


@contextlib.contextmanager
def _dbt_target_of_its_own(root: Path) -> Iterator[None]:
    """The dbt steps of a run with a configuration of its own (other audiences or policies: other
    vars) start from, and leave, their parse state in root/dbt_target, seeded with this test
    process's (tests/parse_state.py), instead of its target folder (tests/conftest.py): there
    they would leave a parse with their vars, and the next run of the default configuration in
    this process would parse the whole project again (~3 s of CPU). A second run in the same
    root starts from the first's."""
    target = root / "dbt_target"
    if not target.exists():
        seeded_target(target)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DBT_TARGET_PATH", str(target))
        patch.setenv("DBT_LOG_PATH", str(target))
        yield

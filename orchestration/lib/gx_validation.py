"""Great Expectations 1.x suites (JSON in expectations/) run on dataframes.

GX 1.x cannot validate DuckDB through SQLAlchemy, so callers read the table into a dataframe.
Results keep row keys (the table's key column) and counts, never the failing values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from orchestration.lib.settings import REPO_ROOT

EXPECTATIONS_DIR = REPO_ROOT / "expectations"
MAX_KEYS_REPORTED = 20


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str
    column: str | None
    success: bool
    unexpected_count: int
    unexpected_keys: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SuiteOutcome:
    suite: str
    success: bool
    rows: int
    outcomes: list[ExpectationOutcome]

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]


def load_suite(name: str, directory: Path | None = None) -> dict[str, Any]:
    path = (directory or EXPECTATIONS_DIR) / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def _context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def validate_dataframe(suite_json: dict[str, Any], frame: pd.DataFrame, key: str) -> SuiteOutcome:
    import great_expectations as gx

    context = _context()
    batch = (
        context.data_sources.add_pandas("winback")
        .add_dataframe_asset(suite_json["name"])
        .add_batch_definition_whole_dataframe("whole")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    suite = gx.ExpectationSuite(
        name=suite_json["name"], expectations=suite_json["expectations"], meta=suite_json.get("meta")
    )
    result = batch.validate(
        suite,
        result_format={
            "result_format": "COMPLETE",
            "exclude_unexpected_values": True,
            "unexpected_index_column_names": [key],
            "partial_unexpected_count": MAX_KEYS_REPORTED,
        },
    ).to_json_dict()
    outcomes = []
    for item in result["results"]:
        config = item["expectation_config"]
        details = item.get("result") or {}
        keys = [
            str(row[key]) if not isinstance(row[key], list) else str(row[key][0])
            for row in (details.get("unexpected_index_list") or [])[:MAX_KEYS_REPORTED]
            if isinstance(row, dict) and key in row
        ]
        outcomes.append(
            ExpectationOutcome(
                expectation=config["type"],
                column=config["kwargs"].get("column"),
                success=bool(item["success"]),
                unexpected_count=int(details.get("unexpected_count") or 0),
                unexpected_keys=keys,
            )
        )
    return SuiteOutcome(suite_json["name"], bool(result["success"]), len(frame), outcomes)

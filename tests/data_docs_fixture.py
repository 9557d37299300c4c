"""A Great Expectations Data Docs site built by build_data_docs from a one-table warehouse and a
one-expectation suite (seconds, no pipeline run)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from orchestration.defs.quality.gx import build_data_docs


def build_small_data_docs(root: Path) -> Path:
    """Build the site under root/docs; returns its index.html."""
    warehouse = root / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE SCHEMA contacts")
        con.execute("CREATE TABLE contacts.things AS SELECT 'c' || range AS id FROM range(3)")
    suites = root / "expectations"
    suites.mkdir()
    (suites / "things.json").write_text(json.dumps({
        "name": "things",
        "meta": {"table": "contacts.things", "key": "id"},
        "expectations": [{"type": "expect_column_values_to_not_be_null",
                          "kwargs": {"column": "id"}}],
    }))
    return build_data_docs(warehouse, root / "docs", suites)

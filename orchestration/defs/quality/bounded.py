"""Great Expectations on what changed: a suite validates only the rows of its table whose suite
columns it has not passed before, read from DuckDB in fixed-size batches so memory stays bounded.

`quality.gx_passed_rows` holds a 64-bit hash of the suite's columns (key included) for each row
that passed; a row that failed is not stored, so it is validated again on the next run even when
unchanged. `quality.gx_suites` holds a fingerprint of the suite file and of the libraries that
compute the hash and the verdicts; when it changes, every row is validated again. Expectations
therefore judge a row, or a batch of rows: table-wide properties (uniqueness across the table,
row counts) are the dbt tests' job, which run on the whole table at severity error.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from orchestration.defs.quality.gx import (
    SuiteOutcome,
    SuiteValidator,
    merge_outcomes,
    suite_columns,
)

# DuckDB hands query results to pandas in vectors of 2,048 rows: 100 vectors, about 200k rows.
VECTORS_PER_BATCH = 100

_STATE_TABLES = (
    "CREATE SCHEMA IF NOT EXISTS quality",
    "CREATE TABLE IF NOT EXISTS quality.gx_suites "
    "(suite VARCHAR PRIMARY KEY, fingerprint VARCHAR NOT NULL)",
    "CREATE TABLE IF NOT EXISTS quality.gx_passed_rows "
    "(suite VARCHAR NOT NULL, row_hash UBIGINT NOT NULL)",
)
_HASH_COLUMN = "_gx_row_hash"


@dataclass(frozen=True)
class BoundedOutcome:
    outcome: SuiteOutcome
    rows_skipped_unchanged: int
    batches: int
    full_validation: bool


def suite_fingerprint(suite_json: dict[str, Any], table: str) -> str:
    """Changes when the suite, its table, GX (the verdicts) or DuckDB (the row hash) change."""
    payload = {
        "suite": suite_json,
        "table": table,
        "great_expectations": importlib.metadata.version("great-expectations"),
        "duckdb": duckdb.__version__,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def validate_changed_rows(
    con: duckdb.DuckDBPyConnection,
    suite_json: dict[str, Any],
    table: str,
    key: str,
    *,
    vectors_per_batch: int = VECTORS_PER_BATCH,
) -> BoundedOutcome:
    """Validate the rows of `table` that have not passed `suite_json` before, in batches, and
    record the rows of the batches that passed. `con` must be writable."""
    name = suite_json["name"]
    columns = suite_columns(suite_json, key)
    row_hash = f"hash({', '.join(columns)})"
    fingerprint = suite_fingerprint(suite_json, table)
    for statement in _STATE_TABLES:
        con.execute(statement)
    stored = con.execute(
        "SELECT fingerprint FROM quality.gx_suites WHERE suite = ?", [name]
    ).fetchone()
    full = stored is None or stored[0] != fingerprint
    if full:
        con.execute("BEGIN TRANSACTION")
        con.execute("DELETE FROM quality.gx_passed_rows WHERE suite = ?", [name])
        con.execute("INSERT OR REPLACE INTO quality.gx_suites VALUES (?, ?)", [name, fingerprint])
        con.execute("COMMIT")
    total = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    con.execute(
        f"SELECT {', '.join(columns)}, {row_hash} AS {_HASH_COLUMN} FROM {table} "
        f"WHERE {row_hash} NOT IN "
        f"(SELECT row_hash FROM quality.gx_passed_rows WHERE suite = ?) "
        f"ORDER BY {key}, {_HASH_COLUMN}",
        [name],
    )
    validator: SuiteValidator | None = None
    outcomes: list[SuiteOutcome] = []
    passed_hashes: list[pa.Array] = []
    while not (frame := con.fetch_df_chunk(vectors_per_batch)).empty:
        hashes = frame.pop(_HASH_COLUMN)
        validator = validator or SuiteValidator(suite_json, key)
        outcome = validator.validate(frame)
        outcomes.append(outcome)
        if outcome.success:
            passed_hashes.append(pa.array(hashes, type=pa.uint64()))

    con.execute("BEGIN TRANSACTION")
    try:
        # Rows gone from the table (erased customers among them) leave no trace here.
        con.execute(
            f"DELETE FROM quality.gx_passed_rows WHERE suite = ? "
            f"AND row_hash NOT IN (SELECT {row_hash} FROM {table})",
            [name],
        )
        if passed_hashes:
            con.register("gx_passed", pa.table({"row_hash": pa.concat_arrays(passed_hashes)}))
            con.execute(
                "INSERT INTO quality.gx_passed_rows SELECT DISTINCT ?, row_hash FROM gx_passed",
                [name],
            )
            con.unregister("gx_passed")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise

    merged = merge_outcomes(name, outcomes)
    return BoundedOutcome(merged, total - merged.rows, len(outcomes), full)

"""Great Expectations on what changed: a suite validates only the rows of its table whose suite
columns it has not passed before, at most `max_rows` of them per run (oldest first), read from
DuckDB in fixed-size batches so memory and time stay bounded.

`quality.gx_passed_rows` holds a 64-bit hash of the suite's columns (key included) for each row
that passed; a row that failed is not stored, so it is validated again on the next run even when
unchanged. `quality.gx_suites` holds a fingerprint of the suite file and of the libraries that
compute the hash and the verdicts; when it changes, every row is validated again.
`quality.gx_pending_rows` holds the hash of each row waiting for validation (not passed yet)
with the time it started waiting; a run validates the `max_rows` that waited longest, so the
rest wait for the next runs and a failing row, which keeps waiting, is validated (and blocks)
again on every run until it is fixed. Expectations
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
BATCH_ROWS = VECTORS_PER_BATCH * 2048  # the same batches validated in an engine (in_engine.py)

_STATE_TABLES = (
    "CREATE SCHEMA IF NOT EXISTS quality",
    "CREATE TABLE IF NOT EXISTS quality.gx_suites "
    "(suite VARCHAR PRIMARY KEY, fingerprint VARCHAR NOT NULL)",
    "CREATE TABLE IF NOT EXISTS quality.gx_passed_rows "
    "(suite VARCHAR NOT NULL, row_hash UBIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS quality.gx_pending_rows "
    "(suite VARCHAR NOT NULL, row_hash UBIGINT NOT NULL, waiting_since TIMESTAMPTZ NOT NULL)",
)
_HASH_COLUMN = "_gx_row_hash"
_ROW_HASHES = "gx_row_hashes"


@dataclass(frozen=True)
class BoundedOutcome:
    outcome: SuiteOutcome
    rows_skipped_unchanged: int
    # Rows not passed yet that this run left for the next ones (over max_rows).
    rows_pending: int
    batches: int
    full_validation: bool
    # GX's datasource that validated the rows: "pandas" (dataframes read from DuckDB) or the
    # engine's ("postgres": the expectations ran as SQL in the database).
    datasource: str = "pandas"


def suite_fingerprint(suite_json: dict[str, Any], table: str,
                      row_hash: tuple[str, str] = ("duckdb", duckdb.__version__)) -> str:
    """Changes when the suite, its table, GX (the verdicts) or what computes the row hash
    (`row_hash`: the engine and its version; DuckDB by default) change."""
    payload = {
        "suite": suite_json,
        "table": table,
        "great_expectations": importlib.metadata.version("great-expectations"),
        row_hash[0]: row_hash[1],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def validate_changed_rows(
    con: duckdb.DuckDBPyConnection,
    suite_json: dict[str, Any],
    table: str,
    key: str,
    *,
    max_rows: int,
    vectors_per_batch: int = VECTORS_PER_BATCH,
) -> BoundedOutcome:
    """Validate at most `max_rows` of the rows of `table` that have not passed `suite_json`
    before, those waiting longest first (then by key), in batches, and record the rows of the
    batches that passed. `con` must be writable."""
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
    # Each row's hash, computed once: three of the statements below read them (hashing every
    # column of a million rows took ~0.18 s of CPU each time).
    con.execute(f"CREATE OR REPLACE TEMP TABLE {_ROW_HASHES} AS SELECT {row_hash} AS row_hash "
                f"FROM {table}")
    try:
        return _validate_pending(con, suite_json, table, key, columns, row_hash, full,
                                 max_rows=max_rows, vectors_per_batch=vectors_per_batch)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {_ROW_HASHES}")


def _validate_pending(con: duckdb.DuckDBPyConnection, suite_json: dict[str, Any], table: str,
                      key: str, columns: list[str], row_hash: str, full: bool, *,
                      max_rows: int, vectors_per_batch: int) -> BoundedOutcome:
    name = suite_json["name"]
    total = con.execute(f"SELECT count(*) FROM {_ROW_HASHES}").fetchone()[0]

    # The rows waiting for validation are exactly those not passed; each keeps the time it
    # started waiting.
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE gx_not_passed AS SELECT DISTINCT row_hash "
            f"FROM {_ROW_HASHES} WHERE row_hash NOT IN "
            f"(SELECT row_hash FROM quality.gx_passed_rows WHERE suite = ?)",
            [name],
        )
        con.execute(
            "DELETE FROM quality.gx_pending_rows WHERE suite = ? "
            "AND row_hash NOT IN (SELECT row_hash FROM gx_not_passed)",
            [name],
        )
        con.execute(
            "INSERT INTO quality.gx_pending_rows SELECT ?, row_hash, current_timestamp "
            "FROM gx_not_passed WHERE row_hash NOT IN "
            "(SELECT row_hash FROM quality.gx_pending_rows WHERE suite = ?)",
            [name, name],
        )
        con.execute("DROP TABLE gx_not_passed")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    waiting = con.execute(
        f"SELECT count(*) FROM {_ROW_HASHES} WHERE row_hash IN "
        f"(SELECT row_hash FROM quality.gx_pending_rows WHERE suite = ?)",
        [name],
    ).fetchone()[0]

    con.execute(
        f"SELECT {', '.join(f't.{c}' for c in columns)}, t.{_HASH_COLUMN} "
        f"FROM (SELECT {', '.join(columns)}, {row_hash} AS {_HASH_COLUMN} FROM {table}) t "
        f"JOIN (SELECT row_hash, waiting_since FROM quality.gx_pending_rows WHERE suite = ?) p "
        f"ON t.{_HASH_COLUMN} = p.row_hash "
        f"ORDER BY p.waiting_since, t.{key}, t.{_HASH_COLUMN} LIMIT ?",
        [name, max_rows],
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
            f"AND row_hash NOT IN (SELECT row_hash FROM {_ROW_HASHES})",
            [name],
        )
        if passed_hashes:
            con.register("gx_passed", pa.table({"row_hash": pa.concat_arrays(passed_hashes)}))
            con.execute(
                "INSERT INTO quality.gx_passed_rows SELECT DISTINCT ?, row_hash FROM gx_passed",
                [name],
            )
            con.execute(
                "DELETE FROM quality.gx_pending_rows WHERE suite = ? "
                "AND row_hash IN (SELECT row_hash FROM gx_passed)",
                [name],
            )
            con.unregister("gx_passed")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise

    merged = merge_outcomes(name, outcomes)
    return BoundedOutcome(merged, total - waiting, waiting - merged.rows, len(outcomes), full)

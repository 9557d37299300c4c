"""The Great Expectations gate inside Spark (WINBACK_ENGINE=spark): the rows bounded.py would
validate on DuckDB, chosen by the same rules in Spark SQL on the engine's own table (dbt built
it there), validated by GX's Spark datasource, so the expectations run as Spark column
expressions and no row crosses into pandas.

The same rules as bounded.py and in_engine.py: the suite's state (quality.gx_suites,
quality.gx_passed_rows, quality.gx_pending_rows, Parquet tables) lives in the Spark warehouse
next to the table; a row's hash is Spark's 64-bit xxhash64 of the JSON of the row of the
suite's columns (key included; JSON, because xxhash64 of the columns themselves skips nulls, so
a value moved to another column would hash alike); a run validates at most `max_rows` rows not
passed yet, those waiting longest first (then by key), in batches of BATCH_ROWS, and records
the rows of the batches that passed. The rows chosen are written, inside Spark, to a work table
quality.gx_selected_<suite> (numbered into batches) whose batches are the DataFrames GX
validates; it is dropped at the end.

Spark's Parquet tables have no DELETE or UPDATE: each state table is rewritten whole, as a new
table built by one query and swapped in for the old (drop, rename). A run killed between the
two leaves the state table missing, which the next run recreates empty: it validates more
rows, never fewer.

A local Spark warehouse's Derby metastore admits one JVM at a time, and the run process starts
none (orchestration/defs/dbt/engine_copy.py): the check runs all this in a short-lived child
process, `python -m orchestration.defs.quality.in_spark` (engine_copy.run_spark_child), which
reads only the Spark warehouse, never the local DuckDB file, and returns the outcome as JSON.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from orchestration.defs.quality.bounded import BATCH_ROWS, BoundedOutcome, suite_fingerprint
from orchestration.defs.quality.gx import (
    ExpectationOutcome,
    SparkBatches,
    SuiteOutcome,
    SuiteValidator,
    merge_outcomes,
    suite_columns,
)
from orchestration.lib.settings import SparkSettings

_STATE_TABLES = {
    "gx_suites": "suite string, fingerprint string",
    "gx_passed_rows": "suite string, row_hash bigint",
    "gx_pending_rows": "suite string, row_hash bigint, waiting_since timestamp",
}
_HASH_COLUMN = "_gx_row_hash"
_BATCH_COLUMN = "_gx_batch"


class SparkGateError(RuntimeError):
    """The gate's child process failed (the message names the suite, never a value)."""


def _identifier(name: str) -> str:
    """A Spark SQL identifier for `name`, which must be a plain one (suite, table, column)."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"not a plain identifier: {name!r}")
    return f"`{name}`"


def _relation(dotted: str) -> str:
    return ".".join(_identifier(part) for part in dotted.split("."))


def _names(suite_json: dict[str, Any], table: str, key: str) -> tuple[str, list[str], str, str]:
    """The table, the suite's columns, the key and the work table as Spark SQL names; raises
    ValueError if one is not a plain identifier (they are written into the statements)."""
    return (_relation(table), [_identifier(c) for c in suite_columns(suite_json, key)],
            _identifier(key), f"quality.{_identifier('gx_selected_' + suite_json['name'])}")


def _replace(spark: Any, table: str, query: str) -> None:
    """Rewrite quality.`table` with the rows of `query` (which may read it): a new table, then
    swapped in (Parquet tables have no DELETE)."""
    target, new = f"quality.`{table}`", f"quality.`{table}__new`"
    spark.sql(f"drop table if exists {new}")
    spark.sql(f"create table {new} using parquet as {query}")
    spark.sql(f"drop table {target}")
    spark.sql(f"alter table {new} rename to {target}")


def validate_changed_rows_in_spark(
    spark: Any,
    suite_json: dict[str, Any],
    table: str,
    key: str,
    *,
    max_rows: int,
    batch_rows: int = BATCH_ROWS,
) -> BoundedOutcome:
    """bounded.validate_changed_rows on the Spark session `spark`, whose catalog has `table`:
    at most `max_rows` rows of `table` that have not passed `suite_json` before, those waiting
    longest first (then by key), validated by Spark in batches of `batch_rows`; the rows of the
    batches that passed are recorded."""
    name = suite_json["name"]
    source, columns, key_column, selected = _names(suite_json, table, key)
    row_hash = f"xxhash64(to_json(struct({', '.join(columns)})))"
    literal = f"'{name}'"  # a plain identifier (checked by _names), safe as a literal

    spark.sql("create database if not exists quality")
    for state, schema in _STATE_TABLES.items():
        spark.sql(f"create table if not exists quality.{state} ({schema}) using parquet")
    fingerprint = suite_fingerprint(suite_json, table, ("spark", spark.version))
    stored = spark.sql(f"select fingerprint from quality.gx_suites where suite = {literal}"
                       ).collect()
    full = not stored or stored[0][0] != fingerprint
    if full:
        _replace(spark, "gx_passed_rows",
                 f"select * from quality.gx_passed_rows where suite <> {literal}")
        _replace(spark, "gx_suites",
                 f"select * from quality.gx_suites where suite <> {literal} "
                 f"union all select {literal}, '{fingerprint}'")

    total = spark.table(table).count()
    # The rows waiting for validation are exactly those not passed; each keeps the time it
    # started waiting.
    not_passed = (f"(select distinct {row_hash} as row_hash from {source}) n left anti join "
                  f"(select row_hash from quality.gx_passed_rows where suite = {literal}) p "
                  f"on n.row_hash = p.row_hash")
    _replace(spark, "gx_pending_rows",
             f"select * from quality.gx_pending_rows where suite <> {literal} "
             "union all "
             f"select {literal}, n.row_hash, coalesce(w.waiting_since, current_timestamp()) "
             f"from (select n.row_hash from {not_passed}) n left join "
             f"(select row_hash, waiting_since from quality.gx_pending_rows "
             f"where suite = {literal}) w on n.row_hash = w.row_hash")
    pending = (f"(select row_hash, waiting_since from quality.gx_pending_rows "
               f"where suite = {literal})")
    waiting = spark.sql(
        f"select count(*) from (select {row_hash} as row_hash from {source}) t "
        f"left semi join {pending} p on t.row_hash = p.row_hash").collect()[0][0]

    spark.sql(f"drop table if exists {selected}")
    spark.sql(
        f"create table {selected} using parquet as "
        f"select {', '.join(columns)}, {_HASH_COLUMN}, "
        f"cast((row_number() over (order by waiting_since, {key_column}, {_HASH_COLUMN}) - 1) "
        f"div {int(batch_rows)} as bigint) as {_BATCH_COLUMN} from ("
        f"select {', '.join(f't.{c}' for c in columns)}, t.{_HASH_COLUMN}, p.waiting_since "
        f"from (select {', '.join(columns)}, {row_hash} as {_HASH_COLUMN} from {source}) t "
        f"join {pending} p on t.{_HASH_COLUMN} = p.row_hash "
        f"order by p.waiting_since, t.{key_column}, t.{_HASH_COLUMN} "
        f"limit {int(max_rows)}) chosen")
    try:
        batches = [(row[0], row[1]) for row in spark.sql(
            f"select {_BATCH_COLUMN}, count(*) from {selected} group by 1 order by 1").collect()]
        outcomes: list[SuiteOutcome] = []
        passed: list[int] = []
        validator: SuiteValidator | None = None
        for batch, rows in batches:
            validator = validator or SuiteValidator(suite_json, key, SparkBatches)
            frame = spark.table(selected).where(f"{_BATCH_COLUMN} = {int(batch)}") \
                .select(*suite_columns(suite_json, key))
            outcome = validator.validate(frame, rows=rows)
            outcomes.append(outcome)
            if outcome.success:
                passed.append(int(batch))

        # Rows gone from the table (erased customers among them) leave no trace here.
        passed_now = (f" union all select distinct {literal}, {_HASH_COLUMN} from {selected} "
                      f"where {_BATCH_COLUMN} in ({', '.join(map(str, passed))})"
                      if passed else "")
        _replace(spark, "gx_passed_rows",
                 f"select * from quality.gx_passed_rows where suite <> {literal} union all "
                 "select p.suite, p.row_hash from (select * from quality.gx_passed_rows "
                 f"where suite = {literal}) p left semi join (select {row_hash} as row_hash "
                 f"from {source}) t on p.row_hash = t.row_hash" + passed_now)
        if passed:
            _replace(spark, "gx_pending_rows",
                     f"select * from quality.gx_pending_rows where suite <> {literal} union all "
                     f"select * from quality.gx_pending_rows w where w.suite = {literal} "
                     f"and not exists (select 1 from {selected} s where s.{_BATCH_COLUMN} in "
                     f"({', '.join(map(str, passed))}) and s.{_HASH_COLUMN} = w.row_hash)")
    finally:
        spark.sql(f"drop table if exists {selected}")

    merged = merge_outcomes(name, outcomes)
    return BoundedOutcome(merged, total - waiting, waiting - merged.rows, len(outcomes), full,
                          datasource=SparkBatches.kind)


def validate_changed_rows_in_spark_child(
    settings: SparkSettings,
    suite_json: dict[str, Any],
    table: str,
    key: str,
    *,
    max_rows: int,
    batch_rows: int = BATCH_ROWS,
) -> BoundedOutcome:
    """validate_changed_rows_in_spark in `python -m orchestration.defs.quality.in_spark`, on a
    Spark session of the child's own over the warehouse of `settings`; its JVM has exited when
    this returns. The request (suite, table, key, limits, the warehouse folder) and the result
    (counts and failing keys, no value) cross as JSON."""
    from orchestration.defs.dbt.engine_copy import run_spark_child

    _names(suite_json, table, key)  # before a JVM starts
    request = {"action": "gate", "suite": suite_json, "table": table, "key": key,
               "max_rows": max_rows, "batch_rows": batch_rows,
               **settings.to_request()}
    result = run_spark_child("orchestration.defs.quality.in_spark", request,
                             f"the Great Expectations gate {suite_json['name']} on Spark",
                             SparkGateError)
    return _from_json(result)


def build_data_docs_in_spark_child(settings: SparkSettings, site_dir: Path,
                                   directory: Path | None = None) -> Path:
    """gx.build_data_docs of the Spark warehouse of `settings` (the suites validated there
    through GX's Spark datasource) in `python -m orchestration.defs.quality.in_spark`, whose
    JVM has exited when this returns; the site is written to `site_dir`. Returns index.html."""
    from orchestration.defs.dbt.engine_copy import run_spark_child

    request = {"action": "docs", "site_dir": str(site_dir),
               "directory": str(directory) if directory else None,
               **settings.to_request()}
    result = run_spark_child("orchestration.defs.quality.in_spark", request,
                             "the Great Expectations Data Docs on Spark", SparkGateError)
    return Path(result["index"])


def _to_json(bounded: BoundedOutcome) -> dict[str, Any]:
    return dataclasses.asdict(bounded)


def _from_json(data: dict[str, Any]) -> BoundedOutcome:
    outcome = data["outcome"]
    return BoundedOutcome(
        SuiteOutcome(outcome["suite"], outcome["success"], outcome["rows"],
                     [ExpectationOutcome(**o) for o in outcome["outcomes"]]),
        data["rows_skipped_unchanged"], data["rows_pending"], data["batches"],
        data["full_validation"], data["datasource"])


def _child_work(request: dict[str, Any]) -> dict[str, Any]:
    from orchestration.lib.engines import spark_session

    spark = spark_session(SparkSettings.from_request(request))
    if request.get("action") == "docs":
        from orchestration.defs.quality.gx import build_data_docs

        directory = request["directory"]
        index = build_data_docs(Path("unused.duckdb"), Path(request["site_dir"]),
                                Path(directory) if directory else None, spark=spark)
        return {"index": str(index)}
    return _to_json(validate_changed_rows_in_spark(
        spark, request["suite"], request["table"], request["key"],
        max_rows=int(request["max_rows"]), batch_rows=int(request["batch_rows"])))


if __name__ == "__main__":
    from orchestration.defs.dbt.engine_copy import spark_child_main

    spark_child_main(_child_work)

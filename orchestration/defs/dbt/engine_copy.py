"""The dbt layer on PostgreSQL or Spark (WINBACK_ENGINE=postgres|spark): what crosses between the
engine and the local DuckDB warehouse file around each dbt step.

dbt builds every model, test and incremental state in the engine. The Python stages (ingest,
hygiene, BG/NBD, the GX gate, exports, serving, report) keep working on the local DuckDB file,
which they need anyway for DuckDB's file readers and export writers; around each dbt step this
module moves the data through orchestration/lib/engines.py in Arrow batches (PostgreSQL COPY in
and out, CSV written and parsed by Arrow; Spark through Parquet spools on local disk, both ways):

- before the step, the dbt sources it reads are written to the engine (raw.* and hygiene.*
  before the first step; predictions.* before the step after the statistics), with the run's
  as-of date (meta.run_context, state.write_run_context);
- after the step, every table the step built (models materialized as tables or incrementally,
  and seeds; not the staging views, which no Python stage reads) is copied back into the local
  file under the same schema and name, so the stages after dbt read what the engine computed.

On Spark the copies run in a short-lived child process (`python -m
orchestration.defs.dbt.engine_copy`): a local Spark warehouse's catalog is an embedded Derby
metastore, which one JVM at a time may open, and dbt-spark (`method: session`) starts a JVM of
its own in dagster-dbt's dbt subprocess. The child's JVM has exited, and released the
metastore, when the child returns; the run process never starts a JVM.

The copy back is the price of this design: each dbt table crosses once per run. The engine
stays the system of record for the models; the local file for ingest's ledger and quarantine,
hygiene and the export ledger (README, "Running on PostgreSQL or Spark").
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from orchestration.lib.engines import DuckDBEngine, Engine, copy_query, open_engine
from orchestration.lib.settings import DuckDBSettings, EngineSettings, Settings, SparkSettings
from orchestration.lib.warehouse import release

PREDICTIONS_SCHEMA = "predictions"
# dbt materializations whose relation is a table the Python stages may read.
COPIED_BACK = ("table", "incremental", "seed")


def on_engine(settings: Settings) -> bool:
    """Whether dbt builds somewhere other than the local DuckDB file."""
    return settings.engine.name != "duckdb"


def step_sources(manifest: Mapping[str, Any], *, after_statistics: bool) -> list[tuple[str, str]]:
    """(schema, table) of the dbt sources a step reads from the Python stages: the predictions
    for the step after the statistics, every other source for the first step."""
    return sorted({
        (source["schema"], source["identifier"]) for source in manifest["sources"].values()
        if (source["schema"] == PREDICTIONS_SCHEMA) == after_statistics
    })


def built_relations(nodes: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(schema, name) of the tables among dbt nodes (views and ephemeral models excluded)."""
    return sorted({
        (node["schema"], node.get("alias") or node["name"]) for node in nodes
        if node.get("config", {}).get("materialized") in COPIED_BACK
    })


class EngineCopyError(RuntimeError):
    """A copy between the engine and the local file failed (the message names the step, never
    a value: the tables hold personal data)."""


def _local(warehouse: Path, limits: DuckDBSettings, *, read_only: bool) -> DuckDBEngine:
    return DuckDBEngine(warehouse, read_only=read_only, limits=limits)


def _present(engine: Engine, relations: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    wanted = sorted(set(relations))
    tables = {schema: set(engine.tables(schema)) for schema in {s for s, _ in wanted}}
    return [(schema, table) for schema, table in wanted if table in tables[schema]]


def _copy(source: Engine, target: Engine, relations: Iterable[tuple[str, str]]) -> int:
    return sum(copy_query(source, f"select * from {source.relation(schema, table)}",
                          target, schema, table)
               for schema, table in relations)


def _push(warehouse: Path, limits: DuckDBSettings, engine_settings: EngineSettings,
          relations: list[tuple[str, str]]) -> int:
    local = _local(warehouse, limits, read_only=True)
    try:
        engine = open_engine(engine_settings)
        try:
            return _copy(local, engine, _present(local, relations))
        finally:
            engine.close()
    finally:
        local.close()


def _pull(warehouse: Path, limits: DuckDBSettings, engine_settings: EngineSettings,
          relations: list[tuple[str, str]]) -> int:
    engine = open_engine(engine_settings)
    try:
        present = _present(engine, relations)
        local = _local(warehouse, limits, read_only=False)
        try:
            return _copy(engine, local, present)
        finally:
            local.close()
    finally:
        engine.close()


_ACTIONS = {"push": _push, "pull": _pull}


def push_sources(settings: Settings, relations: Iterable[tuple[str, str]]) -> int:
    """Write the local tables `relations` to the engine (replacing them); returns the rows.
    A source table the local file does not have yet (an optional feed that never arrived) is
    left out, as dbt on DuckDB would find it missing too."""
    return _run("push", settings, relations)


def pull_tables(settings: Settings, relations: Iterable[tuple[str, str]]) -> int:
    """Copy the engine's tables `relations` into the local file (replacing them); a relation
    the engine does not have (a model whose build failed before creating it) is left out."""
    return _run("pull", settings, relations)


def _run(action: str, settings: Settings, relations: Iterable[tuple[str, str]]) -> int:
    relations = sorted(set(relations))
    if settings.engine.spark is None:
        return _ACTIONS[action](settings.warehouse, settings.duckdb, settings.engine, relations)
    return _in_child(action, settings, relations)


def _in_child(action: str, settings: Settings, relations: list[tuple[str, str]]) -> int:
    """`action` in `python -m orchestration.defs.dbt.engine_copy`, whose Spark session (and
    JVM) ends with it; returns the rows copied. The request goes on stdin as JSON (paths and
    limits, no secret)."""
    assert settings.engine.spark is not None
    limits = settings.duckdb
    request = {
        "action": action, "relations": relations, "warehouse": str(settings.warehouse),
        **settings.engine.spark.to_request(),
        "duckdb": {"memory_limit": limits.memory_limit, "threads": limits.threads,
                   "temp_directory": (str(limits.temp_directory)
                                      if limits.temp_directory else None)},
    }
    release(settings.warehouse)  # the child opens the file (lib/warehouse.py)
    return run_spark_child(
        "orchestration.defs.dbt.engine_copy", request,
        f"the Spark {action} of {len(relations)} tables", EngineCopyError)["rows"]


def run_spark_child(module: str, request: Mapping[str, Any], what: str,
                    error: type[Exception]) -> dict[str, Any]:
    """Run `python -m module` with `request` as JSON on stdin and return the JSON object of the
    last line of its stdout. The module runs its work on a Spark session of its own and ends
    with spark_child_main, so its JVM has exited, and the Derby metastore is free, when this
    returns. The caller releases the run's kept-open DuckDB file first if the child opens it.
    Spark's log goes to stderr (and log4j2's file), shown only when the child fails, as
    `error` naming `what`: its last lines name tables and steps, not values."""
    done = subprocess.run([sys.executable, "-m", module], input=json.dumps(request),
                          capture_output=True, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    result = None
    if done.returncode == 0 and lines:
        try:
            result = json.loads(lines[-1])
        except ValueError:
            result = None
    if not isinstance(result, dict):
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise error(f"{what} failed (child process exit code {done.returncode}):\n{tail}")
    return result


def spark_child_main(work: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """The body of a run_spark_child module: `work` on the JSON request from stdin, its result
    printed as the last line of stdout as JSON, then the JVM ended and waited for, and the
    process exits (status 1 and the traceback on stderr if `work` raised)."""
    try:
        print(json.dumps(work(json.loads(sys.stdin.read()))), flush=True)
        status = 0
    except BaseException:
        import traceback

        traceback.print_exc()
        status = 1
    _end_jvm_and_exit(status)


def _child_work(request: dict[str, Any]) -> dict[str, Any]:
    """The child of _in_child: one push or pull on a Spark session of its own (spark_child_main
    then ends the JVM, so that the Derby metastore is free when this process has exited)."""
    limits = request["duckdb"]
    rows = _ACTIONS[request["action"]](
        Path(request["warehouse"]),
        DuckDBSettings(memory_limit=limits["memory_limit"], threads=int(limits["threads"]),
                       temp_directory=(Path(limits["temp_directory"])
                                       if limits["temp_directory"] else None)),
        EngineSettings("spark", spark=SparkSettings.from_request(request)),
        [(schema, table) for schema, table in request["relations"]])
    return {"rows": rows}


def _end_jvm_and_exit(code: int) -> None:
    """pyspark's JVM (this process's child) exits when its stdin, a pipe from this process,
    reaches end of file: close every descriptor but the standard three, wait for the child to
    exit (so the metastore lock is released before our parent goes on), and exit."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.closerange(3, os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 1024)
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break
    os._exit(code)


if __name__ == "__main__":
    spark_child_main(_child_work)

"""The dbt layer on PostgreSQL (WINBACK_ENGINE=postgres): what crosses between the engine and the
local DuckDB warehouse file around each dbt step.

dbt builds every model, test and incremental state in the engine's database. The Python stages
(ingest, hygiene, BG/NBD, the GX gate, exports, serving, report) keep working on the local
DuckDB file, which they need anyway for DuckDB's file readers and export writers; around each
dbt step this module moves the data through orchestration/lib/engines.py in Arrow batches
(bounded memory; PostgreSQL COPY in and out, CSV written and parsed by Arrow):

- before the step, the dbt sources it reads are written to the engine (raw.* and hygiene.*
  before the first step; predictions.* before the step after the statistics), and the run's
  as-of date to meta.run_context there (state.write_run_context);
- after the step, every table the step built (models materialized as tables or incrementally,
  and seeds; not the staging views, which no Python stage reads) is copied back into the local
  file under the same schema and name, so the stages after dbt read what the engine computed.

The copy back is the price of this design: each dbt table crosses the wire once per run. The
engine stays the system of record for the models; the local file for ingest's ledger and
quarantine, hygiene and the export ledger (README, "Running on PostgreSQL").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from orchestration.lib.engines import DuckDBEngine, Engine, copy_query, open_engine
from orchestration.lib.settings import Settings

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


def _local(settings: Settings, *, read_only: bool) -> DuckDBEngine:
    return DuckDBEngine(settings.warehouse, read_only=read_only, limits=settings.duckdb)


def _present(engine: Engine, relations: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    wanted = sorted(set(relations))
    tables = {schema: set(engine.tables(schema)) for schema in {s for s, _ in wanted}}
    return [(schema, table) for schema, table in wanted if table in tables[schema]]


def _copy(source: Engine, target: Engine, relations: Iterable[tuple[str, str]]) -> int:
    return sum(copy_query(source, f'select * from "{schema}"."{table}"', target, schema, table)
               for schema, table in relations)


def push_sources(settings: Settings, relations: Iterable[tuple[str, str]]) -> int:
    """Write the local tables `relations` to the engine (replacing them); returns the rows.
    A source table the local file does not have yet (an optional feed that never arrived) is
    left out, as dbt on DuckDB would find it missing too."""
    local = _local(settings, read_only=True)
    try:
        engine = open_engine(settings.engine)
        try:
            return _copy(local, engine, _present(local, relations))
        finally:
            engine.close()
    finally:
        local.close()


def pull_tables(settings: Settings, relations: Iterable[tuple[str, str]]) -> int:
    """Copy the engine's tables `relations` into the local file (replacing them); a relation
    the engine does not have (a model whose build failed before creating it) is left out."""
    engine = open_engine(settings.engine)
    try:
        present = _present(engine, relations)
        local = _local(settings, read_only=False)
        try:
            return _copy(engine, local, present)
        finally:
            local.close()
    finally:
        engine.close()

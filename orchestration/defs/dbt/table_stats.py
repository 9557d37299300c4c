"""Row counts and column schemas on every dbt model's materialization, read from the warehouse.

dagster-dbt's `fetch_row_counts()` / `fetch_column_metadata()` query the warehouse while dbt is
still running; DuckDB admits one writer process and dbt holds the file until it exits, so those
queries cannot open it. Instead the step's events are held until dbt exits, then one read-only
connection counts every built model's rows (one UNION ALL query; views are counted through
their query) and reads their columns (one information_schema query), and the events go on with
`dagster/row_count` and `dagster/column_schema` added. Column descriptions come from the dbt
YAML, types from the warehouse. If dbt fails, the events of what it did build still go on before
its error is raised.
"""

from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_dbt import DbtCliInvocation

from orchestration.lib.warehouse import open_warehouse


def _relation(node: Mapping[str, Any]) -> tuple[str, str]:
    return node["schema"], node.get("alias") or node["name"]


def read_table_stats(
    warehouse: Path, relations: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], tuple[int, list[tuple[str, str]]]]:
    """(schema, name) -> (row count, [(column, type)]) for the relations that exist."""
    wanted = sorted(set(relations))
    if not wanted:
        return {}
    with open_warehouse(warehouse, read_only=True) as con:
        columns: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for schema, name, column, data_type in con.execute(
            "SELECT table_schema, table_name, column_name, data_type "
            "FROM information_schema.columns WHERE (table_schema, table_name) IN "
            f"(SELECT * FROM (VALUES {', '.join(['(?, ?)'] * len(wanted))})) "
            "ORDER BY table_schema, table_name, ordinal_position",
            [part for relation in wanted for part in relation],
        ).fetchall():
            columns.setdefault((schema, name), []).append((column, data_type))
        present = [r for r in wanted if r in columns]
        if not present:
            return {}
        counts = con.execute(" UNION ALL ".join(
            f"SELECT {i} AS n, count(*) FROM \"{schema}\".\"{name}\""
            for i, (schema, name) in enumerate(present)
        )).fetchall()
    return {present[i]: (rows, columns[present[i]]) for i, rows in counts}


def _column_schema(node: Mapping[str, Any], columns: list[tuple[str, str]]) -> dg.TableSchema:
    documented = node.get("columns", {})
    return dg.TableSchema(columns=[
        dg.TableColumn(name=name, type=data_type.lower(),
                       description=documented.get(name, {}).get("description") or None)
        for name, data_type in columns
    ])


AfterDbt = Callable[[list[Mapping[str, Any]]], None]


class DbtResultMissing(Exception):
    """dbt exited successfully, but no result event reached Dagster for nodes it selected."""


def with_table_stats(
    invocation: DbtCliInvocation, warehouse: Path, warn: Callable[[str], None],
    after_dbt: AfterDbt | None = None, expected: Mapping[str, str] | None = None,
) -> Iterator[Any]:
    """The invocation's events, each model's materialization with its row count and columns.
    `after_dbt`, when given, is called with the manifest nodes dbt built once dbt has exited,
    before the warehouse is read (engine_copy.py brings the engine's tables into the file).

    `expected` maps the output names the step must yield (its selected models and dbt tests) to
    their asset (check) keys. dagster-dbt's outputs are optional: a model whose result event
    never arrived (a line of dbt's output it could not parse) would not be yielded, and Dagster
    would skip everything downstream of it while the run succeeds; a test's missing result is
    only an info line. So once the events that did arrive have gone on, a missing one fails the
    step, naming the nodes (asset and check keys only, no data)."""
    events: list[Any] = []
    try:
        events.extend(invocation.stream())
    except Exception:
        yield from _enriched(events, invocation.manifest, warehouse, warn, after_dbt)
        raise
    yield from _enriched(events, invocation.manifest, warehouse, warn, after_dbt)
    arrived = {event.output_name for event in events if isinstance(event, dg.Output)} | {
        dg.AssetCheckKey(event.asset_key, event.check_name).to_user_string() for event in events
        if isinstance(event, dg.AssetCheckResult) and event.asset_key and event.check_name}
    missing = sorted(key for name, key in (expected or {}).items()
                     if name not in arrived and key not in arrived)
    if missing:
        raise DbtResultMissing(
            f"dbt finished, but no result reached Dagster for {len(missing)} of the "
            f"{len(expected)} models and tests this step selected: {', '.join(missing)}. "
            "What they built may be there, but the steps downstream would be skipped or "
            "unchecked, so the step fails. A line of dbt's output that is not one of its JSON "
            "log lines hid their events (dbt.log in the invocation's target folder has them).")


def _enriched(events: list[Any], manifest: Mapping[str, Any], warehouse: Path,
              warn: Callable[[str], None], after_dbt: AfterDbt | None) -> Iterator[Any]:
    nodes = {
        id(event): manifest["nodes"][event.metadata["unique_id"].value]
        for event in events
        if isinstance(event, dg.Output | dg.AssetMaterialization)
        and "unique_id" in event.metadata
    }
    if after_dbt is not None:
        after_dbt(list(nodes.values()))
    try:
        stats = read_table_stats(warehouse, map(_relation, nodes.values()))
    except duckdb.Error as exc:
        warn(f"Row counts and columns of the dbt models could not be read: {exc}")
        stats = {}
    for event in events:
        node = nodes.get(id(event))
        found = stats.get(_relation(node)) if node else None
        if found:
            rows, columns = found
            event = event.with_metadata({
                **event.metadata,
                "dagster/row_count": rows,
                "dagster/column_schema": _column_schema(node, columns),
            })
        yield event

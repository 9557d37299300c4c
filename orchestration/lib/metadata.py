"""Metadata tables for the Dagster UI: counts by reason and lists of records shown as tables
(`MetadataValue.table` with a schema) instead of JSON blobs. Counts and names only, never row
values."""

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

_TYPES = {bool: "bool", int: "int", float: "float", str: "string"}


def counts_table(
    counts: Mapping[str, int], label: str = "reason", count: str = "rows"
) -> dg.TableMetadataValue:
    """One row per key, sorted by key: e.g. quarantined rows by reason."""
    return dg.MetadataValue.table(
        records=[dg.TableRecord({label: key, count: counts[key]}) for key in sorted(counts)],
        schema=dg.TableSchema(columns=[dg.TableColumn(label, "string"),
                                       dg.TableColumn(count, "int")]),
    )


def records_table(
    records: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, type]]
) -> dg.TableMetadataValue:
    """`records` (mappings with exactly these columns) under a schema of (name, Python type)."""
    names = [name for name, _ in columns]
    return dg.MetadataValue.table(
        records=[dg.TableRecord({name: record[name] for name in names}) for record in records],
        schema=dg.TableSchema(columns=[dg.TableColumn(name, _TYPES[kind])
                                       for name, kind in columns]),
    )

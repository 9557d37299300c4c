"""Metadata tables: counts by key and records under a typed schema."""

import dagster as dg
from metadata_tables import table_counts, table_rows

from orchestration.lib.metadata import counts_table, records_table


def test_counts_become_a_sorted_two_column_table():
    table = counts_table({"suppressed": 2, "erased": 1}, count="customers")
    assert [c.name for c in table.schema.columns] == ["reason", "customers"]
    assert [c.type for c in table.schema.columns] == ["string", "int"]
    assert table_rows(table) == [{"reason": "erased", "customers": 1},
                                 {"reason": "suppressed", "customers": 2}]
    assert table_counts(counts_table({})) == {}


def test_records_keep_only_the_declared_columns_in_order():
    table = records_table([{"loaded": 3, "file": "orders/a.csv", "secret": "x"}],
                          [("file", str), ("loaded", int)])
    assert table.schema == dg.TableSchema(columns=[dg.TableColumn("file", "string"),
                                                   dg.TableColumn("loaded", "int")])
    assert table_rows(table) == [{"file": "orders/a.csv", "loaded": 3}]

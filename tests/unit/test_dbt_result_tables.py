"""dbt reuses the type tester of its query results (orchestration/defs/dbt/result_tables.py):
each result must still get the column types and values dbt gives it without the reuse."""

import datetime as dt

import pytest
from dbt_common.clients import agate_helper

from orchestration.defs.dbt.result_tables import reuse_type_testers

# Results as a macro's run_query gets them, in an order that alternates which columns are text:
# a text '005' stays text, a number or date in another result is typed as one.
RESULTS = [
    ([{"a": "005", "b": 1}], ["a", "b"]),
    ([{"a": 5, "b": "005"}], ["a", "b"]),
    ([{"a": "null", "b": ""}, {"a": None, "b": None}], ["a", "b"]),
    ([{"day": dt.date(2026, 12, 5), "n": 3, "flag": True}], ["day", "n", "flag"]),
    ([{"day": "2026-12-05", "n": "3", "flag": "true"}], ["day", "n", "flag"]),
    ([{"a": 7, "b": 2.5}], ["a", "b"]),
    ([{"a": "005", "b": 1}], ["a", "b"]),
]


def _typed(rows, columns):
    table = agate_helper.table_from_data_flat(rows, columns)
    return ([type(c.data_type).__name__ for c in table.columns],
            [tuple(r.values()) for r in table.rows])


def test_every_result_gets_the_types_and_values_dbt_gives_it(monkeypatch):
    expected = [_typed(rows, columns) for rows, columns in RESULTS]
    monkeypatch.setattr(agate_helper, "build_type_tester", agate_helper.build_type_tester)
    reuse_type_testers()
    reuse_type_testers()  # the server and the launcher may both call it: once is enough
    assert [_typed(rows, columns) for rows, columns in RESULTS] == expected
    assert expected[0][0] == ["Text", "Integer"] and expected[1][0] == ["Integer", "Text"]


def test_one_tester_per_set_of_text_columns(monkeypatch):
    monkeypatch.setattr(agate_helper, "build_type_tester", agate_helper.build_type_tester)
    reuse_type_testers()
    first = agate_helper.build_type_tester({"a", "b"}, string_null_values=())
    assert agate_helper.build_type_tester(["b", "a"], string_null_values=()) is first
    assert agate_helper.build_type_tester(["a"], string_null_values=()) is not first
    assert agate_helper.build_type_tester(["a", "b"]) is not first  # other null values


@pytest.mark.parametrize("text_columns", [(), ("a",)])
def test_a_reused_tester_forces_the_same_columns(monkeypatch, text_columns):
    original = agate_helper.build_type_tester(text_columns)
    monkeypatch.setattr(agate_helper, "build_type_tester", agate_helper.build_type_tester)
    reuse_type_testers()
    reused = agate_helper.build_type_tester(text_columns)
    assert sorted(reused._force) == sorted(original._force)

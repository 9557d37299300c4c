"""Row counts and column schemas added to the dbt models' materializations after dbt exits."""

import dagster as dg
import duckdb
import pytest

from orchestration.defs.dbt.table_stats import (
    DbtResultMissing,
    read_table_stats,
    with_table_stats,
)

MANIFEST = {"nodes": {
    "model.winback.orders": {"schema": "staging", "alias": "orders", "name": "orders",
                             "columns": {"order_id": {"description": "The order."}}},
    "model.winback.gone": {"schema": "staging", "alias": "gone", "name": "gone", "columns": {}},
}}


class _Invocation:
    """What with_table_stats needs of a DbtCliInvocation: the events and the manifest."""

    def __init__(self, events, error=None):
        self.manifest, self._events, self._error = MANIFEST, events, error

    def stream(self):
        yield from self._events
        if self._error:
            raise self._error


@pytest.fixture
def warehouse(tmp_path):
    path = tmp_path / "wh.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA staging")
        con.execute("CREATE TABLE staging.raw_orders AS SELECT range AS order_id, 'x' AS note "
                    "FROM range(5)")
        con.execute("CREATE VIEW staging.orders AS SELECT order_id FROM staging.raw_orders "
                    "WHERE order_id < 3")
    return path


def _output(unique_id):
    return dg.Output(None, output_name=unique_id.split(".")[-1],
                     metadata={"unique_id": unique_id})


def test_tables_and_views_are_counted_in_one_pass_and_missing_ones_left_out(warehouse):
    stats = read_table_stats(warehouse, [("staging", "orders"), ("staging", "raw_orders"),
                                         ("staging", "gone")])
    assert stats == {
        ("staging", "orders"): (3, [("order_id", "BIGINT")]),
        ("staging", "raw_orders"): (5, [("order_id", "BIGINT"), ("note", "VARCHAR")]),
    }


def test_each_model_output_gets_its_row_count_and_documented_columns(warehouse):
    check = dg.AssetCheckResult(passed=True)
    events = list(with_table_stats(
        _Invocation([_output("model.winback.orders"), check, _output("model.winback.gone")]),
        warehouse, pytest.fail))
    orders, passed, gone = events
    assert orders.metadata["dagster/row_count"].value == 3
    assert orders.metadata["dagster/column_schema"].schema == dg.TableSchema(
        columns=[dg.TableColumn("order_id", "bigint", description="The order.")])
    assert orders.metadata["unique_id"].value == "model.winback.orders"
    assert passed is check and "dagster/row_count" not in gone.metadata


def test_when_dbt_fails_what_it_built_is_still_recorded_before_the_error(warehouse):
    events = []
    with pytest.raises(RuntimeError, match="dbt build failed"):
        for event in with_table_stats(
            _Invocation([_output("model.winback.orders")], RuntimeError("dbt build failed")),
            warehouse, pytest.fail,
        ):
            events.append(event)
    assert events[0].metadata["dagster/row_count"].value == 3


def test_an_unreadable_warehouse_is_a_warning_and_the_events_go_on(tmp_path):
    (tmp_path / "wh.duckdb").write_text("not a database")
    warnings = []
    events = list(with_table_stats(_Invocation([_output("model.winback.orders")]),
                                   tmp_path / "wh.duckdb", warnings.append))
    assert len(events) == 1 and "dagster/row_count" not in events[0].metadata
    assert warnings and "could not be read" in warnings[0]


def test_a_selected_model_whose_result_never_arrived_fails_the_step_after_the_others(warehouse):
    # dbt exited 0, but the result line of `gone` was lost (e.g. a JVM log line written into
    # it): without the guard its optional output is simply not yielded and Dagster skips
    # everything downstream while the run succeeds.
    expected = {"orders": "staging/orders", "gone": "staging/gone"}
    events = []
    with pytest.raises(DbtResultMissing,
                       match=r"1 of the 2 models and tests .*: staging/gone\. ") as raised:
        for event in with_table_stats(_Invocation([_output("model.winback.orders")]),
                                      warehouse, pytest.fail, expected=expected):
            events.append(event)
    assert [event.output_name for event in events] == ["orders"]
    assert events[0].metadata["dagster/row_count"].value == 3
    assert "staging/orders" not in str(raised.value)


def test_a_selected_dbt_test_whose_result_never_arrived_fails_the_step(warehouse):
    # A lost test result is otherwise only an info line: the check is silently unevaluated.
    orders = dg.AssetKey(["staging", "orders"])
    passed = dg.AssetCheckResult(passed=True, asset_key=orders, check_name="unique_order_id")
    expected = {"orders": "staging/orders", "orders_unique": "staging/orders:unique_order_id",
                "orders_not_null": "staging/orders:not_null_order_id"}
    with pytest.raises(DbtResultMissing,
                       match=r"1 of the 3 .*: staging/orders:not_null_order_id\. "):
        list(with_table_stats(_Invocation([_output("model.winback.orders"), passed]),
                              warehouse, pytest.fail, expected=expected))


def test_every_selected_model_with_its_result_passes_the_guard(warehouse):
    events = list(with_table_stats(
        _Invocation([_output("model.winback.orders"), _output("model.winback.gone")]),
        warehouse, pytest.fail, expected={"orders": "staging/orders", "gone": "staging/gone"}))
    assert [event.output_name for event in events] == ["orders", "gone"]

"""The engine interface: Arrow batches out, bulk writes in, and values normalised so that the same
mart compares equal whichever engine built it."""

import datetime as dt
from decimal import Decimal

import pyarrow as pa

from orchestration.lib.engines import DuckDBEngine, copy_query, normalise_value, normalised_rows


def test_duckdb_reads_in_batches_with_the_schema_even_without_rows(tmp_path):
    engine = DuckDBEngine(tmp_path / "wh.duckdb")
    try:
        engine.execute("create table t as select range as id, 'x' || range as name from range(5)")
        reader = engine.read_batches("select * from t order by id", batch_rows=2)
        assert [b.num_rows for b in reader] == [2, 2, 1]
        empty = engine.read_batches("select * from t where id < 0")
        assert empty.schema.names == ["id", "name"] and empty.read_all().num_rows == 0
    finally:
        engine.close()


def test_a_copy_recreates_the_table_with_its_types_and_rows(tmp_path):
    source = DuckDBEngine(tmp_path / "a.duckdb")
    target = DuckDBEngine(tmp_path / "b.duckdb")
    try:
        source.execute("create table t (id varchar, amount decimal(18, 2), seen_at timestamptz, "
                       "ok boolean)")
        source.execute("insert into t values ('a', 1.50, '2026-06-30 10:00:00+02', true), "
                       "('b', null, null, false)")
        assert copy_query(source, "select * from t", target, "raw", "t") == 2
        assert target.tables("raw") == ["t"]
        copied = target.read_batches("select * from raw.t order by id").read_all()
        assert str(copied.schema.field("amount").type) == "decimal128(18, 2)"
        assert copied.column("amount").to_pylist() == [Decimal("1.50"), None]
        # Copying again replaces the table rather than appending.
        copy_query(source, "select * from t", target, "raw", "t")
        assert target.read_batches("select count(*) from raw.t").read_all()[0][0].as_py() == 2
    finally:
        source.close()
        target.close()


def test_values_of_different_engine_types_normalise_to_the_same_text():
    cet = dt.timezone(dt.timedelta(hours=1))
    assert normalise_value(Decimal("2.50")) == normalise_value(2.5) == "2.500000"
    assert normalise_value(3) == normalise_value(3.0) == "3.000000"
    assert normalise_value(2 / 3) == normalise_value(0.6666666666666667) == "0.666667"
    assert normalise_value(-1e-9) == "0.000000"
    assert normalise_value(dt.datetime(2026, 6, 30, 1, tzinfo=cet)) == normalise_value(
        dt.datetime(2026, 6, 30, 0)) == "2026-06-30 00:00:00"
    assert (normalise_value(True), normalise_value(None)) == ("true", "\\N")
    assert normalise_value(Decimal("2.5")) != normalise_value(2.51)


def test_rows_come_out_in_column_name_order_whatever_the_select_order():
    one = pa.RecordBatch.from_pydict({"b": [1], "a": ["x"]})
    other = pa.RecordBatch.from_pydict({"A": ["x"], "b": [1.0]})
    assert list(normalised_rows([one])) == list(normalised_rows([other])) == [("x", "1.000000")]

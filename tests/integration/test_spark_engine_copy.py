"""The Spark side of the engine interface (orchestration/lib/engines.py, SparkEngine) writes and
reads a table in bounded memory and keeps its types, values and row order.

Before each dbt step on Spark the copy child (orchestration/defs/dbt/engine_copy.py) writes the
step's sources (raw.order_items: 1.6M rows at 1M orders, 16M at 10M), and after it reads dbt's
tables back. A copy that gathers the whole table in the Python process (and in the JVM) first
grows with the history until the copy child dies (collecting 1.2M rows with toArrow killed the
JVM in CI); the batches must stream both ways.

The Spark session runs in a child process (this file run as a script): a process has one
session, whose warehouse and metastore cannot be changed once it is up, and other tests may
have started one. The child measures its own memory (RSS and pyarrow's allocated bytes) as the
batches pass and prints what it saw as JSON.

Needs the engines extra (pyspark) and Java; locally a missing one skips the tests with the
reason, under CI=true they fail.
"""

from __future__ import annotations

import datetime as dt
import gc
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

pytestmark = pytest.mark.integration

BATCH_ROWS = 50_000
BATCHES = 24  # 1.2M rows, ~190 MB of Arrow data
PADDING = "-" + "x" * 110  # a wide text column, so that the table dwarfs the process's noise


def _batch(index: int):
    """Rows index*BATCH_ROWS... with every column type the copies carry (nulls included)."""
    ids = pa.array(range(index * BATCH_ROWS, (index + 1) * BATCH_ROWS), pa.int64())
    base = dt.datetime(2026, 11, 28, 12, 30, 15, 123456)
    seconds = pc.cast(ids, pa.int64())
    return pa.record_batch({
        "order_id": ids,
        "email": pc.binary_join_element_wise(pa.scalar("user"), pc.cast(ids, pa.string()),
                                             pa.scalar("@example.com"), ""),
        "note": pc.binary_join_element_wise(pc.cast(ids, pa.string()), pa.scalar(PADDING), ""),
        "placed_at": pc.add(pa.scalar(base.replace(tzinfo=dt.UTC), pa.timestamp("us", "UTC")),
                            pc.cast(pc.multiply(seconds, 1_000_000), pa.duration("us"))),
        "local_time": pc.add(pa.scalar(base, pa.timestamp("us")),
                             pc.cast(pc.multiply(seconds, 1_000_000), pa.duration("us"))),
        "amount": pc.cast(pc.divide(pc.cast(ids, pa.float64()), 100.0), pa.decimal128(12, 2)),
        "day": pc.cast(pc.add(pc.cast(pc.divide(ids, 1000), pa.int32()),
                              pa.scalar(20_000, pa.int32())), pa.date32()),
        "ok": pc.equal(pc.bit_wise_and(ids, 1), 0),
        "score": pc.if_else(pc.equal(pc.bit_wise_and(ids, 7), 0), pa.scalar(None, pa.float64()),
                            pc.divide(pc.cast(ids, pa.float64()), 3.0)),
    })


def _rss(field: str) -> int:
    """VmRSS or VmHWM (the peak since the last reset) of this process, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise LookupError(field)


def _growth(step):
    """Run `step`; how far this process's RSS peaked above its RSS before (Linux: writing 5 to
    /proc/self/clear_refs resets the peak)."""
    Path("/proc/self/clear_refs").write_text("5")
    before = _rss("VmRSS")
    result = step()
    return result, _rss("VmHWM") - before


def _columns_and_row(table: pa.Table) -> dict:
    """The column names of a one-row table and its values, in column order."""
    return {"columns": table.column_names, "row": [column[0].as_py() for column in table.columns]}


def _child(warehouse: Path) -> None:
    """Write BATCHES generated batches through SparkEngine.write_table, read the table back
    through read_batches; print how far this process's memory grew in each, the types and the
    first row."""
    from orchestration.lib.engines import SparkEngine
    from orchestration.lib.settings import load_engine_settings

    # The suite's JVM options (tests/conftest.py) come in this child's environment.
    engine = SparkEngine(load_engine_settings({**os.environ, "WINBACK_ENGINE": "spark",
                                               "WINBACK_SPARK_WAREHOUSE": str(warehouse)}).spark)
    engine.write_table("raw", "warm_up", pa.Table.from_batches([_batch(0).slice(0, 10)]))
    table_bytes = _batch(0).nbytes * BATCHES
    schema = _batch(0).schema

    def write() -> int:
        reader = pa.RecordBatchReader.from_batches(schema, (_batch(i) for i in range(BATCHES)))
        return engine.write_table("raw", "orders", reader)

    written, write_growth = _growth(write)
    gc.collect()
    spark_types = {f.name: f.dataType.simpleString()
                   for f in engine.spark.table("`raw`.`orders`").schema.fields}

    def read() -> dict:
        out = {"rows": 0, "checksum": 0, "first": None, "descending": True, "previous": None,
               "arrow_peak": 0}
        arrow_before = pa.total_allocated_bytes()
        batches = engine.read_batches(
            "select * from `raw`.`orders` order by order_id desc", BATCH_ROWS)
        out["schema"] = {f.name: str(f.type) for f in batches.schema}
        for batch in batches:
            ids = batch.column("order_id").to_pylist()
            out["rows"] += batch.num_rows
            out["checksum"] += sum(ids)
            out["max_batch"] = max(out.get("max_batch", 0), batch.num_rows)
            out["arrow_peak"] = max(out["arrow_peak"], pa.total_allocated_bytes() - arrow_before)
            if out["previous"] is not None and out["previous"] <= ids[0]:
                out["descending"] = False
            if any(a <= b for a, b in zip(ids, ids[1:], strict=False)):
                out["descending"] = False
            out["previous"] = ids[-1]
            if 0 in ids:
                out["first"] = {k: str(v) for k, v in batch.slice(ids.index(0), 1)
                                .to_pylist()[0].items()}
        return out

    reading, read_growth = _growth(read)
    names = _columns_and_row(engine.read_batches(
        "select count(*), 1 as n, 2 as n from `raw`.`orders` where order_id < 0").read_all())
    engine.spark.stop()
    print(json.dumps({
        "table_bytes": table_bytes, "growth": {"write": write_growth, "read": read_growth},
        "written": written, "read": reading["rows"], "checksum": reading["checksum"],
        "descending": reading["descending"], "max_batch": reading["max_batch"],
        "arrow_peak": reading["arrow_peak"],
        "names": names,
        "spark_types": spark_types, "schema": reading["schema"], "row0": reading["first"]}))


@pytest.fixture(scope="module")
def copied(tmp_path_factory) -> dict:
    from engine_parity import unavailable  # tests/ is not on the child's path

    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        unavailable("no Java (openjdk-17-jre-headless) for Spark")
    if importlib.util.find_spec("pyspark") is None:
        unavailable("pyspark is not installed (make test EXTRAS=dev,engines)")
    warehouse = tmp_path_factory.mktemp("spark_copy") / "spark"
    done = subprocess.run([sys.executable, __file__, str(warehouse)], capture_output=True,
                          text=True, timeout=1800, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_write_to_spark_streams_its_batches_and_keeps_the_types_and_values(copied):
    # The whole table in this process at once would grow it by the table's size or more.
    assert copied["growth"]["write"] < copied["table_bytes"] / 4, copied
    total = BATCHES * BATCH_ROWS
    assert copied["written"] == copied["read"] == total
    assert copied["checksum"] == total * (total - 1) // 2
    # Zoneless timestamps become Spark TIMESTAMPs read as UTC (as createDataFrame made them),
    # not TIMESTAMP_NTZ; they come back as UTC timestamps, like every timestamp.
    assert copied["spark_types"] == {
        "order_id": "bigint", "email": "string", "note": "string", "placed_at": "timestamp",
        "local_time": "timestamp", "amount": "decimal(12,2)", "day": "date",
        "ok": "boolean", "score": "double"}
    assert copied["schema"]["placed_at"] == "timestamp[us, tz=UTC]"
    assert copied["schema"]["local_time"] == "timestamp[us, tz=UTC]"
    assert copied["schema"]["amount"] == "decimal128(12, 2)"
    assert copied["row0"] == {
        "order_id": "0", "email": "user0@example.com", "note": "0" + PADDING,
        "placed_at": "2026-11-28 12:30:15.123456+00:00",
        "local_time": "2026-11-28 12:30:15.123456+00:00",
        "amount": str(Decimal("0.00")), "day": "2024-10-04", "ok": "True", "score": "None"}


def test_a_read_from_spark_streams_in_bounded_batches_and_keeps_the_query_order(copied):
    # Collecting the result first (toArrow) holds the whole table here (and in the JVM): Arrow
    # memory at least the table's size while the batches are read, the process as much more.
    assert copied["arrow_peak"] < copied["table_bytes"] / 4, copied
    assert copied["growth"]["read"] < copied["table_bytes"] / 2, copied
    assert copied["max_batch"] <= BATCH_ROWS
    assert copied["descending"], "the rows did not come back in the query's order"
    # Any result Spark can compute, unusual and repeated column names included.
    assert copied["names"] == {"columns": ["count(1)", "n", "n"], "row": [0, 1, 2]}


if __name__ == "__main__":
    _child(Path(sys.argv[1]))

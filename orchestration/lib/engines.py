"""One small interface to the warehouse engines (WINBACK_ENGINE): read a query in Arrow batches,
bulk-write a table, run a statement. DuckDB reads and writes Arrow natively, PostgreSQL writes
with COPY, Spark through Parquet spools on local disk, both ways.

The dbt layer and the whole pipeline run on all three (orchestration/defs/dbt/engine_copy.py
moves dbt's sources in and its tables out through this interface), and the PostgreSQL
comparison test (tests/integration/test_engine_parity_postgres.py) copies the tables dbt reads
as sources from a DuckDB run through it. The pyspark and psycopg2 imports are deferred: DuckDB
needs neither.
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pa_parquet

from orchestration.lib.settings import (
    DuckDBSettings,
    EngineSettings,
    PostgresSettings,
    SparkSettings,
)


class Engine(Protocol):
    name: str

    def read_batches(self, query: str, batch_rows: int = 50_000) -> pa.RecordBatchReader:
        """The rows of `query` in Arrow batches of at most `batch_rows` rows (the reader has the
        schema even when there is no row)."""
        ...

    def write_table(self, schema: str, table: str,
                    data: pa.Table | pa.RecordBatchReader) -> int:
        """Create (or replace) `schema.table` with `data` (a reader is consumed batch by batch,
        so memory stays bounded); returns the rows written."""
        ...

    def execute(self, statement: str) -> None: ...

    def relation(self, schema: str, table: str) -> str:
        """`schema.table` quoted as this engine's SQL quotes names."""
        ...

    def tables(self, schema: str) -> list[str]:
        """The tables and views of `schema`, sorted."""
        ...

    def close(self) -> None: ...


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _relation(schema: str, table: str) -> str:
    """schema.table in standard SQL quoting (DuckDB, PostgreSQL)."""
    return f"{_quote(schema)}.{_quote(table)}"


class DuckDBEngine:
    name = "duckdb"

    def __init__(self, path: Path, *, read_only: bool = False,
                 limits: DuckDBSettings | None = None) -> None:
        from orchestration.lib.warehouse import connect

        self.con = connect(path, read_only=read_only, limits=limits)

    def read_batches(self, query: str, batch_rows: int = 50_000) -> pa.RecordBatchReader:
        return self.con.sql(query).to_arrow_reader(batch_rows)

    relation = staticmethod(_relation)

    def write_table(self, schema: str, table: str,
                    data: pa.Table | pa.RecordBatchReader) -> int:
        target = self.relation(schema, table)
        self.con.execute(f"create schema if not exists {_quote(schema)}")
        self.con.register("_winback_write", data)
        try:
            self.con.execute(f"create or replace table {target} as select * from _winback_write")
        finally:
            self.con.unregister("_winback_write")
        return int(self.con.execute(f"select count(*) from {target}").fetchall()[0][0])

    def execute(self, statement: str) -> None:
        self.con.execute(statement)

    def tables(self, schema: str) -> list[str]:
        rows = self.con.execute(
            "select table_name from information_schema.tables where table_schema = ? "
            "order by table_name", [schema]).fetchall()
        return [row[0] for row in rows]

    def close(self) -> None:
        self.con.close()


def _postgres_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "text"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_int8(arrow_type) or pa.types.is_int16(arrow_type):
        return "smallint"
    if pa.types.is_int32(arrow_type):
        return "integer"
    if pa.types.is_integer(arrow_type):
        return "bigint"
    if pa.types.is_float32(arrow_type):
        return "real"
    if pa.types.is_floating(arrow_type):
        return "double precision"
    if pa.types.is_decimal(arrow_type):
        return f"numeric({arrow_type.precision}, {arrow_type.scale})"
    if pa.types.is_date(arrow_type):
        return "date"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp with time zone" if arrow_type.tz else "timestamp"
    raise TypeError(f"no PostgreSQL type for the Arrow type {arrow_type}")


# PostgreSQL type oids -> Arrow (numeric takes its precision and scale from the description).
_OID_TYPES = {16: pa.bool_(), 20: pa.int64(), 21: pa.int16(), 23: pa.int32(), 25: pa.string(),
              1043: pa.string(), 1042: pa.string(), 700: pa.float32(), 701: pa.float64(),
              1082: pa.date32(), 1114: pa.timestamp("us"), 1184: pa.timestamp("us", tz="UTC")}


def _arrow_type(column: Any) -> pa.DataType:
    if column.type_code == 1700:
        if column.precision is None or column.precision > 38:
            return pa.decimal128(38, 9)
        return pa.decimal128(column.precision, column.scale or 0)
    if column.type_code not in _OID_TYPES:
        raise TypeError(f"no Arrow type for the PostgreSQL column {column.name} "
                        f"(type oid {column.type_code})")
    return _OID_TYPES[column.type_code]


_CSV_OPTIONS = pa_csv.WriteOptions(include_header=False, quoting_style="needed")
# Reading PostgreSQL's COPY ... TO STDOUT (FORMAT csv): no header, quoted fields may span lines.
_CSV_PARSE = pa_csv.ParseOptions(newlines_in_values=True)


def _csv_reader(source: Any, schema: pa.Schema) -> pa_csv.CSVStreamingReader:
    """Arrow's streaming CSV reader for PostgreSQL's CSV of rows of `schema` (no type inferred)."""
    return pa_csv.open_csv(
        source, read_options=pa_csv.ReadOptions(column_names=schema.names, block_size=4 << 20),
        parse_options=_CSV_PARSE,
        convert_options=pa_csv.ConvertOptions(
            column_types=dict(zip(schema.names, schema.types, strict=True)),
            true_values=["t"], false_values=["f"], null_values=[""],
            strings_can_be_null=True, quoted_strings_can_be_null=False))


class PostgresEngine:
    """psycopg2: COPY ... TO STDOUT (CSV, parsed by Arrow) reads, COPY ... FROM STDIN writes."""

    name = "postgres"

    def __init__(self, settings: PostgresSettings) -> None:
        import psycopg2

        self.con = psycopg2.connect(**settings.dsn())
        self.con.autocommit = False
        with self.con.cursor() as cur:
            cur.execute("set time zone 'UTC'")
        self.con.commit()

    def read_batches(self, query: str, batch_rows: int = 50_000) -> pa.RecordBatchReader:
        """`copy (query) to stdout` in CSV into a temporary file (disk, not memory), then Arrow's
        CSV reader (C++) parses it block by block. The Arrow types come from the query's columns
        (_arrow_type), so nothing is inferred: in PostgreSQL's CSV a null is the unquoted empty
        field and an empty string is "", booleans are t/f, timestamps ISO with a +00 offset
        (the session is in UTC), floats in their shortest exact form. The COPY is over (and
        committed) before the first batch, so a reader left half-read holds no connection."""
        spool = tempfile.TemporaryFile(prefix="winback-copy-")  # noqa: SIM115 - closed by batches()
        try:
            with self.con.cursor() as cur:
                cur.execute(f"select * from ({query}) as _winback_read limit 0")
                schema = pa.schema([(c.name, _arrow_type(c)) for c in cur.description])
                cur.copy_expert(f"copy ({query}) to stdout with (format csv)", spool)
            self.con.commit()
        except BaseException:
            self.con.rollback()
            spool.close()
            raise
        empty = spool.tell() == 0  # Arrow's reader refuses an empty file
        spool.seek(0)

        def batches() -> Iterator[pa.RecordBatch]:
            with spool:
                if empty:
                    return
                for batch in _csv_reader(spool, schema):
                    for start in range(0, batch.num_rows, batch_rows):
                        yield batch.slice(start, batch_rows)

        return pa.RecordBatchReader.from_batches(schema, batches())

    relation = staticmethod(_relation)

    def write_table(self, schema: str, table: str,
                    data: pa.Table | pa.RecordBatchReader) -> int:
        """In one transaction: a reader of the table being replaced sees the old rows until
        the new ones are committed."""
        target = self.relation(schema, table)
        columns = ", ".join(f"{_quote(f.name)} {_postgres_type(f.type)}" for f in data.schema)
        batches = (data.to_batches(max_chunksize=50_000) if isinstance(data, pa.Table)
                   else data)
        rows = 0
        with self.con.cursor() as cur:
            cur.execute(f"create schema if not exists {_quote(schema)}")
            cur.execute(f"drop table if exists {target} cascade")
            cur.execute(f"create table {target} ({columns})")
            for batch in batches:
                rows += batch.num_rows
                # Arrow's CSV writer (C++): strings always quoted, so an empty string is "" and
                # a null the unquoted empty field COPY reads as NULL; floats in their shortest
                # exact form, timestamps ISO with a Z when they carry a zone.
                buffer = io.BytesIO()
                pa_csv.write_csv(pa.Table.from_batches([batch]), buffer, _CSV_OPTIONS)
                buffer.seek(0)
                cur.copy_expert(f"copy {target} from stdin with (format csv)", buffer)
        self.con.commit()
        return rows

    def execute(self, statement: str) -> None:
        with self.con.cursor() as cur:
            cur.execute(statement)
        self.con.commit()

    def tables(self, schema: str) -> list[str]:
        with self.con.cursor() as cur:
            cur.execute("select table_name from information_schema.tables "
                        "where table_schema = %s order by table_name", (schema,))
            names = [row[0] for row in cur.fetchall()]
        self.con.commit()
        return names

    def close(self) -> None:
        self.con.close()


def spark_session(settings: SparkSettings):
    """The process's SparkSession with the Winback settings (dbt-spark's `method: session`
    reuses it, so loading the sources and the whole dbt build share one JVM)."""
    from pyspark.sql import SparkSession

    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    builder = SparkSession.builder.appName("winback").master("local[2]").enableHiveSupport()
    for key, value in settings.session_config().items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def _spark_parquet_schema(schema: pa.Schema) -> pa.Schema:
    """`schema` as the Parquet spool Spark reads in SparkEngine.write_table stores it:
    timestamps in microseconds (Spark reads no nanosecond Parquet timestamps), and those
    without a zone as UTC, which is what createDataFrame made of them (it reads a zoneless
    timestamp in the session's time zone, UTC) and keeps them Spark TIMESTAMPs, not
    TIMESTAMP_NTZ."""
    fields = []
    for field in schema:
        if pa.types.is_timestamp(field.type):
            field = field.with_type(pa.timestamp("us", tz=field.type.tz or "UTC"))
        fields.append(field)
    return pa.schema(fields)


# Row groups of the Spark read spool are the most a reader holds at once: at most the reader's
# batch in rows and this many encoded bytes (Spark's 128 MB default, compressed, held 600,000 of
# the 1.2M rows of a 236 MB table; a byte limit alone still let compressible rows make a row
# group several times its size in Arrow).
SPOOL_ROW_GROUP_BYTES = 16 * 1024 * 1024


class SparkEngine:
    """A local SparkSession: Arrow in and out, each through a Parquet spool on local disk (see
    write_table and read_batches), so that neither side holds a whole table."""

    name = "spark"

    def __init__(self, settings: SparkSettings) -> None:
        self.spark = spark_session(settings)
        self.spark.conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")
        # Timestamps in the read spool as Parquet's own microsecond type, which Arrow reads as
        # UTC timestamps (toArrow's type), not the legacy INT96 that Arrow reads as zoneless.
        self.spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")

    def read_batches(self, query: str, batch_rows: int = 50_000) -> pa.RecordBatchReader:
        """Spark's tasks write the result to a temporary Parquet spool on local disk (the
        session is local), in row groups of at most `batch_rows` rows (and
        SPOOL_ROW_GROUP_BYTES); the reader yields it row group by row group, part file by part
        file in Spark's partition order (so an ORDER BY holds), and removes the spool when it
        is done or dropped. Neither this
        process nor the JVM holds the whole result (toArrow, as before, collected it in both
        first: a 1.2M-row table killed the JVM). Columns are spooled under positional names,
        so any result Spark can compute can be read, duplicate or unusual names included."""
        frame = self.spark.sql(query)
        names = frame.columns
        spool = Path(tempfile.mkdtemp(prefix="winback-spark-read-"))
        try:
            (frame.toDF(*(f"c{i}" for i in range(len(names))))
             .write.mode("overwrite")
             .option("parquet.block.size", SPOOL_ROW_GROUP_BYTES)
             .option("parquet.block.row.count.limit", batch_rows)
             .parquet(str(spool / "rows")))
            parts = sorted((spool / "rows").glob("part-*.parquet"))
            schema = (pa_parquet.read_schema(parts[0]) if parts
                      else frame.limit(0).toArrow().schema)
        except BaseException:
            shutil.rmtree(spool, ignore_errors=True)
            raise
        schema = pa.schema([field.with_name(name) for field, name in zip(schema, names,
                                                                          strict=True)])

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                for part in parts:
                    for batch in pa_parquet.ParquetFile(part).iter_batches(batch_size=batch_rows):
                        yield pa.RecordBatch.from_arrays(batch.columns, schema=schema)
            finally:
                shutil.rmtree(spool, ignore_errors=True)

        return pa.RecordBatchReader.from_batches(schema, batches())

    def write_table(self, schema: str, table: str,
                    data: pa.Table | pa.RecordBatchReader) -> int:
        """The batches go, one at a time, to a temporary Parquet file on local disk (the
        session is local), from which Spark's tasks (re)create the table split by split: neither
        this process nor the JVM holds the whole table (createDataFrame of the whole table,
        as before, held it in this process and, serialised, in the JVM: at 10M orders, 16M
        order lines)."""
        if isinstance(data, pa.Table):
            data = data.to_reader(max_chunksize=50_000)
        spool = Path(tempfile.mkdtemp(prefix="winback-spark-write-"))
        try:
            target = _spark_parquet_schema(data.schema)
            rows = 0
            with pa_parquet.ParquetWriter(spool / "rows.parquet", target) as writer:
                for batch in data:
                    writer.write_batch(batch.cast(target))
                    rows += batch.num_rows
            self.spark.sql(f"create database if not exists `{schema}`")
            (self.spark.read.parquet(str(spool / "rows.parquet"))
             .write.mode("overwrite").format("parquet")
             .saveAsTable(self.relation(schema, table)))
        finally:
            shutil.rmtree(spool, ignore_errors=True)
        return rows

    def execute(self, statement: str) -> None:
        self.spark.sql(statement)

    @staticmethod
    def relation(schema: str, table: str) -> str:
        return f"`{schema}`.`{table}`"

    def tables(self, schema: str) -> list[str]:
        if not self.spark.catalog.databaseExists(schema):
            return []
        return sorted(t.name for t in self.spark.catalog.listTables(schema))

    def close(self) -> None:
        """The session stays up for the rest of the process (dbt may use it); stop() ends it."""


def copy_query(source: Engine, query: str, target: Engine, schema: str, table: str,
               batch_rows: int = 50_000) -> int:
    """Copy the rows of `query` on `source` into `schema.table` on `target`, `batch_rows` rows
    at a time."""
    return target.write_table(schema, table, source.read_batches(query, batch_rows))


def open_engine(settings: EngineSettings) -> Engine:
    """The engine WINBACK_ENGINE names, for PostgreSQL or Spark (DuckDB: DuckDBEngine on the
    warehouse file)."""
    if settings.postgres is not None:
        return PostgresEngine(settings.postgres)
    if settings.spark is not None:
        return SparkEngine(settings.spark)
    raise ValueError(f"no connection settings for the engine {settings.name}")


def normalised_rows(batches: Iterable[pa.RecordBatch]) -> Iterator[tuple[str, ...]]:
    """Rows as tuples of text that read the same whatever engine produced them (see
    normalise_value), columns in name order."""
    for batch in batches:
        order = sorted(range(batch.num_columns), key=lambda i: batch.schema.names[i].lower())
        columns = [batch.column(i).to_pylist() for i in order]
        for row in zip(*columns, strict=True):
            yield tuple(normalise_value(value) for value in row)


def normalise_value(value: Any) -> str:
    """One value as engine-independent text: decimals and floats to 6 decimal places (the
    engines' doubles may differ in the last bits), timestamps in UTC, booleans as true/false."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}.000000"
    if isinstance(value, float | Decimal):
        text = f"{float(value):.6f}"
        return "0.000000" if text == "-0.000000" else text
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)

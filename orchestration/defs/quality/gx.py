"""Great Expectations 1.x suites (JSON in expectations/) run on a batch of rows: a dataframe
(DuckDB: GX 1.x cannot validate DuckDB through SQLAlchemy, so callers read the rows into
pandas), a query run by the engine through GX's own SQL datasource (PostgreSQL: the
expectations become SQL, no row leaves the database) or a Spark DataFrame through GX's Spark
datasource (Spark: the expectations become Spark column expressions, run by Spark). Which one
is a BatchSource.
Results keep row keys (the table's key column) and counts, never the failing values. On pandas
the pair expectations run on a vectorised metric (gx_metrics.py) instead of GX's row loop.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from orchestration.defs.quality.gx_metrics import register_vectorised_metrics
from orchestration.lib.collector import collections_paused
from orchestration.lib.deferred_imports import defer_imports
from orchestration.lib.settings import EXPECTATIONS_DIR, PostgresSettings

if TYPE_CHECKING:  # pandas (~0.4 s to import) loads with GX, only when a suite validates rows
    import pandas as pd
    from great_expectations.datasource.fluent.interfaces import Batch

MAX_KEYS_REPORTED = 20


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str
    column: str | None
    success: bool
    unexpected_count: int
    unexpected_keys: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SuiteOutcome:
    suite: str
    success: bool
    rows: int
    outcomes: list[ExpectationOutcome]

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]


def load_suite(name: str, directory: Path | None = None) -> dict[str, Any]:
    path = (directory or EXPECTATIONS_DIR) / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8"))


COLUMN_KWARGS = ("column", "column_A", "column_B")


def suite_columns(suite_json: dict[str, Any], key: str) -> list[str]:
    """The key plus every column the suite's expectations name, so callers read only those."""
    columns = [key]
    for expectation in suite_json["expectations"]:
        kwargs = expectation["kwargs"]
        named = [kwargs[k] for k in COLUMN_KWARGS if k in kwargs] + list(
            kwargs.get("column_list") or []
        )
        columns += [c for c in named if c not in columns]
    return columns


def _expectation_column(kwargs: dict[str, Any]) -> str | None:
    if "column" in kwargs:
        return kwargs["column"]
    named = [kwargs[k] for k in ("column_A", "column_B") if k in kwargs]
    named += list(kwargs.get("column_list") or [])
    return ",".join(named) or None


# Modules GX imports as it loads that only expectations Winback's suites do not use call
# (lib/deferred_imports.py): ~0.3 s of CPU on each run that validates a changed row.
GX_DEFERRED_IMPORTS = ("scipy.stats",)


def import_gx() -> Any:
    """The great_expectations package, imported with GX_DEFERRED_IMPORTS loaded on first use."""
    defer_imports(*GX_DEFERRED_IMPORTS)
    import great_expectations

    return great_expectations


def _context():
    gx = import_gx()
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


class BatchSource(Protocol):
    """Where a suite's batches come from: `kind` names GX's datasource (check metadata)."""

    kind: str

    def batch(self, data: Any) -> Batch: ...


class DataframeBatches:
    """GX's pandas datasource: each batch is a dataframe the caller read."""

    kind = "pandas"

    def __init__(self, context: Any, name: str) -> None:
        self._definition = (
            context.data_sources.add_pandas("winback")
            .add_dataframe_asset(name)
            .add_batch_definition_whole_dataframe("whole")
        )

    def batch(self, data: pd.DataFrame) -> Batch:
        return self._definition.get_batch(batch_parameters={"dataframe": data})


def postgres_url(settings: PostgresSettings) -> str:
    """The SQLAlchemy URL of GX's PostgreSQL datasource (psycopg2, which the engines extra
    installs). It holds the password: it stays in the ephemeral context, never in a result."""
    from sqlalchemy.engine import URL

    return URL.create(
        "postgresql+psycopg2", username=settings.user, password=settings.password or None,
        host=settings.host, port=settings.port, database=settings.database,
    ).render_as_string(hide_password=False)


class PostgresBatches:
    """GX's PostgreSQL datasource: each batch is a SQL query GX wraps in its expectations'
    SQL, so PostgreSQL computes the verdicts and only counts and failing keys come back."""

    kind = "postgres"

    def __init__(self, context: Any, name: str, settings: PostgresSettings) -> None:
        self._name = name
        self._batches = 0
        self._source = context.data_sources.add_postgres(
            "winback", connection_string=postgres_url(settings))

    def batch(self, data: str) -> Batch:
        self._batches += 1
        asset = self._source.add_query_asset(f"{self._name}_{self._batches}", query=data)
        return asset.add_batch_definition_whole_table("whole").get_batch()


class SparkBatches:
    """GX's Spark datasource: each batch is a Spark DataFrame (a query on the engine's tables,
    not collected), so Spark computes the verdicts and only counts and failing keys come back.
    GX takes the process's active SparkSession (getOrCreate), the one the caller opened."""

    kind = "spark"

    def __init__(self, context: Any, name: str) -> None:
        self._definition = (
            context.data_sources.add_spark("winback", persist=False)
            .add_dataframe_asset(name)
            .add_batch_definition_whole_dataframe("whole")
        )

    def batch(self, data: Any) -> Batch:
        return self._definition.get_batch(batch_parameters={"dataframe": data})


class SuiteValidator:
    """One suite, one ephemeral GX context (starting it costs seconds), any number of batches:
    callers validate a large table as bounded batches and merge the outcomes. `source` makes
    the batch source in the context (default: dataframes)."""

    def __init__(self, suite_json: dict[str, Any], key: str,
                 source: Callable[[Any, str], BatchSource] | None = None) -> None:
        # GX's import and context (thousands of classes and schemas, kept for the process's
        # life) without cyclic collections walking them as they load (~0.15 s of CPU a run).
        with collections_paused():
            gx = import_gx()
            register_vectorised_metrics()
            context = _context()
        self.suite_json = suite_json
        self.key = key
        self.source: BatchSource = (source or DataframeBatches)(context, suite_json["name"])
        # GX adds ids to the expectation dicts it is given: give it copies.
        self._suite = gx.ExpectationSuite(
            name=suite_json["name"],
            expectations=copy.deepcopy(suite_json["expectations"]),
            meta=copy.deepcopy(suite_json.get("meta")),
        )

    def validate(self, data: Any, rows: int | None = None) -> SuiteOutcome:
        """Validate one batch: a dataframe, or what the source takes (a query); `rows` is the
        batch's row count when `data` has no len()."""
        key = self.key
        batch = self.source.batch(data)
        result = batch.validate(
            self._suite,
            result_format={
                "result_format": "COMPLETE",
                "exclude_unexpected_values": True,
                "unexpected_index_column_names": [key],
                "partial_unexpected_count": MAX_KEYS_REPORTED,
            },
        ).to_json_dict()
        outcomes = []
        for item in result["results"]:
            config = item["expectation_config"]
            details = item.get("result") or {}
            # With exclude_unexpected_values GX groups the keys: [{key: [k1, k2, ...]}].
            keys: list[str] = []
            for row in details.get("unexpected_index_list") or []:
                if isinstance(row, dict) and key in row:
                    values = row[key] if isinstance(row[key], list) else [row[key]]
                    keys += [str(v) for v in values]
            keys = keys[:MAX_KEYS_REPORTED]
            outcomes.append(
                ExpectationOutcome(
                    expectation=config["type"],
                    column=_expectation_column(config["kwargs"]),
                    success=bool(item["success"]),
                    unexpected_count=int(details.get("unexpected_count") or 0),
                    unexpected_keys=keys,
                )
            )
        return SuiteOutcome(self.suite_json["name"], bool(result["success"]),
                            len(data) if rows is None else rows, outcomes)


def validate_dataframe(suite_json: dict[str, Any], frame: pd.DataFrame, key: str) -> SuiteOutcome:
    return SuiteValidator(suite_json, key).validate(frame)


def merge_outcomes(name: str, outcomes: list[SuiteOutcome]) -> SuiteOutcome:
    """Batches of one suite as one outcome: failing counts summed per expectation, the first
    MAX_KEYS_REPORTED failing keys kept. No batch at all is a pass over zero rows."""
    merged: list[ExpectationOutcome] = []
    for expectations in zip(*(o.outcomes for o in outcomes), strict=True):
        first = expectations[0]
        merged.append(
            ExpectationOutcome(
                expectation=first.expectation,
                column=first.column,
                success=all(e.success for e in expectations),
                unexpected_count=sum(e.unexpected_count for e in expectations),
                unexpected_keys=[k for e in expectations for k in e.unexpected_keys][
                    :MAX_KEYS_REPORTED
                ],
            )
        )
    return SuiteOutcome(
        name, all(o.success for o in outcomes), sum(o.rows for o in outcomes), merged
    )


def build_data_docs(warehouse: Path, site_dir: Path, directory: Path | None = None, *,
                    postgres: PostgresSettings | None = None, spark: Any = None) -> Path:
    """Validate every suite in expectations/ against its table (meta.table, meta.key) in the
    warehouse and render Great Expectations Data Docs as static HTML into `site_dir`. With
    `postgres` (WINBACK_ENGINE=postgres) the tables are the engine's, validated there through
    GX's PostgreSQL datasource (one query asset per suite); with `spark`, a SparkSession
    (WINBACK_ENGINE=spark; in_spark.build_data_docs_in_spark_child opens it in a child
    process), through GX's Spark datasource, one Spark DataFrame per suite; else dataframes
    read from DuckDB.

    Results are stored without failing values (exclude_unexpected_values, summary format), so
    the pages show expectations, counts and percentages, never a contact. The pages are
    rewritten to open offline (offline_docs). Returns index.html.
    """
    import contextlib
    import shutil
    import tempfile

    gx = import_gx()
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from orchestration.defs.quality.offline_docs import make_site_offline
    from orchestration.lib.warehouse import open_warehouse

    register_vectorised_metrics()

    suites = [
        json.loads(path.read_text(encoding="utf-8"))
        for path in sorted((directory or EXPECTATIONS_DIR).glob("*.json"))
    ]
    with tempfile.TemporaryDirectory(prefix="winback-gx-") as root:
        context = gx.get_context(mode="file", project_root_dir=root)
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        context.variables.save()
        if postgres is not None:
            source = context.data_sources.add_postgres(
                "winback", connection_string=postgres_url(postgres))
        elif spark is not None:
            source = context.data_sources.add_spark("winback", persist=False)
        else:
            source = context.data_sources.add_pandas("winback")
        with contextlib.ExitStack() as stack:
            con = (None if postgres is not None or spark is not None
                   else stack.enter_context(open_warehouse(warehouse, read_only=True)))
            for suite_json in suites:
                key = suite_json["meta"]["key"]
                query = (f"SELECT {', '.join(suite_columns(suite_json, key))} "
                         f"FROM {suite_json['meta']['table']} ORDER BY {key}")
                if postgres is not None:  # the rows stay in PostgreSQL
                    batch_parameters = None
                    batch_definition = source.add_query_asset(
                        suite_json["name"], query=query
                    ).add_batch_definition_whole_table("whole")
                elif spark is not None:  # a Spark DataFrame: the rows stay in Spark
                    batch_parameters = {"dataframe": spark.sql(query)}
                    batch_definition = source.add_dataframe_asset(
                        suite_json["name"]
                    ).add_batch_definition_whole_dataframe("whole")
                else:
                    batch_parameters = {"dataframe": con.execute(query).df()}
                    batch_definition = source.add_dataframe_asset(
                        suite_json["name"]
                    ).add_batch_definition_whole_dataframe("whole")
                suite = context.suites.add(
                    gx.ExpectationSuite(
                        name=suite_json["name"],
                        expectations=suite_json["expectations"],
                        meta=suite_json.get("meta"),
                    )
                )
                validation = context.validation_definitions.add(
                    gx.ValidationDefinition(
                        name=suite_json["name"], data=batch_definition, suite=suite
                    )
                )
                checkpoint = context.checkpoints.add(
                    gx.Checkpoint(
                        name=f"{suite_json['name']}_docs",
                        validation_definitions=[validation],
                        actions=[UpdateDataDocsAction(name="data_docs")],
                        result_format={
                            "result_format": "SUMMARY",
                            "exclude_unexpected_values": True,
                            "partial_unexpected_count": 0,
                        },
                    )
                )
                checkpoint.run(batch_parameters=batch_parameters)
        built = Path(root) / "gx" / "uncommitted" / "data_docs" / "local_site"
        if site_dir.exists():
            shutil.rmtree(site_dir)
        shutil.copytree(built, site_dir)
    make_site_offline(site_dir)
    return site_dir / "index.html"

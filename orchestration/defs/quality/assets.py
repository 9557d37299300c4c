"""Great Expectations suites run as Dagster asset checks on the rows of a table that changed
since they last passed, at most WINBACK_GX_MAX_ROWS of them per run, read from DuckDB in
bounded batches (see bounded.py), or, when dbt builds in PostgreSQL or Spark (WINBACK_ENGINE=
postgres|spark), validated there through GX's PostgreSQL datasource (in_engine.py) or its Spark
datasource (in_spark.py: in a child process, whose JVM ends with it)."""

import dagster as dg

from orchestration.defs.dbt.keys import dbt_model_key
from orchestration.defs.quality.bounded import validate_changed_rows
from orchestration.defs.quality.gx import load_suite
from orchestration.defs.quality.in_engine import validate_changed_rows_in_postgres
from orchestration.defs.quality.in_spark import validate_changed_rows_in_spark_child
from orchestration.defs.resources import WinbackConfig
from orchestration.lib.warehouse import open_warehouse


def build_suite_check(
    model: str, key: str, *, blocking: bool, description: str
) -> dg.AssetChecksDefinition:
    """Check `model` against expectations/<model>.json; a blocking failure stops downstream.
    Only the key and the columns the suite names are read, and only for rows that have not
    passed this suite before (all rows on the first run or after the suite changed), at most
    `gx_max_rows` of them per run, those waiting longest first; the dbt tests on the same model
    cover the whole table on every run."""
    asset_key = dbt_model_key(model)
    table = ".".join(asset_key.path)

    @dg.asset_check(
        asset=asset_key, name=f"gx_{model}", blocking=blocking, description=description
    )
    def _check(winback: WinbackConfig) -> dg.AssetCheckResult:
        settings = winback.settings()
        suite = load_suite(model)
        if settings.engine.postgres is not None:
            bounded = validate_changed_rows_in_postgres(
                settings.engine.postgres, suite, table, key, max_rows=settings.gx_max_rows)
        elif settings.engine.spark is not None:
            bounded = validate_changed_rows_in_spark_child(
                settings.engine.spark, suite, table, key, max_rows=settings.gx_max_rows)
        else:
            with open_warehouse(settings.warehouse) as con:
                bounded = validate_changed_rows(con, suite, table, key,
                                                max_rows=settings.gx_max_rows)
        outcome = bounded.outcome
        return dg.AssetCheckResult(
            passed=outcome.success,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "rows_validated": outcome.rows,
                "rows_pending": bounded.rows_pending,
                "max_rows_per_run": settings.gx_max_rows,
                "rows_skipped_unchanged": bounded.rows_skipped_unchanged,
                "batches": bounded.batches,
                "full_validation": bounded.full_validation,
                "gx_datasource": bounded.datasource,
                "expectations": len(suite["expectations"]),
                "failed": dg.MetadataValue.json(
                    [
                        {
                            "expectation": f.expectation,
                            "column": f.column,
                            "unexpected_count": f.unexpected_count,
                            f"sample_{key}s": f.unexpected_keys,
                        }
                        for f in outcome.failed
                    ]
                ),
            },
        )

    return _check


suite_checks = [
    build_suite_check(
        "contact_hygiene",
        "customer_id",
        blocking=True,
        description=(
            "Consent and suppression gate before any audience is exported: contactable only with "
            "opted-in consent, never when suppressed, invalid or not the address's owner; "
            "normalised emails and E.164 phones well-formed. Blocking."
        ),
    ),
    build_suite_check(
        "sync_audience_members",
        "customer_id",
        blocking=True,
        description=(
            "Last gate before any audience file is written: one normalised, well-formed "
            "address per member and audience, E.164 phones, every member with a send date. "
            "Blocking."
        ),
    ),
]

defs = dg.Definitions(asset_checks=suite_checks)

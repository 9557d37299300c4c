"""Great Expectations suites run as Dagster asset checks on tables read from DuckDB."""

import dagster as dg

from orchestration.defs.dbt.keys import dbt_model_key
from orchestration.defs.quality.gx import load_suite, suite_columns, validate_dataframe
from orchestration.defs.resources import WinbackConfig
from orchestration.lib.warehouse import open_warehouse


def build_suite_check(
    model: str, key: str, *, blocking: bool, description: str
) -> dg.AssetChecksDefinition:
    """Check `model` against expectations/<model>.json; a blocking failure stops downstream.
    Only the key and the columns the suite names are read into the dataframe."""
    asset_key = dbt_model_key(model)
    table = ".".join(asset_key.path)

    @dg.asset_check(
        asset=asset_key, name=f"gx_{model}", blocking=blocking, description=description
    )
    def _check(winback: WinbackConfig) -> dg.AssetCheckResult:
        settings = winback.settings()
        suite = load_suite(model)
        columns = ", ".join(suite_columns(suite, key))
        with open_warehouse(settings.warehouse, read_only=True) as con:
            frame = con.execute(f"SELECT {columns} FROM {table} ORDER BY {key}").df()
        outcome = validate_dataframe(suite, frame, key)
        return dg.AssetCheckResult(
            passed=outcome.success,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "rows": outcome.rows,
                "expectations": len(outcome.outcomes),
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

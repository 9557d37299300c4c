"""dbt source freshness as asset checks on the ingest assets (`raw/<entity>`).

The thresholds (`warn_after`, `error_after`) and the `loaded_at_field` are declared once, on the
dbt sources, and read here from the manifest: no second copy, no extra dbt invocation. One step
checks every source with one query: max(loaded_at_field) per table, which is what
`dbt source freshness` computes.

Freshness is measured from now, not from the run's as-of date: `_loaded_at` is when a delivery
arrived, so a stale source means the feed stopped delivering, whatever date the run rebuilds
(a recomputation as of last month still warns when nothing arrived today). The checks never
block: a late feed is worth knowing about, the run still uses the data it has.
"""

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg

from orchestration.defs.dbt.project import dbt_manifest
from orchestration.defs.dbt.translator import WinbackDbtTranslator
from orchestration.defs.resources import WinbackConfig
from orchestration.lib.contracts import CONTRACTS
from orchestration.lib.warehouse import open_warehouse

CHECK_NAME = "source_freshness"
_PERIODS = {"minute": dt.timedelta(minutes=1), "hour": dt.timedelta(hours=1),
            "day": dt.timedelta(days=1)}


@dataclass(frozen=True)
class SourceFreshness:
    key: dg.AssetKey
    table: str  # schema.table in the warehouse
    loaded_at_field: str
    warn_after: dt.timedelta | None
    error_after: dt.timedelta | None
    required: bool  # an empty required source is stale; an optional one may never arrive


def _threshold(rule: Mapping[str, Any] | None) -> dt.timedelta | None:
    if not rule or rule.get("count") is None or rule.get("period") is None:
        return None
    return rule["count"] * _PERIODS[rule["period"]]


def declared_freshness(manifest: Mapping[str, Any]) -> list[SourceFreshness]:
    """Every dbt source table that declares a loaded_at_field and a freshness threshold."""
    translator = WinbackDbtTranslator()
    declared = []
    for source in manifest["sources"].values():
        freshness = source.get("freshness") or {}
        warn, error = _threshold(freshness.get("warn_after")), _threshold(
            freshness.get("error_after"))
        if not source.get("loaded_at_field") or (warn is None and error is None):
            continue
        key = translator.get_asset_key(source)
        contract = CONTRACTS.get(key.path[-1])
        declared.append(SourceFreshness(
            key=key, table=".".join(key.path), loaded_at_field=source["loaded_at_field"],
            warn_after=warn, error_after=error,
            required=contract.required_entity if contract else True,
        ))
    return sorted(declared, key=lambda s: s.table)


def _hours(delta: dt.timedelta | None) -> float | None:
    return None if delta is None else round(delta.total_seconds() / 3600, 2)


def freshness_result(
    source: SourceFreshness, last_loaded: dt.datetime | None, now: dt.datetime
) -> dg.AssetCheckResult:
    """Pass when the latest load is within `warn_after`; past it WARN, past `error_after`
    ERROR (dbt's two levels). Never loaded: ERROR for a required source, pass for an optional
    one (an absent optional folder means no records of that kind)."""
    metadata: dict[str, Any] = {
        "warn_after_hours": _hours(source.warn_after),
        "error_after_hours": _hours(source.error_after),
        "loaded_at_field": source.loaded_at_field,
    }
    if last_loaded is None:
        metadata["last_loaded_at"] = "never"
        return dg.AssetCheckResult(
            asset_key=source.key, check_name=CHECK_NAME, passed=not source.required,
            severity=dg.AssetCheckSeverity.ERROR, metadata=metadata)
    if last_loaded.tzinfo is None:
        last_loaded = last_loaded.replace(tzinfo=dt.UTC)
    age = now - last_loaded
    metadata["last_loaded_at"] = dg.MetadataValue.timestamp(last_loaded)
    metadata["age_hours"] = _hours(age)
    if source.error_after is not None and age > source.error_after:
        passed, severity = False, dg.AssetCheckSeverity.ERROR
    elif source.warn_after is not None and age > source.warn_after:
        passed, severity = False, dg.AssetCheckSeverity.WARN
    else:
        passed, severity = True, dg.AssetCheckSeverity.WARN
    return dg.AssetCheckResult(asset_key=source.key, check_name=CHECK_NAME, passed=passed,
                               severity=severity, metadata=metadata)


def build_source_freshness_checks(
    sources: Sequence[SourceFreshness],
) -> dg.AssetChecksDefinition:
    by_key = {s.key: s for s in sources}

    @dg.multi_asset_check(
        name="dbt_source_freshness",
        specs=[
            dg.AssetCheckSpec(
                CHECK_NAME, asset=s.key, blocking=False,
                description=(
                    f"dbt source freshness of {s.table}: the latest {s.loaded_at_field} is at "
                    f"most {_hours(s.warn_after)} h old (warn) and {_hours(s.error_after)} h "
                    "(error), measured from now (when the run checks), not from the as-of date."
                ),
            )
            for s in sources
        ],
        can_subset=True,
    )
    def _check(context: dg.AssetCheckExecutionContext, winback: WinbackConfig):
        selected = [by_key[c.asset_key] for c in context.selected_asset_check_keys]
        with open_warehouse(winback.settings().warehouse, read_only=True) as con:
            existing = {f"{schema}.{table}" for schema, table in con.execute(
                "SELECT schema_name, table_name FROM duckdb_tables()").fetchall()}
            present = [s for s in selected if s.table in existing]
            last = dict(con.execute(" UNION ALL ".join(
                f"SELECT '{s.table}', max({s.loaded_at_field}) FROM {s.table}" for s in present
            )).fetchall()) if present else {}
        now = dt.datetime.now(dt.UTC)
        for source in selected:
            yield freshness_result(source, last.get(source.table), now)

    return _check


source_freshness_checks = build_source_freshness_checks(
    declared_freshness(dbt_manifest())
)

defs = dg.Definitions(asset_checks=[source_freshness_checks])

"""Audience exports: one asset per audience and platform (config/audiences.yml).

Each asset writes, for the run's as-of date, the platform's import file (split at its limits),
the adds and removes since the previous export, and a manifest, published as one folder. All of
them run in one step so the write-time consent gate (current consent, suppressions and erasures)
is built once. The step then opens the warehouse for writing (the job runs in one process after
dbt): what each export wrote is recorded there, and the next export's deltas come from it.
"""

import dagster as dg

from orchestration.defs.activation import points, suppression
from orchestration.defs.activation.audience_files import (
    ExportResult,
    export_audience,
    forget_erased,
    query_batches,
)
from orchestration.defs.activation.consent_gate import blocked_members, open_gate
from orchestration.defs.activation.match_rates import (
    fail_below_minimum,
    load_match_rates,
    match_estimate,
    match_metadata,
)
from orchestration.defs.activation.platforms import (
    Platform,
    below_minimum,
    load_limits,
    platform_for,
)
from orchestration.defs.activation.quotas import load_daily_quotas, quota_check
from orchestration.defs.dbt.keys import dbt_model_checksum, dbt_model_key
from orchestration.defs.resources import WinbackConfig
from orchestration.lib.asset_keys import export_key
from orchestration.lib.audiences import (
    Audience,
    AudienceConfig,
    AudienceConfigError,
    load_audiences,
)
from orchestration.lib.freshness import DAILY_FRESHNESS
from orchestration.lib.metadata import counts_table, records_table
from orchestration.lib.run_config import daily_partitions, one_date_per_run
from orchestration.lib.warehouse import open_warehouse

SYNC_MODEL = "sync_audience_members"
MEMBERSHIP_MODEL = "audience_membership_daily"


def _gate_verdicts(settings) -> tuple:
    """Run the write-time gate over everyone the sync model lists: (blocked customer ids with
    the reason, erased customer ids) as Arrow tables. The gate attaches the warehouse
    read-only, so it is closed before the export opens the warehouse for writing."""
    with open_gate(settings) as gate:
        blocked_members(gate, f"(SELECT DISTINCT customer_id, email "
                              f"FROM wh.activation.{SYNC_MODEL})")
        return (gate.sql("SELECT customer_id, reason FROM gate_blocked").to_arrow_table(),
                gate.sql("SELECT customer_id FROM gate_erased").to_arrow_table())


def _load_gate(con, blocked, erased) -> None:
    """The gate's verdicts as `gate.blocked` and `gate.erased` in an in-memory database attached
    to the warehouse connection (seen by its cursors, never written to the warehouse file)."""
    con.execute("ATTACH ':memory:' AS gate")
    for name, table in (("blocked", blocked), ("erased", erased)):
        con.register("gate_verdict", table)
        con.execute(f"CREATE TABLE gate.{name} AS SELECT * FROM gate_verdict")
        con.unregister("gate_verdict")


def _dropped(con, audience: str) -> dict[str, int]:
    return dict(con.execute(
        f"SELECT b.reason, count(*) FROM gate.blocked AS b JOIN activation.{SYNC_MODEL} AS s "
        "ON s.customer_id = b.customer_id WHERE s.audience = ? GROUP BY 1 ORDER BY 1",
        [audience]).fetchall())


def _member_batches(con, audience: str, platform: Platform, by_value: bool = False):
    """Members of one audience that pass the gate, as column batches of the fields the
    platform reads: by customer id, or highest member_value first (the audience's order_by)
    when `by_value`."""
    order = "member_value DESC NULLS LAST, customer_id" if by_value else "customer_id"
    columns = ", ".join(f'"{f}"' for f in dict.fromkeys(("customer_id", *platform.fields)))
    return query_batches(
        con,
        f"SELECT {columns} FROM activation.{SYNC_MODEL} WHERE audience = ? "
        f"AND customer_id NOT IN (SELECT customer_id FROM gate.blocked) ORDER BY {order}",
        [audience],
    )


def removal_reason_sql(audience: str) -> str:
    """Why a customer in the previous generic export is not in this one (evaluated on the
    warehouse connection, on the previous export's row `o`): erased, not contactable now, still
    a member under a new address, or left the audience (status changed, capped, ...)."""
    return (
        "CASE WHEN o.customer_id IN (SELECT customer_id FROM gate.erased) THEN 'erased' "
        "WHEN o.customer_id IN (SELECT customer_id FROM gate.blocked) OR NOT coalesce(("
        "SELECT h.is_contactable_email FROM contacts.contact_hygiene AS h "
        "WHERE h.customer_id = o.customer_id), false) THEN 'not_contactable' "
        f"WHEN o.customer_id IN (SELECT customer_id FROM activation.{SYNC_MODEL} "
        f"WHERE audience = '{audience}') THEN 'email_changed' "
        "ELSE 'left_audience' END"
    )


def export_fields(audience: Audience) -> tuple[str, ...]:
    """The member columns an audience's files carry: its personalisation, and `variant` when it
    is split into variants (plain email platforms; the ad platforms' layouts are fixed)."""
    return audience.personalisation + (("variant",) if audience.variants else ())


def _group_counts(con, audience: Audience, as_of: str) -> dict:
    row = con.execute(
        "SELECT count(*) FILTER (WHERE holdout_group = 'treatment' AND NOT is_capped), "
        "count(*) FILTER (WHERE holdout_group = 'holdout' AND NOT is_capped), "
        "count(*) FILTER (WHERE is_capped) "
        f"FROM activation.{MEMBERSHIP_MODEL} WHERE audience = ? AND as_of_date = ?",
        [audience.name, as_of],
    ).fetchone()
    counts = {"treatment": row[0], "holdout": row[1], "capped": row[2]}
    if audience.variants:
        per_variant = dict(con.execute(
            f"SELECT variant, count(*) FROM activation.{MEMBERSHIP_MODEL} WHERE audience = ? "
            "AND as_of_date = ? AND is_exported GROUP BY variant", [audience.name, as_of]
        ).fetchall())
        counts["variants"] = {v.name: per_variant.get(v.name, 0) for v in audience.variants}
    return counts


def _metadata(result: ExportResult, audience: Audience, groups, dropped) -> dict:
    paths = [str(f.path) for f in result.files]
    return {
        "dagster/row_count": result.rows,
        "rows": result.rows,
        "adds": result.added,
        "removes": result.removed,
        "removes_by_reason": counts_table(result.manifest["removes"].get("by_reason", {}),
                                          count="customers"),
        "audience_size": counts_table(
            {"treatment": groups["treatment"], "holdout": groups["holdout"],
             "capped": groups["capped"], "exported": result.rows,
             "dropped_at_write": sum(dropped.values())}, label="members", count="customers"),
        "adds_and_removes": records_table(
            [{"change": "add", "customers": result.added, "path": str(result.adds[0].path)},
             {"change": "remove", "customers": result.removed,
              "path": str(result.removes[0].path)}],
            [("change", str), ("customers", int), ("path", str)]),
        "files": dg.MetadataValue.json(paths),
        "path": dg.MetadataValue.path(paths[0]),
        "adds_path": dg.MetadataValue.path(str(result.adds[0].path)),
        "removes_path": dg.MetadataValue.path(str(result.removes[0].path)),
        "manifest": dg.MetadataValue.path(str(result.folder / "manifest.json")),
        "previous_export_as_of": result.previous_as_of or "none",
        "holdout_members": groups["holdout"],
        "capped_members": groups["capped"],
        "dropped_at_write": sum(dropped.values()),
        "dropped_at_write_by_reason": counts_table(dropped, count="customers"),
        "definition_hash": audience.definition_hash,
        "warnings": dg.MetadataValue.json(
            [f"daily_quota:{q}" for q in result.manifest.get("daily_quota", {}).get(
                "exceeded", [])]),
    }


def _quota_checks(con, config: AudienceConfig, selected, limits, quotas) -> dict[str, dict]:
    """Per platform with daily import quotas: the imports and rows this step will write for it,
    all selected audiences together, against the quotas."""
    checks = {}
    for platform_name, platform_quotas in quotas.items():
        audiences = [a.name for a in config.audiences if platform_name in a.platforms
                     and export_key(a.name, platform_name) in selected]
        if not audiences:
            continue
        rows = {name: con.execute(
            f"SELECT count(*) FROM activation.{SYNC_MODEL} WHERE audience = ? "
            "AND customer_id NOT IN (SELECT customer_id FROM gate.blocked)", [name]
        ).fetchone()[0] for name in audiences}
        checks[platform_name] = quota_check(rows, limits[platform_name].max_rows, platform_quotas)
    return checks


def build_audience_exports(config: AudienceConfig) -> dg.AssetsDefinition:
    specs = [
        dg.AssetSpec(
            key=export_key(audience.name, platform),
            deps=[dbt_model_key(SYNC_MODEL), dbt_model_key("contact_hygiene")],
            group_name="activation",
            kinds={"csv"},
            description=f"{audience.description.strip()} Import file for {platform}, with "
            "adds, removes and a manifest per as-of date.",
            metadata={"audience": audience.name, "platform": platform},
            freshness_policy=DAILY_FRESHNESS,
        )
        for audience in config.audiences
        for platform in audience.platforms
    ]

    @dg.multi_asset(specs=specs, can_subset=True, name="audience_exports",
                    partitions_def=daily_partitions, backfill_policy=one_date_per_run)
    def audience_exports(context: dg.AssetExecutionContext, winback: WinbackConfig):
        """Write the selected audience files. Right before writing, consent, suppressions and
        erasure requests are read again as they stand now (issue-4's gate), and anyone newly
        opted out, suppressed or erased is left out, so they show up as removes."""
        settings = winback.settings()
        as_of = settings.as_of.isoformat()
        current = load_audiences(settings.audiences_file)
        limits = load_limits(settings.platforms_file)
        selected = context.selected_asset_keys
        configured = {export_key(a.name, p) for a in current.audiences for p in a.platforms}
        if not selected <= configured:
            missing = ", ".join(sorted(k.to_user_string() for k in selected - configured))
            raise AudienceConfigError(
                f"{settings.audiences_file} no longer defines {missing}, which this code "
                "location was loaded with. Reload the code location (or restart the run)."
            )
        definition_common = {
            "audience_config_version": current.version,
            "sync_model_checksum": dbt_model_checksum(SYNC_MODEL),
        }
        rates = load_match_rates(settings.platforms_file)
        quotas = load_daily_quotas(settings.platforms_file)
        blocked, erased = _gate_verdicts(settings)
        too_small: list[str] = []
        with open_warehouse(settings.warehouse) as con:
            _load_gate(con, blocked, erased)
            quota_checks = _quota_checks(con, current, selected, limits, quotas)
            for platform_name, check in quota_checks.items():
                if check["exceeded"]:
                    context.log.warning(
                        f"{platform_name}: today's exports ({check['imports_today']} imports, "
                        f"{check['rows_today']} rows) exceed its daily import quota "
                        f"({', '.join(check['exceeded'])} in {settings.platforms_file}); the "
                        "uploads will take more than a day")
            for audience in current.audiences:
                platforms = [p for p in audience.platforms
                             if export_key(audience.name, p) in selected]
                if not platforms:
                    continue
                dropped = _dropped(con, audience.name)
                groups = _group_counts(con, audience, as_of)
                members_sql = (f"SELECT * FROM activation.{SYNC_MODEL} WHERE audience = "
                               f"'{audience.name}' AND customer_id NOT IN "
                               "(SELECT customer_id FROM gate.blocked)")
                for platform_name in platforms:
                    match = match_estimate(con, members_sql, platform_name,
                                           rates.get(platform_name))
                    message = below_minimum(audience.name, platform_name, match["rows"],
                                            limits[platform_name])
                    if message:
                        context.log.error(message)
                        too_small.append(message)
                        continue
                    platform = platform_for(platform_name, export_fields(audience),
                                            limits[platform_name], audience.name,
                                            valued=audience.order_by != "customer_id")
                    result = export_audience(
                        settings.export_dir,
                        con=con,
                        audience=audience.name,
                        platform=platform,
                        limits=limits[platform_name],
                        as_of=settings.as_of,
                        members=_member_batches(con, audience.name, platform,
                                             audience.order_by != "customer_id"),
                        definition={"audience_definition_hash": audience.definition_hash,
                                    **definition_common},
                        source_run=context.run_id,
                        extra={"members": groups, "dropped_at_write": dropped,
                               "match": match,
                               **({"daily_quota": quota_checks[platform_name]}
                                  if platform_name in quota_checks else {})},
                        # Only the generic file carries customer ids to explain a removal.
                        removal_reason_sql=(removal_reason_sql(audience.name)
                                            if platform_name == "generic_csv" else None),
                        history_days=settings.export_history_days,
                    )
                    context.log.info(
                        f"{audience.name} -> {platform_name}: {result.rows} rows, "
                        f"{result.added} adds, {result.removed} removes in {result.folder}"
                    )
                    yield dg.MaterializeResult(
                        asset_key=export_key(audience.name, platform_name),
                        metadata={**_metadata(result, audience, groups, dropped),
                                  **match_metadata(match)},
                    )
            forget_erased(con, settings.as_of, [a.name for a in current.audiences],
                          "SELECT customer_id FROM gate.erased")
        fail_below_minimum(too_small)

    return audience_exports


def build_defs(config: AudienceConfig) -> dg.Definitions:
    """The export assets of the configured audiences, of the suppression audience and of the
    points grant (read from Settings by definitions.py)."""
    return dg.Definitions.merge(dg.Definitions(assets=[build_audience_exports(config)]),
                                suppression.build_defs(config), points.build_defs(config))

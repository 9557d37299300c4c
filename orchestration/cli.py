"""`winback`: run the pipeline headless, generate demo data, print the input contracts."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from dataclasses import replace
from pathlib import Path

from orchestration import failures
from orchestration.lib.run_lock import run_lock, run_lock_path
from orchestration.lib.settings import (
    DBT_PROJECT_DIR,
    DEFAULTS,
    Settings,
    load_settings,
    resolve_path,
)

SUMMARY_TABLES = (
    "raw.orders",
    "raw.order_items",
    "raw.customers",
    "raw.consent_events",
    "raw.suppressions",
    "raw.erasure_requests",
    "raw.support_tickets",
    "raw.loyalty_ledger",
    "raw.quarantine",
    "activity.customer_activity",
    "inactivity.customer_inactivity_status",
    "inactivity.customer_status_changes",
    "inactivity.customer_status_history",
    "inactivity.customer_status_transitions",
    "inactivity.customer_churn_monthly",
    "predictions.customer_bgnbd",
    "contacts.contact_hygiene",
    "activation.sync_audience_members",
    "activation.audience_membership_daily",
    "activation.audience_membership_history",
    "activation.reactivation_outcomes",
)


# The demo data simulates a win-back send to this audience (its treatment group buys more).
DEMO_CAMPAIGN_AUDIENCE = "feedback_request_inactive"


def _demo_campaign(settings: Settings):
    """The simulated campaign, when the configured audiences still have a holdout to measure."""
    from orchestration import demo
    from orchestration.lib.audiences import audiences_for

    config = audiences_for(settings)
    names = {a.name for a in config.audiences}
    if (DEMO_CAMPAIGN_AUDIENCE not in names
            or not config.get(DEMO_CAMPAIGN_AUDIENCE).holdout_share):
        return None
    return demo.Campaign.for_audience(config, DEMO_CAMPAIGN_AUDIENCE)


def _ensure_demo_data(settings: Settings, *, force: bool = False) -> dt.date | None:
    """Generate the demo data if needed; returns the simulated campaign's send date then."""
    if settings.landing_configured and not force:
        return None
    if (settings.landing_dir / "orders").is_dir() and not force:
        print(f"Using the demo data already in {settings.landing_dir}")
        return None
    from orchestration import demo

    # Like a nightly export, the demo data runs through the day before the as-of date, so no
    # event lies later than the moment the run loads it.
    end_date = settings.as_of - dt.timedelta(days=1)
    campaign = _demo_campaign(settings)
    print(f"No WINBACK_LANDING_DIR set: generating demo data through {end_date} in "
          f"{settings.landing_dir} ...")
    counts = demo.generate(settings.landing_dir, end_date=end_date, campaign=campaign)
    print("  " + ", ".join(f"{entity} {n:,}" for entity, n in counts.items()))
    return campaign.send_date(end_date) if campaign else None


def _ensure_manifest() -> None:
    if not (DBT_PROJECT_DIR / "target" / "manifest.json").exists():
        from orchestration.defs.dbt.args import dbt_parse

        print("Parsing the dbt project (first run) ...")
        dbt_parse(DBT_PROJECT_DIR)


def _instance():
    """The Dagster instance in DAGSTER_HOME (None: an ephemeral one). Its SQLite storage is
    created under a file lock: two processes creating it at once fail ("table runs already
    exists")."""
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        return None
    import dagster as dg

    with run_lock(Path(home) / ".winback-instance.lock", wait_seconds=300):
        instance = dg.DagsterInstance.get()
        instance.get_runs_count()
        instance.event_log_storage.get_asset_keys()
        instance.all_instigator_state()
    return instance


def _run_pipeline(settings: Settings, instance, asset_selection=None) -> None:
    """Run the daily job (or `asset_selection` of it) in this process; raises
    failures.RunFailed with one line if it fails."""
    from orchestration.definitions import defs
    from orchestration.lib.run_config import daily_run

    run = daily_run(settings.as_of, landing_dir=settings.landing_dir,
                    warehouse=settings.warehouse, export_dir=settings.export_dir,
                    serving_dir=settings.serving_dir)
    config = {
        **run.run_config,
        # Failures reach the terminal as one line (and the log file), not as Dagster's traces.
        "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
    }
    job = defs.resolve_job_def("winback_daily")
    print(f"Running the pipeline as of {settings.as_of} ...", flush=True)
    result = job.execute_in_process(run_config=config, partition_key=run.partition_key,
                                    instance=instance, raise_on_error=False,
                                    asset_selection=asset_selection)
    if not result.success:
        raise failures.RunFailed(failures.from_run(
            (event.step_key, event.step_failure_data.error)
            for event in result.all_events
            if event.is_step_failure and event.step_failure_data.error is not None
        ))


def _print_summary(settings: Settings) -> None:
    from orchestration.lib.warehouse import open_warehouse

    print("\nWritten")
    print(f"  warehouse  {settings.warehouse}")
    print(f"  serving    {settings.serving_dir / settings.warehouse.name}  <- point analysts and "
          "BI tools here (DuckDB 1.x can open it; the warehouse is for runs only)")
    with open_warehouse(settings.warehouse, read_only=True) as con:
        existing = {
            f"{schema}.{name}"
            for schema, name in con.execute(
                "SELECT table_schema, table_name FROM information_schema.tables"
            ).fetchall()
        }
        for table in SUMMARY_TABLES:
            if table in existing:
                (count,) = con.execute(f"SELECT count(*) FROM {table}").fetchone()
                print(f"    {table:<42} {count:>10,} rows")
        print("  customers by status")
        for status, count in con.execute(
            "SELECT status, count(*) FROM inactivity.customer_inactivity_status "
            "GROUP BY status ORDER BY count(*) DESC, status"
        ).fetchall():
            print(f"    {status:<42} {count:>10,}")
        print("  contactable (share of customers)")
        for channel, count, share in con.execute(
            "SELECT channel, customers, share_of_customers FROM contacts.contact_hygiene_summary "
            "WHERE category = 'verdict' AND code = 'contactable' ORDER BY channel"
        ).fetchall():
            print(f"    {channel:<42} {count:>10,} {share:>7.1%}")
    with open_warehouse(settings.warehouse, read_only=True) as con:
        outcomes = con.execute(
            "SELECT audience, send_date, treated_customers, treated_conversion_rate, "
            "holdout_customers, holdout_conversion_rate, absolute_lift, lift_ci_low, lift_ci_high "
            "FROM activation.reactivation_outcomes "
            "WHERE is_window_complete AND absolute_lift IS NOT NULL ORDER BY send_date, audience"
        ).fetchall()
    if outcomes:
        print("  win-back outcomes (conversion windows that have ended)")
    for audience, send, n_t, r_t, n_h, r_h, lift, low, high in outcomes:
        print(f"    {audience} sent {send}: treated {n_t:,} bought {r_t:.1%}, holdout {n_h:,} "
              f"bought {r_h:.1%}, lift {lift:+.1%} (95% CI {low:+.1%} to {high:+.1%})")
    for manifest in sorted(settings.export_dir.glob(f"*/*/{settings.as_of}/manifest.json")):
        import json

        data = json.loads(manifest.read_text())
        for part in data["files"]:
            print(
                f"  audience   {data['audience']} ({data['platform']}): {part['rows']:,} rows -> "
                f"{manifest.parent / part['name']}"
            )
        print(f"             {data['adds']['rows']:,} adds, {data['removes']['rows']:,} removes "
              f"since {data['previous_export_as_of'] or 'no earlier export'}; "
              f"manifest -> {manifest}")
    print("\nOpen the Dagster UI with `make ui` (http://127.0.0.1:3000).")


def cmd_validate(args: argparse.Namespace) -> int:
    from orchestration.preflight import check_configuration

    settings = load_settings(overrides={"WINBACK_AS_OF": args.as_of})
    for checked in check_configuration(settings):
        print(f"ok  {checked}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from orchestration.backfill import demo_history_unfinished, record_demo_history
    from orchestration.preflight import check_configuration

    settings = load_settings(overrides={"WINBACK_AS_OF": args.as_of})
    check_configuration(settings)
    with run_lock(run_lock_path(settings.warehouse), settings.run_wait_seconds,
                  on_wait=lambda line: print(line, flush=True)):
        send_date = _ensure_demo_data(settings)
        _ensure_manifest()
        instance = _instance()
        if send_date is not None:
            # The outcomes mart measures a send only if a run recorded who was in which group
            # on that day: run the demo campaign's date first, as the daily schedule would have.
            print(f"Recording the demo campaign's audiences as of its send date {send_date} ...")
            _run_pipeline(replace(settings, as_of=send_date), instance)
        if send_date is not None or demo_history_unfinished(settings):
            record_demo_history(settings, lambda day, assets: _run_pipeline(
                replace(settings, as_of=day), instance, assets))
        _run_pipeline(settings, instance)
        _print_summary(settings)
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    from orchestration import backfill
    from orchestration.preflight import check_configuration

    settings = load_settings()
    check_configuration(settings)
    dates = backfill.backfill_dates(args.start, args.end, args.every)
    with run_lock(run_lock_path(settings.warehouse), settings.run_wait_seconds,
                  on_wait=lambda line: print(line, flush=True)):
        _ensure_manifest()
        instance = _instance()
        backfill.run_backfill(
            settings, dates, lambda day: _run_pipeline(replace(settings, as_of=day), instance)
        )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from orchestration import demo

    settings = load_settings()
    out = Path(args.out) if args.out else settings.landing_dir
    end_date = args.end_date or settings.as_of - dt.timedelta(days=1)
    counts = demo.generate(
        out, customers=args.customers, orders=args.orders, seed=args.seed, end_date=end_date,
        years=args.years, campaign=_demo_campaign(settings),
    )
    for entity, n in counts.items():
        print(f"{entity:<18} {n:>10,} rows -> {out / entity}")
    return 0


def cmd_dbt_vars(args: argparse.Namespace) -> int:
    import json

    from orchestration.defs.dbt.args import dbt_vars
    from orchestration.lib.audiences import audiences_for
    from orchestration.lib.policies import policies_for

    settings = load_settings(overrides={"WINBACK_AS_OF": args.as_of})
    print(json.dumps(dbt_vars(settings, policies_for(settings), audiences_for(settings)),
                     sort_keys=True))
    return 0


def cmd_contracts(_: argparse.Namespace) -> int:
    from orchestration.lib.contracts import render_markdown

    print(render_markdown())
    return 0


def cmd_quality_docs(args: argparse.Namespace) -> int:
    from orchestration.defs.quality.gx import build_data_docs

    settings = load_settings()
    if not settings.warehouse.exists():
        print(f"winback: no warehouse at {settings.warehouse}; run `make run` first.",
              file=sys.stderr)
        return 1
    out = Path(args.out) if args.out else settings.warehouse.parent.parent / "quality_docs"
    index = build_data_docs(settings.warehouse, out.resolve())
    print(f"Great Expectations Data Docs -> {index}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="winback", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the whole pipeline for one as-of date")
    run.add_argument("--as-of", help="as-of date YYYY-MM-DD (default: WINBACK_AS_OF or today)")
    run.set_defaults(func=cmd_run)
    backfill = sub.add_parser(
        "backfill", help="run the whole pipeline for each date of a range, oldest first "
        "(resumes an interrupted backfill)"
    )
    backfill.add_argument("--start", type=dt.date.fromisoformat, required=True,
                          help="first as-of date YYYY-MM-DD")
    backfill.add_argument("--end", type=dt.date.fromisoformat, required=True,
                          help="last as-of date YYYY-MM-DD (included)")
    backfill.add_argument("--every", type=int, default=1,
                          help="days between as-of dates (default: 1, every day)")
    backfill.set_defaults(func=cmd_backfill)
    validate = sub.add_parser(
        "validate", help="check every setting and configuration file, without running anything"
    )
    validate.add_argument("--as-of", help="as-of date YYYY-MM-DD (default: WINBACK_AS_OF or today)")
    validate.set_defaults(func=cmd_validate)
    demo = sub.add_parser("demo", help="write deterministic demo data to the landing folder")
    demo.add_argument(
        "--end-date", type=dt.date.fromisoformat, help="last day of the data (default: yesterday)"
    )
    demo.add_argument("--out", help="landing folder (default: WINBACK_LANDING_DIR)")
    demo.add_argument(
        "--customers", type=int, default=20_000, help="number of customers (default: 20000)"
    )
    demo.add_argument(
        "--orders", type=int, default=200_000, help="approximate number of orders (default: 200000)"
    )
    demo.add_argument("--seed", type=int, default=42, help="random seed (default: 42)")
    demo.add_argument("--years", type=int, default=3, help="years of history (default: 3)")
    demo.set_defaults(func=cmd_demo)
    dbt_vars = sub.add_parser(
        "dbt-vars", help="print the dbt --vars of a run (as-of date, validated policies)"
    )
    dbt_vars.add_argument("--as-of", help="as-of date YYYY-MM-DD (default: WINBACK_AS_OF or today)")
    dbt_vars.set_defaults(func=cmd_dbt_vars)
    contracts = sub.add_parser("contracts", help="print the input contracts as Markdown")
    contracts.set_defaults(func=cmd_contracts)
    docs = sub.add_parser(
        "quality-docs", help="validate the warehouse with expectations/ and build GX Data Docs"
    )
    docs.add_argument("--out", help="output folder (default: data/quality_docs)")
    docs.set_defaults(func=cmd_quality_docs)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a command. Any failure prints one line to stderr naming a log file with the full
    trace; exit code 2 for bad configuration or input, 1 for a failed run."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except Exception as exc:
        failure = failures.from_exception(exc)
        log_dir = resolve_path(os.environ.get("WINBACK_LOG_DIR") or DEFAULTS["WINBACK_LOG_DIR"])
        log = failures.write_log(log_dir, args.command, failure)
        print(f"winback {args.command}: {failure.line} (full trace: {log})", file=sys.stderr)
        return failure.exit_code


if __name__ == "__main__":
    sys.exit(main())

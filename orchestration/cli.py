"""`winback`: run the pipeline headless, export audiences, build the docs, start the UI,
generate demo data and print the input contracts.

Each command is one function registered with `@command(...)`; the parser is built from the
registry, so adding a command touches nothing else. `.env` in the working directory is read
first (values already in the environment win), and every failure ends in one line.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import importlib.metadata
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, replace
from pathlib import Path

from orchestration import failures
from orchestration.lib.run_lock import run_lock, run_lock_path
from orchestration.lib.settings import (
    DBT_PROJECT_DIR,
    DEFAULT_DAGSTER_HOME,
    DEFAULTS,
    WORKSPACE_FILE,
    Settings,
    load_settings,
    resolve_path,
)

DAILY_JOB = "winback_daily"

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

    from orchestration.lib.dagster_home import ensure_dagster_yaml

    ensure_dagster_yaml(Path(home))
    with run_lock(Path(home) / ".winback-instance.lock", wait_seconds=300):
        instance = dg.DagsterInstance.get()
        instance.get_runs_count()
        instance.event_log_storage.get_asset_keys()
        instance.all_instigator_state()
    return instance




def read_env_file(path: Path, environ: MutableMapping[str, str]) -> list[str]:
    """Add the variables of a `.env` file to `environ` unless already set there (the real
    environment wins); returns the names taken from the file."""
    if not path.is_file():
        return []
    from dotenv import dotenv_values

    values = {name: value for name, value in dotenv_values(path).items()
              if value is not None and name not in environ}
    environ.update(values)
    return list(values)


def _settings(args: argparse.Namespace) -> Settings:
    """The run's settings, the --as-of date checked against today (UTC)."""
    from orchestration.preflight import check_as_of

    as_of = args.as_of.isoformat() if args.as_of else None
    settings = load_settings(overrides={"WINBACK_AS_OF": as_of})
    check_as_of(settings.as_of, today=dt.datetime.now(dt.UTC).date(),
                allow_future=args.allow_future)
    return settings


def _parse_ahead_args(settings: Settings) -> list[str] | None:
    """The `dbt parse` the run's fork server runs ahead of the dbt steps: on DuckDB, whose
    profile the server's environment renders as the steps' does (the other engines' steps get
    their target and password in the environment only while dbt runs)."""
    from orchestration.defs.dbt.args import dbt_parse_ahead_args
    from orchestration.lib.audiences import audiences_for
    from orchestration.lib.policies import policies_for

    if settings.engine.name != "duckdb":
        return None
    return dbt_parse_ahead_args(settings, policies_for(settings), audiences_for(settings))


def _run_job(settings: Settings, instance, *, verbose: bool, selection=None) -> None:
    """Run the daily job (or the `selection` of its assets) in this process, one progress line
    per step; dbt's own output only when `verbose`. Raises failures.RunFailed with one line."""
    from orchestration.lib.collector import collections_paused, heap_frozen

    with collections_paused():
        from orchestration.definitions import defs
        from orchestration.defs.alerts.sensors import CLI_RUN_TAG
        from orchestration.lib.run_config import daily_run
        from orchestration.progress import progress_logger

    out = sys.stdout
    job = defs.resolve_job_def(DAILY_JOB)
    job = job.with_logger_defs({**job.loggers, "progress": progress_logger(out)})
    run = daily_run(settings.as_of, landing_dir=settings.landing_dir,
                    warehouse=settings.warehouse, export_dir=settings.export_dir,
                    serving_dir=settings.serving_dir)
    config = {
        **run.run_config,
        # Failures reach the terminal as one line (and the log file), not as Dagster's traces.
        "loggers": {"console": {"config": {"log_level": "CRITICAL"}}, "progress": {}},
    }
    quiet = contextlib.nullcontext() if verbose else contextlib.redirect_stdout(io.StringIO())
    # The definitions outlive the run: kept out of its garbage collections.
    with heap_frozen(), quiet:
        result = job.execute_in_process(run_config=config, partition_key=run.partition_key,
                                        instance=instance, asset_selection=selection,
                                        tags={CLI_RUN_TAG: "true"}, raise_on_error=False)
    if not result.success:
        raise failures.RunFailed(failures.from_run(
            (event.step_key, event.step_failure_data.error)
            for event in result.all_events
            if event.is_step_failure and event.step_failure_data.error is not None
        ))


# --- the command registry -------------------------------------------------------------------

Option = tuple[tuple[str, ...], dict]


def option(*flags: str, **kwargs) -> Option:
    return flags, kwargs


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    run: Callable[[argparse.Namespace], int]
    options: tuple[Option, ...]
    as_of: bool  # takes --as-of and --allow-future
    verbose: bool  # takes --verbose (dbt's own output)
    alerts: bool  # a failure goes to the alert file and webhook (commands that run the pipeline)


COMMANDS: dict[str, Command] = {}


def command(name: str, help: str, *options: Option, as_of: bool = False,
            verbose: bool = False, alerts: bool = False):
    """Register a command: its function gets the parsed arguments and returns the exit code."""
    def register(run: Callable[[argparse.Namespace], int]):
        COMMANDS[name] = Command(name, help, run, options, as_of, verbose, alerts)
        return run
    return register


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


# --- the commands ---------------------------------------------------------------------------

@command("run", "run the whole pipeline for one as-of date and print what was written where",
         as_of=True, verbose=True, alerts=True)
def cmd_run(args: argparse.Namespace) -> int:
    from orchestration.backfill import demo_history_unfinished, record_demo_history
    from orchestration.preflight import check_configuration, check_pipeline_engine
    from orchestration.summary import print_run_summary

    settings = _settings(args)
    check_configuration(settings)
    check_pipeline_engine(settings)
    from orchestration.defs.dbt.fork_server import dbt_fork_server

    with run_lock(run_lock_path(settings.warehouse), settings.run_wait_seconds,
                  on_wait=lambda line: print(line, flush=True)), \
            dbt_fork_server(settings.engine.name, _parse_ahead_args(settings)):
        # dbt imported (and the project parsed) once, for all the runs below
        send_date = _ensure_demo_data(settings)
        _ensure_manifest()
        instance = _instance()
        if send_date is not None:
            # The outcomes mart measures a send only if a run recorded who was in which group
            # on that day: run the demo campaign's date first, as the daily schedule would have.
            print(f"Recording the demo campaign's audiences as of its send date {send_date} ...",
                  flush=True)
            _run_job(replace(settings, as_of=send_date), instance, verbose=args.verbose)
        if send_date is not None or demo_history_unfinished(settings):
            record_demo_history(settings, lambda day, assets: _run_job(
                replace(settings, as_of=day), instance, verbose=args.verbose, selection=assets))
        print(f"Running the pipeline as of {settings.as_of} ...", flush=True)
        _run_job(settings, instance, verbose=args.verbose)
        print_run_summary(settings, sys.stdout)
    return 0


@command("backfill", "run the whole pipeline for each date of a range, oldest first "
         "(resumes an interrupted backfill)",
         option("--start", type=_date, required=True, metavar="D1",
                help="first as-of date YYYY-MM-DD"),
         option("--end", type=_date, required=True, metavar="D2",
                help="last as-of date YYYY-MM-DD (included)"),
         option("--every", type=int, default=1, metavar="N",
                help="days between as-of dates"),
         option("--allow-future", action="store_true",
                help="accept an end date after today (UTC)"),
         verbose=True, alerts=True)
def cmd_backfill(args: argparse.Namespace) -> int:
    from orchestration import backfill
    from orchestration.preflight import check_as_of, check_configuration, check_pipeline_engine

    settings = load_settings()
    check_configuration(settings)
    check_pipeline_engine(settings)
    dates = backfill.backfill_dates(args.start, args.end, args.every)
    check_as_of(dates[-1], today=dt.datetime.now(dt.UTC).date(),
                allow_future=args.allow_future)
    from orchestration.defs.dbt.fork_server import dbt_fork_server

    with run_lock(run_lock_path(settings.warehouse), settings.run_wait_seconds,
                  on_wait=lambda line: print(line, flush=True)), \
            dbt_fork_server(settings.engine.name, _parse_ahead_args(settings)):  # every date
        _ensure_manifest()
        instance = _instance()
        backfill.run_backfill(settings, dates, lambda day: _run_job(
            replace(settings, as_of=day), instance, verbose=args.verbose))
    return 0


@command("validate", "check every setting and configuration file, without running anything",
         as_of=True)
def cmd_validate(args: argparse.Namespace) -> int:
    from orchestration.preflight import check_configuration

    for checked in check_configuration(_settings(args)):
        print(f"ok  {checked}")
    return 0


@command("export", "write the audience files again from the current warehouse (no ingest or dbt)",
         option("--audience", metavar="NAME", help="only this audience (default: every audience)"),
         as_of=True, verbose=True, alerts=True)
def cmd_export(args: argparse.Namespace) -> int:
    from orchestration.lib.asset_keys import export_key
    from orchestration.lib.audiences import audiences_for
    from orchestration.preflight import (
        ConfigurationError,
        check_configuration,
        check_pipeline_engine,
        warehouse_as_of,
    )
    from orchestration.summary import audience_lines

    settings = _settings(args)
    check_configuration(settings)
    check_pipeline_engine(settings)
    config = audiences_for(settings)
    # The suppression audience's files are written like an audience's (same key layout).
    suppression = [config.suppression_audience] if config.suppression_audience else []
    audiences = [a for a in (*config.audiences, *suppression)
                 if args.audience in (None, a.name)]
    if not audiences:
        names = ", ".join(a.name for a in (*config.audiences, *suppression))
        raise ConfigurationError(
            f"{settings.audiences_file} defines no audience {args.audience!r}; one of: {names}")
    selection = [export_key(a.name, p) for a in audiences for p in a.platforms]
    with run_lock(run_lock_path(settings.warehouse), settings.run_wait_seconds,
                  on_wait=lambda line: print(line, flush=True)):
        built = warehouse_as_of(settings.warehouse)
        if built != settings.as_of:
            raise ConfigurationError(
                f"the warehouse {settings.warehouse} holds the run as of {built}, not "
                f"{settings.as_of}; run `winback run --as-of {settings.as_of}` instead")
        _ensure_manifest()
        print(f"Exporting {len(selection)} audience files as of {settings.as_of} ...",
              flush=True)
        _run_job(settings, _instance(), verbose=args.verbose, selection=selection)
    print("\n".join(audience_lines(settings, only=args.audience)))
    return 0


@command("docs", "build the dbt docs and the Great Expectations Data Docs as static HTML",
         option("--out", help="folder of the Data Docs (default: data/quality_docs)"),
         verbose=True)
def cmd_docs(args: argparse.Namespace) -> int:
    from orchestration.defs.dbt.args import dbt_executable, dbt_vars
    from orchestration.defs.quality.gx import build_data_docs
    from orchestration.lib.audiences import audiences_for
    from orchestration.lib.policies import policies_for
    from orchestration.preflight import ConfigurationError

    settings = load_settings()
    if not settings.warehouse.exists():
        raise ConfigurationError(
            f"no warehouse at {settings.warehouse}; run `winback run` first (WINBACK_WAREHOUSE)")
    _ensure_manifest()
    variables = dbt_vars(settings, policies_for(settings), audiences_for(settings))
    out = Path(args.out) if args.out else settings.warehouse.parent.parent / "quality_docs"
    # A folder of its own: dbt would rewrite target/manifest.json, which the definitions read.
    dbt_docs = DBT_PROJECT_DIR / "target" / "docs"
    with run_lock(run_lock_path(settings.warehouse), settings.run_wait_seconds,
                  on_wait=lambda line: print(line, flush=True)):
        done = subprocess.run(
            [dbt_executable(), "docs", "generate", "--static", "--project-dir",
             str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
             "--target-path", str(dbt_docs), "--vars", json.dumps(variables, sort_keys=True)],
            stdout=None if args.verbose else subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, check=False,
        )
        if done.returncode:
            error = RuntimeError(f"dbt docs generate failed (exit code {done.returncode}); "
                                 "run `winback docs --verbose` to see dbt's output")
            error.add_note(done.stdout or "")
            raise error
        if settings.engine.spark is not None:  # in a child process: one JVM at a time
            from orchestration.defs.quality.in_spark import build_data_docs_in_spark_child

            index = build_data_docs_in_spark_child(settings.engine.spark, out.resolve())
        else:
            index = build_data_docs(settings.warehouse, out.resolve(),
                                    postgres=settings.engine.postgres)
    print(f"dbt docs                       -> {dbt_docs / 'static_index.html'}")
    print(f"Great Expectations Data Docs   -> {index}")
    return 0


@command("report", "print the path of the HTML report of the last run (--open: open it)",
         option("--open", action="store_true", help="open it in the default browser as well"))
def cmd_report(args: argparse.Namespace) -> int:
    import webbrowser

    from orchestration.preflight import ConfigurationError

    path = load_settings().report_path
    if not path.exists():
        raise ConfigurationError(
            f"no report at {path}; run `winback run` first (WINBACK_REPORT)")
    print(path)
    if args.open:
        if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform in (
                "darwin", "win32"):
            webbrowser.open(path.as_uri())
        else:
            print("no display to open it on; open the path above in a browser", file=sys.stderr)
    return 0


@command("ui", "start the Dagster UI (dagster dev -w workspace.yaml) on the asset graph",
         option("--host", default="127.0.0.1", help="address to listen on"),
         option("--port", type=int, default=3000, help="port to listen on"))
def cmd_ui(args: argparse.Namespace) -> int:
    from orchestration.lib.dagster_home import ensure_dagster_yaml

    home = Path(os.environ.get("DAGSTER_HOME") or DEFAULT_DAGSTER_HOME)
    ensure_dagster_yaml(home)
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "DAGSTER_HOME": str(home),
           "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    _ensure_manifest()
    print(f"Dagster UI: http://{args.host}:{args.port}/asset-groups (runs kept in {home}); "
          "Ctrl-C stops it", flush=True)
    os.chdir(WORKSPACE_FILE.parent)
    dagster = str(bin_dir / "dagster")
    os.execve(dagster, [dagster, "dev", "-w", str(WORKSPACE_FILE), "-h", args.host,
                        "-p", str(args.port)], env)


@command("demo", "write deterministic demo data to the landing folder",
         option("--end-date", type=_date, help="last day of the data (default: yesterday)"),
         option("--out", help="landing folder (default: WINBACK_LANDING_DIR or data/landing)"),
         option("--customers", type=int, default=20_000, help="number of customers"),
         option("--orders", type=int, default=200_000, help="approximate number of orders"),
         option("--seed", type=int, default=42, help="random seed"),
         option("--years", type=int, default=3, help="years of history"))
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


@command("contracts", "print the input contracts as Markdown")
def cmd_contracts(_: argparse.Namespace) -> int:
    from orchestration.lib.contracts import render_markdown

    print(render_markdown())
    return 0


@command("dbt-vars", "print the dbt --vars of a run, to run dbt by hand", as_of=True)
def cmd_dbt_vars(args: argparse.Namespace) -> int:
    from orchestration.defs.dbt.args import dbt_vars
    from orchestration.lib.audiences import audiences_for
    from orchestration.lib.policies import policies_for

    settings = _settings(args)
    print(json.dumps(dbt_vars(settings, policies_for(settings), audiences_for(settings)),
                     sort_keys=True))
    return 0


# --- the parser -----------------------------------------------------------------------------

class HelpFormatter(argparse.HelpFormatter):
    """Shows every option's default that is not already in its help text."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (action.option_strings and action.default not in (None, False, argparse.SUPPRESS)
                and "default" not in text):
            text += " (default: %(default)s)"
        return text


class Parser(argparse.ArgumentParser):
    """A wrong flag or value is two lines (the error and where to get help), exit code 2."""

    commands: dict[str, Parser]

    def error(self, message: str):
        self.exit(failures.EXIT_CONFIG,
                  f"{self.prog}: error: {message}\nSee `{self.prog} --help`.\n")


def build_parser() -> Parser:
    parser = Parser(prog="winback", description=__doc__.split("\n\n")[0],
                    formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version",
                        version=f"winback {importlib.metadata.version('winback')}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                title="commands")
    parser.commands = {}
    for cmd in COMMANDS.values():
        sub_parser = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help,
                                    formatter_class=HelpFormatter)
        parser.commands[cmd.name] = sub_parser
        if cmd.as_of:
            sub_parser.add_argument(
                "--as-of", type=_date, metavar="YYYY-MM-DD",
                help="as-of date (default: WINBACK_AS_OF, else today in UTC)")
            sub_parser.add_argument(
                "--allow-future", action="store_true",
                help="accept an as-of date after today (refused by default)")
        if cmd.verbose:
            sub_parser.add_argument("-v", "--verbose", action="store_true",
                                    help="also print dbt's own output")
        for flags, kwargs in cmd.options:
            sub_parser.add_argument(*flags, **kwargs)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a command. Any failure prints one line to stderr naming a log file with the full
    trace; exit code 2 for bad configuration, input or arguments, 1 for a failed run."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        parser.commands[args.command].error(
            f"unrecognized arguments: {' '.join(unknown)}")
    read_env_file(Path.cwd() / ".env", os.environ)
    try:
        return COMMANDS[args.command].run(args)
    except Exception as exc:
        failure = failures.from_exception(exc)
        log_dir = resolve_path(os.environ.get("WINBACK_LOG_DIR") or DEFAULTS["WINBACK_LOG_DIR"])
        log = failures.write_log(log_dir, args.command, failure)
        print(f"winback {args.command}: {failure.line} (full trace: {log})", file=sys.stderr)
        if COMMANDS[args.command].alerts:
            _alert(args, failure.line)
        return failure.exit_code


def _alert(args: argparse.Namespace, line: str) -> None:
    """Send a failed pipeline command to the alert file and webhook (as the run-failure sensor
    does for runs the daemon sees). Read from the environment like the log folder: the
    settings themselves may be what failed."""
    from orchestration.defs.alerts.sensors import command_failure_alert, deliver

    as_of = getattr(args, "as_of", None)
    alert = command_failure_alert(args.command, as_of.isoformat() if as_of else None, line,
                                  dt.datetime.now(dt.UTC))
    folder = resolve_path(os.environ.get("WINBACK_ALERT_DIR") or DEFAULTS["WINBACK_ALERT_DIR"])
    try:
        deliver(alert, folder, os.environ.get("WINBACK_ALERT_WEBHOOK_URL") or None,
                lambda warning: print(warning, file=sys.stderr))
    except OSError as exc:
        print(f"winback: the alert could not be written to {folder}: {exc.strerror}",
              file=sys.stderr)


def script() -> None:
    """The `winback` executable: main() as the whole life of the process. What the command
    loaded (the definitions, dagster-dbt's manifest) is kept out of the collections the
    interpreter runs at exit, which would walk all of it (~1 s after a run) and free nothing
    that outlives the process."""
    status = main()
    gc.freeze()
    sys.exit(status)


if __name__ == "__main__":
    script()

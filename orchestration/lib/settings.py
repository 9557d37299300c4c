"""Run settings from WINBACK_* environment variables, with local defaults.

Relative paths resolve against the repository root, so the pipeline, dbt (which runs from
`dbt_project/`) and the CLI agree on where files are whatever the working directory.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

REPO_ROOT = Path(__file__).resolve().parents[2]
# Parts of the repository the code reads (not configurable: they ship with the code).
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"
SPARK_LOG4J2_CONFIG = DBT_PROJECT_DIR / "spark" / "log4j2.properties"
# The Dagster code location and where `winback ui` (like `make`) keeps runs by default.
WORKSPACE_FILE = REPO_ROOT / "workspace.yaml"
DEFAULT_DAGSTER_HOME = REPO_ROOT / ".dagster_home"


class SettingsError(ValueError):
    """A WINBACK_* setting is malformed; the message names the variable and the fix."""


@dataclass(frozen=True)
class SqlSourceSettings:
    """An operational database read incrementally into `raw.<entity>` (orders, customers)."""

    entity: str
    url: str  # SQLAlchemy URL; may hold a password, so it is never logged or stored
    table: str  # table name (optionally schema.table) when no query is given
    query: str  # a SELECT with the contract's column names; wins over `table`
    batch_rows: int

    @property
    def label(self) -> str:
        """Lineage name of the source in `_source_file` and the watermark table."""
        return "sql:" + ("query" if self.query else self.table)


SQL_ENTITIES = ("orders", "customers")
# Declarable CSV encodings (read natively by DuckDB); files are UTF-8 unless declared.
FILE_ENCODINGS = ("utf-8", "utf-16", "latin-1")


@dataclass(frozen=True)
class DuckDBSettings:
    """Limits of every DuckDB connection (the pipeline's and dbt's). Above `memory_limit` DuckDB
    spills to `temp_directory` instead of failing; None means beside the warehouse file."""

    memory_limit: str
    threads: int
    temp_directory: Path | None

    def for_warehouse(self, warehouse: Path) -> dict[str, str]:
        """The DuckDB settings (name -> value) of a connection to `warehouse`."""
        temp = self.temp_directory or warehouse.with_name(warehouse.name + ".tmp")
        return {"memory_limit": self.memory_limit, "threads": str(self.threads),
                "temp_directory": str(temp)}


# The warehouse engines of the dbt layer (WINBACK_ENGINE); DuckDB is the default. The pipeline runs
# on each (orchestration/defs/dbt/engine_copy.py).
ENGINES = ("duckdb", "postgres", "spark")


@dataclass(frozen=True)
class PostgresSettings:
    """A PostgreSQL database dbt builds in (WINBACK_ENGINE=postgres)."""

    host: str
    port: int
    user: str
    database: str
    # Never logged, never in dbt's --vars (which dbt writes to target/): it reaches dbt through
    # the environment variable DBT_ENV_SECRET_WINBACK_POSTGRES_PASSWORD, which dbt masks.
    password: str = field(default="", repr=False)

    @property
    def label(self) -> str:
        """Where, without the password: user@host:port/database."""
        return f"{self.user}@{self.host}:{self.port}/{self.database}"

    def dsn(self) -> dict[str, str | int]:
        """Keyword arguments of psycopg2.connect."""
        return {"host": self.host, "port": self.port, "user": self.user,
                "password": self.password, "dbname": self.database}


@dataclass(frozen=True)
class SparkSettings:
    """A local Spark session (dbt-spark `method: session`): tables are files under
    `warehouse_dir`, their catalog an embedded Derby metastore in `warehouse_dir/metastore_db`."""

    warehouse_dir: Path
    # WINBACK_SPARK_JAVA_OPTIONS: more options for every driver JVM (dbt's session and the
    # copy and gate children), e.g. the test suite's quick compiler and serial collector
    # (tests/conftest.py: short-lived JVMs on little data, 40 % less CPU a run).
    extra_java_options: str = ""

    def java_options(self) -> str:
        """The driver JVM's options: Derby's home (the warehouse folder) and the log4j2 file
        that sends the JVM's log lines to `warehouse_dir/logs/spark.log`, not to the stdout
        and stderr dagster-dbt parses dbt's events from; then the extra ones."""
        return " ".join(filter(None, (f"-Dderby.system.home={self.warehouse_dir}",
                                      f"-Dlog4j2.configurationFile={SPARK_LOG4J2_CONFIG}",
                                      self.extra_java_options.strip())))

    def to_request(self) -> dict[str, str]:
        """These settings as JSON for a child process (from_request reads them back)."""
        return {"spark_warehouse": str(self.warehouse_dir),
                "spark_extra_java_options": self.extra_java_options}

    @classmethod
    def from_request(cls, request: Mapping[str, Any]) -> SparkSettings:
        return cls(Path(request["spark_warehouse"]), request["spark_extra_java_options"])

    def session_config(self) -> dict[str, str]:
        """The SparkSession settings the dbt profile and the Python side both use."""
        metastore = self.warehouse_dir / "metastore_db"
        return {
            "spark.sql.warehouse.dir": str(self.warehouse_dir / "tables"),
            "spark.hadoop.javax.jdo.option.ConnectionURL":
                f"jdbc:derby:;databaseName={metastore};create=true",
            "spark.driver.extraJavaOptions": self.java_options(),
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.sources.partitionOverwriteMode": "dynamic",
            "spark.ui.enabled": "false",
            # The console progress bar ("[Stage 3:>  (0 + 1) / 1]" and carriage returns, no
            # newline) goes to stderr, outside log4j2, and would start dbt's next JSON line.
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.shuffle.partitions": "2",
            # Hive's folder for a session's downloaded resources; by default a new
            # /tmp/<session uuid>_resources per session, never removed.
            "spark.hadoop.hive.downloaded.resources.dir":
                str(self.warehouse_dir / "hive_resources"),
        }


@dataclass(frozen=True)
class EngineSettings:
    """WINBACK_ENGINE and the connection of the chosen engine (None for the others)."""

    name: str = "duckdb"
    postgres: PostgresSettings | None = None
    spark: SparkSettings | None = None

    @property
    def label(self) -> str:
        if self.postgres is not None:
            return f"postgres ({self.postgres.label})"
        if self.spark is not None:
            return f"spark (session, warehouse {self.spark.warehouse_dir})"
        return self.name


@dataclass(frozen=True)
class Settings:
    landing_dir: Path
    warehouse: Path
    export_dir: Path
    as_of: dt.date
    source_timezone: str
    # None unless WINBACK_INACTIVE_DAYS is set; then it replaces the policy file's fixed threshold.
    inactive_days: int | None
    max_reject_share: float
    sql_sources: tuple[SqlSourceSettings, ...] = ()
    # entity -> declared CSV encoding (WINBACK_<ENTITY>_ENCODING); absent means UTF-8
    file_encodings: Mapping[str, str] = field(default_factory=dict)
    duckdb: DuckDBSettings = field(default_factory=lambda: load_duckdb_settings({}))
    engine: EngineSettings = field(default_factory=EngineSettings)

    def file_encoding(self, entity: str) -> str:
        return self.file_encodings.get(entity, "utf-8")

    policies_file: Path = REPO_ROOT / "config" / "inactivity_policies.yml"
    audiences_file: Path = REPO_ROOT / "config" / "audiences.yml"
    platforms_file: Path = REPO_ROOT / "config" / "platforms.yml"
    # How long a run waits for another run to release the warehouse (WINBACK_RUN_WAIT_SECONDS).
    run_wait_seconds: float = 1800.0
    # Published copy of the warehouse for readers (analysts, BI), replaced after each run.
    serving_dir: Path = REPO_ROOT / "data" / "serving"
    # Publish the personal columns (email, phone, names) in the serving copy too; off by default.
    serving_personal_data: bool = False
    # Full traces of failed commands (the terminal gets one line naming the file).
    log_dir: Path = REPO_ROOT / "data" / "logs"
    # Failed runs are appended here as JSON lines (WINBACK_ALERT_DIR).
    alert_dir: Path = REPO_ROOT / "data" / "alerts"
    # Failed runs are also posted here when set; may embed a token, so it is never logged.
    alert_webhook_url: str | None = None
    # The HTML report (WINBACK_REPORT); None means report/index.html beside the serving folder.
    report: Path | None = None
    # Processes that validate many new emails and phones (WINBACK_CHECK_WORKERS).
    check_workers: int = 2
    # Rows a Great Expectations suite validates per run at most (WINBACK_GX_MAX_ROWS).
    gx_max_rows: int = 50_000
    # Models (and data tests) dbt builds at once (WINBACK_DBT_THREADS).
    dbt_threads: int = 1
    # Days of exported member lists the warehouse keeps for the adds and removes files, before
    # each audience and platform's newest export (WINBACK_EXPORT_HISTORY_DAYS).
    export_history_days: int = 14

    def sql_source(self, entity: str) -> SqlSourceSettings | None:
        return next((s for s in self.sql_sources if s.entity == entity), None)

    @property
    def report_path(self) -> Path:
        return self.report or self.serving_dir.parent / "report" / "index.html"

    @property
    def landing_configured(self) -> bool:
        return self.landing_dir != resolve_path(DEFAULTS["WINBACK_LANDING_DIR"])


DEFAULTS = {
    "WINBACK_LANDING_DIR": "data/landing",
    "WINBACK_WAREHOUSE": "data/warehouse/winback.duckdb",
    "WINBACK_EXPORT_DIR": "data/exports",
    "WINBACK_SOURCE_TZ": "UTC",
    "WINBACK_MAX_REJECT_SHARE": "0.05",
    "WINBACK_SQL_BATCH_ROWS": "50000",
    "WINBACK_INACTIVITY_POLICIES": "config/inactivity_policies.yml",
    "WINBACK_AUDIENCES": "config/audiences.yml",
    "WINBACK_PLATFORMS": "config/platforms.yml",
    "WINBACK_RUN_WAIT_SECONDS": "1800",
    "WINBACK_SERVING_DIR": "data/serving",
    "WINBACK_SERVING_PERSONAL_DATA": "false",
    "WINBACK_LOG_DIR": "data/logs",
    "WINBACK_REPORT": "",
    # Sized for a small machine (2 cores, a few GB); a bigger one can raise both.
    "WINBACK_DUCKDB_MEMORY_LIMIT": "2GB",
    "WINBACK_DUCKDB_THREADS": "2",
    # One model at a time: on DuckDB two models at once share one memory limit (two large ones
    # ran a 50M-order run out of it) and the same cores (benchmarks/README.md, issue 10).
    "WINBACK_DBT_THREADS": "1",
    "WINBACK_CHECK_WORKERS": "2",
    "WINBACK_GX_MAX_ROWS": "50000",
    "WINBACK_EXPORT_HISTORY_DAYS": "14",
    "WINBACK_ALERT_DIR": "data/alerts",
    "WINBACK_ENGINE": "duckdb",
    "WINBACK_SPARK_WAREHOUSE": "data/spark-warehouse",
}
BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
MEMORY_LIMIT = re.compile(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)


def resolve_path(value: str | os.PathLike[str]) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (REPO_ROOT / path).resolve()


def parse_as_of(value: str | None, today: dt.date | None = None) -> dt.date:
    if not value:
        return today or dt.datetime.now(dt.UTC).date()
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError as exc:
        raise SettingsError(
            f"WINBACK_AS_OF must be a date like 2026-11-27, got {value!r}"
        ) from exc


def load_duckdb_settings(environ: Mapping[str, str]) -> DuckDBSettings:
    """The DuckDB limits alone (every warehouse connection needs them, not the whole Settings)."""
    memory_limit = (environ.get("WINBACK_DUCKDB_MEMORY_LIMIT")
                    or DEFAULTS["WINBACK_DUCKDB_MEMORY_LIMIT"]).strip()
    if not MEMORY_LIMIT.fullmatch(memory_limit):
        raise SettingsError(
            f"WINBACK_DUCKDB_MEMORY_LIMIT must be a size like 2GB or 512MB, got {memory_limit!r}"
        )
    threads = (environ.get("WINBACK_DUCKDB_THREADS") or DEFAULTS["WINBACK_DUCKDB_THREADS"]).strip()
    if not threads.isdigit() or int(threads) < 1:
        raise SettingsError(
            f"WINBACK_DUCKDB_THREADS must be a positive whole number, got {threads!r}"
        )
    temp_dir = environ.get("WINBACK_DUCKDB_TEMP_DIR")
    return DuckDBSettings(
        memory_limit=memory_limit,
        threads=int(threads),
        temp_directory=resolve_path(temp_dir) if temp_dir else None,
    )


POSTGRES_PARTS = ("HOST", "PORT", "USER", "PASSWORD", "DATABASE")


def load_engine_settings(environ: Mapping[str, str]) -> EngineSettings:
    """WINBACK_ENGINE and its connection: PostgreSQL from WINBACK_POSTGRES_URL or from
    WINBACK_POSTGRES_HOST/_PORT/_USER/_PASSWORD/_DATABASE (not both), Spark from
    WINBACK_SPARK_WAREHOUSE and WINBACK_SPARK_JAVA_OPTIONS. Errors never repeat a password."""
    name = (environ.get("WINBACK_ENGINE") or DEFAULTS["WINBACK_ENGINE"]).strip().lower()
    if name not in ENGINES:
        raise SettingsError(f"WINBACK_ENGINE must be one of {', '.join(ENGINES)}, got {name!r}")
    if name == "postgres":
        return EngineSettings(name, postgres=_postgres_settings(environ))
    if name == "spark":
        warehouse = environ.get("WINBACK_SPARK_WAREHOUSE") or DEFAULTS["WINBACK_SPARK_WAREHOUSE"]
        return EngineSettings(name, spark=SparkSettings(
            resolve_path(warehouse), environ.get("WINBACK_SPARK_JAVA_OPTIONS", "")))
    return EngineSettings(name)


def _postgres_settings(environ: Mapping[str, str]) -> PostgresSettings:
    url = (environ.get("WINBACK_POSTGRES_URL") or "").strip()
    parts = {p: (environ.get(f"WINBACK_POSTGRES_{p}") or "").strip() for p in POSTGRES_PARTS}
    if url and any(parts.values()):
        raise SettingsError(
            "set either WINBACK_POSTGRES_URL or WINBACK_POSTGRES_HOST/_PORT/_USER/_PASSWORD/"
            "_DATABASE, not both"
        )
    if url:
        try:
            split = urlsplit(url)
            port = split.port or 5432
        except ValueError as exc:
            raise SettingsError(
                "WINBACK_POSTGRES_URL must look like postgresql://user:password@host:5432/database"
                " (its port is not a number)"
            ) from exc
        scheme = split.scheme.split("+")[0]
        database = unquote(split.path.lstrip("/"))
        if scheme not in ("postgres", "postgresql") or not split.hostname or not split.username \
                or not database:
            raise SettingsError(
                "WINBACK_POSTGRES_URL must look like postgresql://user:password@host:5432/database"
                " (scheme, user, host and database are required)"
            )
        return PostgresSettings(host=split.hostname, port=port, user=unquote(split.username),
                                database=database, password=unquote(split.password or ""))
    missing = [f"WINBACK_POSTGRES_{p}" for p in ("USER", "DATABASE") if not parts[p]]
    if missing:
        raise SettingsError(
            f"WINBACK_ENGINE=postgres needs WINBACK_POSTGRES_URL, or {' and '.join(missing)} "
            "(with WINBACK_POSTGRES_HOST, _PORT and _PASSWORD as needed)"
        )
    port = parts["PORT"] or "5432"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise SettingsError(f"WINBACK_POSTGRES_PORT must be a port number, got {port!r}")
    return PostgresSettings(host=parts["HOST"] or "127.0.0.1", port=int(port), user=parts["USER"],
                            database=parts["DATABASE"], password=parts["PASSWORD"])


def _positive_int(name: str, value: str) -> int:
    value = value.strip()
    if not value.isdigit() or int(value) < 1:
        raise SettingsError(f"{name} must be a positive whole number, got {value!r}")
    return int(value)


def load_settings(
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, str | None] | None = None,
    today: dt.date | None = None,
) -> Settings:
    """Settings from the environment; `overrides` (e.g. run config) win over it when set."""
    env = dict(os.environ if environ is None else environ)
    for key, value in (overrides or {}).items():
        if value not in (None, ""):
            env[key] = str(value)

    def get(name: str) -> str:
        return env.get(name) or DEFAULTS[name]

    timezone = get("WINBACK_SOURCE_TZ")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SettingsError(
            f"WINBACK_SOURCE_TZ must be an IANA time zone like Europe/London, got {timezone!r}"
        ) from exc
    try:
        raw_days = env.get("WINBACK_INACTIVE_DAYS")
        inactive_days = int(raw_days) if raw_days else None
        max_reject_share = float(get("WINBACK_MAX_REJECT_SHARE"))
    except ValueError as exc:
        raise SettingsError(
            "WINBACK_INACTIVE_DAYS must be a whole number of days and WINBACK_MAX_REJECT_SHARE "
            "a fraction such as 0.05"
        ) from exc
    if inactive_days is not None and inactive_days < 2:
        raise SettingsError("WINBACK_INACTIVE_DAYS must be at least 2 days")
    if not 0 <= max_reject_share <= 1:
        raise SettingsError("WINBACK_MAX_REJECT_SHARE must lie between 0 and 1")
    batch_rows = get("WINBACK_SQL_BATCH_ROWS")
    if not batch_rows.isdigit() or int(batch_rows) < 1:
        raise SettingsError(
            f"WINBACK_SQL_BATCH_ROWS must be a positive whole number of rows, got {batch_rows!r}"
        )
    check_workers, gx_max_rows, dbt_threads, export_history_days = (
        _positive_int(name, get(name))
        for name in ("WINBACK_CHECK_WORKERS", "WINBACK_GX_MAX_ROWS", "WINBACK_DBT_THREADS",
                     "WINBACK_EXPORT_HISTORY_DAYS")
    )
    run_wait = get("WINBACK_RUN_WAIT_SECONDS").strip()
    run_wait_error = SettingsError(
        f"WINBACK_RUN_WAIT_SECONDS must be a number of seconds, 0 or more, got {run_wait!r}"
    )
    try:
        run_wait_seconds = float(run_wait)
    except ValueError as exc:
        raise run_wait_error from exc
    if not 0 <= run_wait_seconds < float("inf"):
        raise run_wait_error
    personal_data = get("WINBACK_SERVING_PERSONAL_DATA").strip().lower()
    if personal_data not in BOOLEANS:
        raise SettingsError(
            f"WINBACK_SERVING_PERSONAL_DATA must be true or false, got {personal_data!r}"
        )
    sql_sources = tuple(
        SqlSourceSettings(
            entity=entity,
            url=env[f"WINBACK_{entity.upper()}_SQL_URL"],
            table=env.get(f"WINBACK_{entity.upper()}_SQL_TABLE") or entity,
            query=(env.get(f"WINBACK_{entity.upper()}_SQL_QUERY") or "").strip().rstrip(";"),
            batch_rows=int(batch_rows),
        )
        for entity in SQL_ENTITIES
        if env.get(f"WINBACK_{entity.upper()}_SQL_URL")
    )
    webhook = (env.get("WINBACK_ALERT_WEBHOOK_URL") or "").strip() or None
    if webhook and not webhook.startswith(("http://", "https://")):
        raise SettingsError("WINBACK_ALERT_WEBHOOK_URL must be an http:// or https:// URL")
    file_encodings = {}
    for name, value in env.items():
        if name.startswith("WINBACK_") and name.endswith("_ENCODING") and value:
            encoding = value.strip().lower().replace("_", "-")
            encoding = {"utf8": "utf-8", "latin1": "latin-1", "iso-8859-1": "latin-1",
                        "utf16": "utf-16"}.get(encoding, encoding)
            if encoding not in FILE_ENCODINGS:
                raise SettingsError(
                    f"{name} must be one of {', '.join(FILE_ENCODINGS)}, got {value!r}; "
                    "re-export the files as UTF-8 otherwise"
                )
            file_encodings[name.removeprefix("WINBACK_").removesuffix("_ENCODING").lower()] = (
                encoding
            )
    return Settings(
        landing_dir=resolve_path(get("WINBACK_LANDING_DIR")),
        warehouse=resolve_path(get("WINBACK_WAREHOUSE")),
        export_dir=resolve_path(get("WINBACK_EXPORT_DIR")),
        as_of=parse_as_of(env.get("WINBACK_AS_OF"), today),
        source_timezone=timezone,
        inactive_days=inactive_days,
        max_reject_share=max_reject_share,
        sql_sources=sql_sources,
        file_encodings=file_encodings,
        duckdb=load_duckdb_settings(env),
        engine=load_engine_settings(env),
        policies_file=resolve_path(get("WINBACK_INACTIVITY_POLICIES")),
        audiences_file=resolve_path(get("WINBACK_AUDIENCES")),
        platforms_file=resolve_path(get("WINBACK_PLATFORMS")),
        run_wait_seconds=run_wait_seconds,
        serving_dir=resolve_path(get("WINBACK_SERVING_DIR")),
        serving_personal_data=BOOLEANS[personal_data],
        log_dir=resolve_path(get("WINBACK_LOG_DIR")),
        alert_dir=resolve_path(get("WINBACK_ALERT_DIR")),
        alert_webhook_url=webhook,
        report=resolve_path(get("WINBACK_REPORT")) if get("WINBACK_REPORT") else None,
        check_workers=check_workers,
        gx_max_rows=gx_max_rows,
        dbt_threads=dbt_threads,
        export_history_days=export_history_days,
    )

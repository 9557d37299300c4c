"""Check every setting and configuration file before a run loads or writes anything.

`winback validate` runs these checks alone and `winback run` runs them first, so a typo in a
configuration file is reported in about a second, in one line naming the file, the field and the
fix, instead of after ingestion inside a stack trace. Nothing here starts Dagster.
"""

from __future__ import annotations

import datetime as dt
import errno
import importlib.util
import os
import shutil
from pathlib import Path

import yaml

from orchestration.lib.settings import Settings


class ConfigurationError(ValueError):
    """A setting or configuration file is unusable; the message names it and the fix."""


def _platform_limits(settings: Settings) -> None:
    from orchestration.defs.activation.match_rates import MatchRateConfigError, load_match_rates
    from orchestration.defs.activation.platforms import load_limits
    from orchestration.defs.activation.quotas import QuotaConfigError, load_daily_quotas

    path = settings.platforms_file
    try:
        load_limits(path)
        load_match_rates(path)
        load_daily_quotas(path)
    except (MatchRateConfigError, QuotaConfigError) as exc:
        raise ConfigurationError(str(exc)) from None
    except FileNotFoundError:
        raise ConfigurationError(
            f"{path}: the platform limits file does not exist; set WINBACK_PLATFORMS or restore "
            "config/platforms.yml"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigurationError(f"{path}: not valid YAML{where} (WINBACK_PLATFORMS)") from None


def _landing(settings: Settings) -> None:
    # Unset, the landing folder is where `winback run` generates the demo data.
    if settings.landing_configured and not settings.landing_dir.is_dir():
        raise ConfigurationError(
            f"WINBACK_LANDING_DIR {settings.landing_dir} is not a folder; create it with one "
            "sub-folder per entity (orders/, customers/, ...) or point WINBACK_LANDING_DIR at it"
        )


def _sql_sources(settings: Settings) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    for source in settings.sql_sources:
        variable = f"WINBACK_{source.entity.upper()}_SQL_URL"
        try:
            make_url(source.url)
        except (ArgumentError, ValueError):
            # The URL may hold a password: never repeat it.
            raise ConfigurationError(
                f"{variable} is not a SQLAlchemy URL; write it like "
                "postgresql+psycopg2://user:password@host:5432/database"
            ) from None


def writable_folder_problem(folder: Path) -> str | None:
    """Why `folder` (created on demand) cannot be written, or None. Looks at the nearest
    existing folder, so nothing is created here."""
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, not a folder ({os.strerror(errno.ENOTDIR)})"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable ({os.strerror(errno.EACCES)})"
    return None


def _folders(settings: Settings) -> None:
    for variable, folder in (
        ("WINBACK_WAREHOUSE", settings.warehouse.parent),
        ("WINBACK_EXPORT_DIR", settings.export_dir),
        ("WINBACK_SERVING_DIR", settings.serving_dir),
        ("WINBACK_LOG_DIR", settings.log_dir),
        ("WINBACK_ALERT_DIR", settings.alert_dir),
    ):
        problem = writable_folder_problem(folder)
        if problem:
            raise ConfigurationError(
                f"{variable} {folder} cannot be written: {problem}; point {variable} at a "
                "writable folder or fix its permissions"
            )


def check_configuration(settings: Settings) -> list[str]:
    """Raise the first problem (ConfigurationError, or the file's own error naming the field);
    return what was checked, for `winback validate`."""
    from orchestration.lib.audiences import audiences_for
    from orchestration.lib.policies import policies_for

    policies_for(settings)
    audiences = audiences_for(settings)
    _platform_limits(settings)
    _landing(settings)
    _sql_sources(settings)
    _folders(settings)
    return [
        "settings (WINBACK_*)",
        f"inactivity policies  {settings.policies_file}",
        f"audiences            {settings.audiences_file} ({len(audiences.audiences)} audiences)",
        f"platform limits      {settings.platforms_file}",
        f"engine               {settings.engine.label}",
        f"landing folder       {settings.landing_dir}"
        + ("" if settings.landing_configured else " (demo data when unset)"),
        *(f"SQL source           {s.entity} ({s.label})" for s in settings.sql_sources),
        "writable folders     warehouse, exports, serving, logs, alerts",
    ]


def check_pipeline_engine(settings: Settings) -> None:
    """The whole pipeline runs on each engine (dbt in the engine, the Python stages on the local
    file: orchestration/defs/dbt/engine_copy.py). Spark needs the engines extra and Java: say so
    in one line before the run ingests anything, not in a JVM's stack trace after."""
    if settings.engine.name != "spark":
        return
    missing = [package for package, module in (("pyspark", "pyspark"),
                                               ("dbt-spark", "dbt.adapters.spark"))
               if importlib.util.find_spec(module) is None]
    if missing:
        raise ConfigurationError(
            f"WINBACK_ENGINE=spark needs {' and '.join(missing)}: install the engines extra "
            "(make install EXTRAS=dev,engines)")
    java_home = os.environ.get("JAVA_HOME")
    java = (Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if java is None or not Path(java).exists():
        raise ConfigurationError(
            "WINBACK_ENGINE=spark needs Java 17: install it (apt-get install "
            "openjdk-17-jre-headless) or set JAVA_HOME to its folder"
            + (f" (JAVA_HOME {java_home} has no bin/java)" if java_home else ""))


def check_as_of(as_of: dt.date, *, today: dt.date, allow_future: bool) -> None:
    """A run as of a later day than today would read data that does not exist yet."""
    if as_of > today and not allow_future:
        raise ConfigurationError(
            f"as-of date {as_of} is in the future (today is {today}, UTC); use a date up to "
            "today, or pass --allow-future"
        )


def warehouse_as_of(warehouse: Path) -> dt.date:
    """The as-of date of the last run that built the warehouse's marts."""
    from orchestration.lib.warehouse import open_warehouse

    missing = ConfigurationError(
        f"no pipeline run in the warehouse {warehouse}; run `winback run` first (WINBACK_WAREHOUSE)"
    )
    if not warehouse.exists():
        raise missing
    with open_warehouse(warehouse, read_only=True) as con:
        found = con.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = 'inactivity' AND table_name = 'customer_inactivity_status'"
        ).fetchone()[0]
        if not found:
            raise missing
        (as_of,) = con.execute(
            "SELECT max(as_of_date) FROM inactivity.customer_inactivity_status").fetchone()
    if as_of is None:
        raise missing
    return as_of

"""Failures of `winback` commands: one line a person can act on, the full trace in a log file.

The line says what failed and what to do; the log file (named in the line) holds the traces.
Neither carries row values: Winback's own errors name files, fields and rules only, and the
traces are written as the errors were raised (the same text Dagster keeps for the run).
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import re
import tempfile
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dagster._utils.error import SerializableErrorInfo

# Exit codes: bad configuration or input the user can fix, or a run that failed.
EXIT_CONFIG = 2
EXIT_RUN = 1

# Errors of writing where the fix is outside Winback: say which folder and what to do.
WRITE_ERRNOS = {
    errno.ENOSPC: "free space on that disk",
    errno.EDQUOT: "free space or raise the disk quota",
    errno.EACCES: "give the user running Winback write access to it",
    errno.EPERM: "give the user running Winback write access to it",
    errno.EROFS: "point the setting at a writable file system",
    errno.ENOTDIR: "a file stands where a folder should be: move it or change the setting",
}
CONFIG_ERRORS = {
    "SettingsError", "PolicyError", "AudienceConfigError", "PlatformConfigError",
    "MatchRateConfigError", "QuotaConfigError",
    "ConfigurationError", "IngestError",
}
# Winback's own errors whose message is already the line to show.
SELF_EXPLAINING = CONFIG_ERRORS | {"RunLockTimeout", "WarehouseLockedError"}
_ERRNO = re.compile(r"\[Errno (\d+)\]")
_PATH = re.compile(r"""['"](/[^'"]+)['"]""")


@dataclass(frozen=True)
class Failure:
    line: str  # one line: what failed and what to do
    exit_code: int
    trace: str


class RunFailed(Exception):
    """A Dagster run of the pipeline failed; carries the one line and the steps' traces."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.line)
        self.failure = failure


def _one_line(text: str) -> str:
    return " ".join(text.split())


def write_error(text: str) -> str | None:
    """The one line for an OS write error (by errno, or by its text in DuckDB's messages)."""
    match = _ERRNO.search(text)
    number = int(match.group(1)) if match else next(
        (n for n in WRITE_ERRNOS if os.strerror(n) in text), None)
    if number not in WRITE_ERRNOS:
        return None
    path = _PATH.search(text)
    where = f"in {Path(path.group(1)).parent}" if path else "a file"
    return (f"cannot write {where}: {os.strerror(number)} ({errno.errorcode[number]}); "
            f"{WRITE_ERRNOS[number]}, then run again")


def from_exception(exc: BaseException) -> Failure:
    if isinstance(exc, RunFailed):
        return exc.failure
    trace = "".join(traceback.format_exception(exc))
    name = type(exc).__name__
    if isinstance(exc, OSError) and exc.errno in WRITE_ERRNOS:
        where = Path(exc.filename).parent if exc.filename else None
        line = (f"cannot write{f' in {where}' if where else ''}: {os.strerror(exc.errno)} "
                f"({errno.errorcode[exc.errno]}); {WRITE_ERRNOS[exc.errno]}, then run again")
        return Failure(line, EXIT_RUN, trace)
    message = _one_line(str(exc))
    line = message if name in SELF_EXPLAINING and message else f"{name}: {message}"
    return Failure(line, EXIT_CONFIG if name in CONFIG_ERRORS else EXIT_RUN, trace)


def _chain(error: SerializableErrorInfo) -> list[SerializableErrorInfo]:
    chain = [error]
    while chain[-1].cause is not None:
        chain.append(chain[-1].cause)
    return chain


def from_run(failures: Iterable[tuple[str, SerializableErrorInfo]]) -> Failure:
    """The failure of a run from its failed steps (step key, error), first step first."""
    failures = list(failures)
    trace = "\n\n".join(f"step {step}:\n{error.to_string()}" for step, error in failures)
    if not failures:
        return Failure("the run failed before any step ran", EXIT_RUN, trace)
    step, error = failures[0]
    chain = _chain(error)
    # The error the step raised (its causes are details for the log), not Dagster's wrapper
    # nor the dg.Failure that marks it as not worth retrying.
    inner = next((e for e in chain if not e.cls_name.startswith("Dagster")
                  and not (e.cls_name == "Failure" and e.cause is not None)), chain[-1])
    # Messages only: the stack traces name source files, not the file that failed.
    disk = write_error("\n".join(e.message for e in chain))
    if disk:
        return Failure(f"step {step} failed: {disk}", EXIT_RUN, trace)
    message = inner.message.strip().splitlines()[0] if inner.message.strip() else inner.cls_name
    message = re.sub(rf"^(\w+\.)*{re.escape(inner.cls_name)}: ", "", message)
    code = EXIT_CONFIG if inner.cls_name in CONFIG_ERRORS else EXIT_RUN
    more = f" (and {len(failures) - 1} more failed steps)" if len(failures) > 1 else ""
    return Failure(_one_line(f"step {step} failed: {message}{more}"), code, trace)


def log_path(log_dir: Path, now: dt.datetime | None = None) -> Path:
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    return log_dir / f"winback-{stamp}-{os.getpid()}.log"


def write_log(log_dir: Path, command: str, failure: Failure) -> Path:
    """Write the trace to the log folder, or to the system temp folder if that one fails."""
    text = (f"winback {command} failed at {dt.datetime.now(dt.UTC).isoformat()}\n"
            f"exit code {failure.exit_code}: {failure.line}\n\n{failure.trace}\n")
    for folder in (log_dir, Path(tempfile.gettempdir())):
        path = log_path(folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            os.chmod(path, 0o600)
            return path
        except OSError:
            continue
    raise OSError(errno.EACCES, "no folder to write the log file to")

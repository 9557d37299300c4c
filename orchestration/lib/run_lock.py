"""One run at a time: an exclusive file lock beside the warehouse, held for a whole run.

DuckDB lets one process write a file and locks it per connection, so two runs interleaving
steps fail each other. The run lock serialises whole runs instead: the second run waits its
turn (up to WINBACK_RUN_WAIT_SECONDS) and then runs. The lock is an `fcntl.flock` on
`<warehouse>.run.lock`; the kernel drops it when the holding process ends, so a killed run never
leaves a stale lock. It is re-entrant within a process: the CLI takes it before it starts
Dagster, and the run's `winback` resource (in the same process) takes it again without waiting.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

POLL_SECONDS = 0.5

_held: dict[Path, tuple[int, int]] = {}  # lock path -> (file descriptor, depth) in this process
_guard = threading.Lock()


class RunLockTimeout(RuntimeError):
    """Another run kept the warehouse longer than the configured wait."""


def run_lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".run.lock")


def _holder(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 200).decode("utf-8", "replace").strip()
    return f" ({text})" if text else ""


def acquire(
    path: Path, wait_seconds: float, on_wait: Callable[[str], None] | None = None
) -> None:
    """Take the lock at `path`, waiting up to `wait_seconds` for another process to release it;
    `on_wait` receives one line when the wait starts. Raises RunLockTimeout past the limit."""
    path = path.resolve()
    with _guard:
        if path in _held:
            fd, depth = _held[path]
            _held[path] = (fd, depth + 1)
            return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + wait_seconds
    waiting = False
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _holder(fd)
                if time.monotonic() >= deadline:
                    raise RunLockTimeout(
                        f"Another Winback run is using the warehouse{holder}; waited "
                        f"{wait_seconds:g} s (WINBACK_RUN_WAIT_SECONDS). Run again when it has "
                        f"finished, or raise WINBACK_RUN_WAIT_SECONDS (lock file {path})."
                    ) from None
                if not waiting and on_wait is not None:
                    on_wait(
                        f"Another Winback run is using the warehouse{holder}; waiting up to "
                        f"{wait_seconds:g} s for it to finish (WINBACK_RUN_WAIT_SECONDS) ..."
                    )
                waiting = True
                time.sleep(min(POLL_SECONDS, max(deadline - time.monotonic(), 0.0)))
    except BaseException:
        os.close(fd)
        raise
    started = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} since {started}".encode(), 0)
    with _guard:
        _held[path] = (fd, 1)


def release(path: Path) -> None:
    path = path.resolve()
    with _guard:
        fd, depth = _held[path]
        if depth > 1:
            _held[path] = (fd, depth - 1)
            return
        del _held[path]
    os.ftruncate(fd, 0)
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


@contextmanager
def run_lock(
    path: Path, wait_seconds: float, on_wait: Callable[[str], None] | None = None
) -> Iterator[None]:
    acquire(path, wait_seconds, on_wait)
    try:
        yield
    finally:
        release(path)

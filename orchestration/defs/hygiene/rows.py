"""The per-value work of the hygiene assets (one stored row per checked value), and the worker
processes that do it for large batches. No Dagster import: each worker imports this module.

A worker is `python -m orchestration.defs.hygiene.rows`: it reads pickled (check, rows) tasks
from stdin and writes the pickled results to stdout, one at a time. Plain subprocesses rather
than multiprocessing: spawn and forkserver import the parent's main script in every worker (a
script without a main guard runs again; a pytest-xdist worker's main is no file at all), and
fork would copy a process that runs DuckDB's and Dagster's threads, whose locks may be held at
that moment."""

from __future__ import annotations

import os
import pickle
import queue
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

from orchestration.lib.contacts import check_email, check_phone

Row = tuple[Any, ...]
Check = Callable[[Row], Row]
# The folder that holds the `orchestration` package: a worker runs from there.
_PACKAGE_PARENT = Path(__file__).resolve().parents[3]


def email_row(row: Row) -> Row:
    """(email_raw,) -> a row of hygiene.email_checks."""
    (raw,) = row
    result = check_email(raw)
    return (raw, result.email_normalized, result.is_valid, result.invalid_reason,
            result.is_role_address, result.is_disposable_domain)


def phone_row(row: Row) -> Row:
    """(phone_raw, country_code) -> a row of hygiene.phone_checks."""
    raw, country = row
    result = check_phone(raw, country)
    return (raw, country, result.phone_e164, result.phone_extension, result.phone_type,
            result.is_valid, result.invalid_reason)


def check_rows(check: Check, rows: Sequence[Row]) -> list[Row]:
    """check(row) for each row: the unit of work a worker process gets."""
    return [check(row) for row in rows]


class WorkerError(RuntimeError):
    """A worker process died or failed; the message holds its exit code, never a value."""


class _Worker:
    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "orchestration.defs.hygiene.rows"],
            cwd=_PACKAGE_PARENT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )

    def run(self, check: Check, rows: Sequence[Row]) -> list[Row]:
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None and stdout is not None
        try:
            pickle.dump((check, list(rows)), stdin, protocol=pickle.HIGHEST_PROTOCOL)
            stdin.flush()
            ok, result = pickle.load(stdout)
        except (BrokenPipeError, EOFError, pickle.UnpicklingError) as exc:
            raise WorkerError(
                f"a contact-check worker process stopped (exit code {self._process.poll()})"
            ) from exc
        if not ok:
            raise WorkerError(f"a contact-check worker process failed: {result}")
        return result

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def check_chunks(
    chunks: Iterable[Sequence[Row]], check: Check, workers: int
) -> Iterator[list[Row]]:
    """check_rows over each chunk, results in order, in `workers` processes: each gets one
    chunk at a time and at most two chunks per worker are read ahead, so memory stays bounded.
    `check` must be a module-level function (it is pickled by name)."""
    started = [_Worker() for _ in range(workers)]
    idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
    for worker in started:
        idle.put(worker)

    def task(rows: Sequence[Row]) -> list[Row]:
        worker = idle.get()
        try:
            return worker.run(check, rows)
        finally:
            idle.put(worker)

    in_flight: deque[Future[list[Row]]] = deque()
    try:
        with ThreadPoolExecutor(max_workers=workers) as threads:
            try:
                for rows in chunks:
                    in_flight.append(threads.submit(task, rows))
                    if len(in_flight) >= 2 * workers:
                        yield in_flight.popleft().result()
                while in_flight:
                    yield in_flight.popleft().result()
            finally:
                for future in in_flight:
                    future.cancel()
    finally:
        for worker in started:
            worker.close()


def _serve(tasks: IO[bytes], results: IO[bytes]) -> None:
    while True:
        try:
            check, rows = pickle.load(tasks)
        except EOFError:
            return
        try:
            reply: tuple[bool, Any] = (True, check_rows(check, rows))
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises
            # The exception's type only: its text may quote the value being checked.
            reply = (False, type(exc).__name__)
        pickle.dump(reply, results, protocol=pickle.HIGHEST_PROTOCOL)
        results.flush()


if __name__ == "__main__":
    # The results get the real stdout alone; anything a library prints goes to stderr.
    _results = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    _serve(sys.stdin.buffer, _results)

"""`winback-dbt`: the dbt executable of the dbt resource. Runs dbt in a fork of the run's dbt fork
server when there is one (fork_server.py), else runs the installed dbt's command line in its own
process (the Dagster UI and daemon start no server); either way the caller sees one process with
dbt's output, exit status and signal handling."""

from __future__ import annotations

import os
import signal
import socket
import sys
from pathlib import Path

from orchestration.defs.dbt.adjustments import adjust_dbt
from orchestration.defs.dbt.fork_server import ENV, send_request
from orchestration.lib.collector import collect_rarely

FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _read_line(conn: socket.socket) -> str | None:
    data = bytearray()
    while not data.endswith(b"\n"):
        chunk = conn.recv(64)  # a forwarded signal does not interrupt it (PEP 475)
        if not chunk:
            return None
        data += chunk
    return data.decode().strip()


def run_forked(path: str) -> int | None:
    """dbt's exit status from a fork of the server at `path`; None when no dbt ran (no server,
    or it failed before forking)."""
    # Interrupts meant for dbt (dagster-dbt sends SIGINT on cancel) reach it, including one that
    # comes while the server forks: it waits here until the child's pid is known.
    child: int | None = None
    pending: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        if child is None:
            pending.append(signum)
        else:
            os.kill(child, signum)

    previous = {number: signal.signal(number, forward) for number in FORWARDED_SIGNALS}
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with conn:
        try:
            conn.connect(path)
            send_request(conn, {"argv": ["dbt", *sys.argv[1:]], "env": dict(os.environ),
                                "cwd": os.getcwd()})
            pid = _read_line(conn)
        except OSError:
            pid = None
        if pid is None:
            if pending:  # interrupted before any dbt ran: end as the signal would have
                return 128 + pending[0]
            for number, handler in previous.items():  # the installed dbt's, as without a server
                signal.signal(number, handler)
            return None
        child = int(pid)
        for signum in pending:
            os.kill(child, signum)
        status = _read_line(conn)
    if status is None:
        print(f"winback-dbt: dbt (pid {child}) ended without an exit status", file=sys.stderr)
        return 1
    return int(status)


def run_here() -> None:
    """The installed dbt's command line in this process, as the `dbt` script runs it (dbt's click
    group reads sys.argv and ends with SystemExit), adjusted (adjustments.py) and collecting its
    garbage rarely, as a fork of the server is."""
    from dbt.cli.main import cli

    adjust_dbt()
    collect_rarely()
    sys.argv[0] = str(Path(sys.executable).parent / "dbt")
    cli()


def main() -> None:
    path = os.environ.get(ENV)
    if path:
        status = run_forked(path)
        if status is not None:
            sys.exit(status)
    run_here()

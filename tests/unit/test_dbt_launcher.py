"""`winback-dbt` passes a cancel on to dbt even when it comes while the fork server is still
forking (launcher.py): dagster-dbt cancels a run by sending SIGINT to the process it started, and a
signal lost in that moment would leave dbt running, holding the warehouse, after the run ended."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from orchestration.defs.dbt.fork_server import receive_request
from orchestration.defs.dbt.launcher import FORWARDED_SIGNALS, run_forked


@pytest.fixture
def restored_handlers():
    saved = {number: signal.getsignal(number) for number in FORWARDED_SIGNALS}
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


def _slow_forking_server(path: Path, started: list) -> threading.Thread:
    """A server that takes the request, is interrupted (the launcher gets SIGINT) before it has
    a child, then starts one (a sleeping process standing in for dbt) and reports its pid and,
    once it ends, its exit status."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)

    def serve() -> None:
        with listener, listener.accept()[0] as conn:
            _request, fds = receive_request(conn)
            for fd in fds:
                os.close(fd)
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
            # coreutils' sleep, not a Python one: a Python child interrupted while it still
            # imports its site module ends with a fatal error (exit 1), not by the signal.
            child = subprocess.Popen(["sleep", "60"])
            started.append(child)
            conn.sendall(f"{child.pid}\n".encode())
            status = child.wait(timeout=30)
            conn.sendall(f"{status}\n".encode())

    return threading.Thread(target=serve, daemon=True)


def _launch(path: Path) -> int | None:
    try:
        return run_forked(str(path))
    except KeyboardInterrupt:
        pytest.fail("the interrupt stopped the launcher instead of reaching dbt")


def test_an_interrupt_before_the_fork_is_known_still_reaches_dbt(tmp_path, restored_handlers):
    started: list[subprocess.Popen] = []
    server = _slow_forking_server(tmp_path / "dbt.sock", started)
    server.start()
    status = _launch(tmp_path / "dbt.sock")
    server.join(timeout=30)
    assert started, "the server never started its child"
    # The child got the SIGINT that arrived before its pid did, and its end is the launcher's.
    assert started[0].returncode == -signal.SIGINT
    assert status == -signal.SIGINT


def test_an_interrupt_when_no_dbt_can_start_ends_the_launcher_as_interrupted(
        tmp_path, restored_handlers):
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(tmp_path / "dbt.sock"))
    listener.listen(1)

    def refuse() -> None:  # takes the request, is interrupted, then closes without forking
        with listener, listener.accept()[0] as conn:
            for fd in receive_request(conn)[1]:
                os.close(fd)
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

    server = threading.Thread(target=refuse, daemon=True)
    server.start()
    status = _launch(tmp_path / "dbt.sock")
    server.join(timeout=30)
    assert status == 128 + signal.SIGINT

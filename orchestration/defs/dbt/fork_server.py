"""A dbt fork server for one run: dbt-core and its adapter imported once, each dbt invocation
a fork of that process.

dagster-dbt starts the dbt executable as a new process for every dbt step, and a new dbt spends
~2.5 s of CPU importing dbt-core and its adapter before it reads its arguments: twice per daily
run. `winback run` and `winback backfill` start this server first, so the import happens once
per command, on the other core, while the definitions load and the sources are ingested (a warm
run on tiny data: 3.6 s less wall, 1.4 s less CPU; benchmarks/README.md). The dbt resource's
executable is `winback-dbt` (launcher.py): it hands its arguments, environment, working
directory and standard streams to the server, whose child runs dbt's command line with them
as the `dbt` script would and reports its pid and exit status back to the launcher. Without a
server (the Dagster UI, the daemon, `winback export`, which runs no dbt) `winback-dbt` runs the
installed dbt.

Before its first fork the server can parse the project with the production steps' vars
(`parse_ahead`): the parse state goes where the steps start from, so the first step of a run
whose vars changed (a new warehouse, a new policy) does not parse the whole project itself, and
the caches dbt fills while parsing (its JSON schemas, its (de)serialisers) are the children's
from the start (~1 s of CPU a step on a warm day). A step that dagster-dbt seeded with the
state the parse ahead was replacing (a short run's first) gets the new one in its fork
(reseed_from_parse_ahead). The server adjusts dbt as `winback-dbt` does without one
(adjustments.py: the events it formats, the parse across warehouse locations, its result
tables' type testers, its macro namespaces), and has dbt compile each Jinja text once, loading
the code the steps cached before its first fork, so that each child does not compile it again
(jinja_templates.py). A child collects cyclic garbage rarely (collect_rarely,
orchestration/lib/collector.py), and a pipeline step's child writes no manifest.json
(without_manifest_artifacts).

Protocol on the Unix socket, one connection per invocation: the launcher sends an 8-byte
big-endian length with its stdin, stdout and stderr attached (SCM_RIGHTS), then that many bytes
of JSON {"argv", "env", "cwd"}; the child answers "<pid>\\n" when it starts and "<exit status>\\n"
when dbt is done. A connection closed before the pid means nothing ran.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import importlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestration.lib.collector import collect_rarely

ENV = "WINBACK_DBT_FORK_SERVER"  # the socket of the run's server; launcher.py reads it
_HEADER = 8
_STREAMS = 3  # stdin, stdout, stderr
_FORKED: set[int] = set()  # the server's dbt children not yet waited for


@dataclass(frozen=True)
class AheadState:
    """What parse_ahead left: the digest of the steps' parse state it replaced (None: there was
    none) and the state it wrote in its place."""

    before: str | None
    after: bytes


_AHEAD: AheadState | None = None


def receive_request(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    header, fds, _flags, _addr = socket.recv_fds(conn, _HEADER, _STREAMS)
    if len(header) != _HEADER or len(fds) != _STREAMS:
        for fd in fds:
            os.close(fd)
        raise ConnectionError("incomplete dbt request")
    size = int.from_bytes(header, "big")
    body = bytearray()
    while len(body) < size:
        chunk = conn.recv(min(size - len(body), 1 << 16))
        if not chunk:
            raise ConnectionError("incomplete dbt request")
        body += chunk
    return json.loads(body), fds


def send_request(conn: socket.socket, request: dict[str, Any]) -> None:
    body = json.dumps(request).encode()
    socket.send_fds(conn, [len(body).to_bytes(_HEADER, "big")], [0, 1, 2])
    conn.sendall(body)


def _exit_status(code: object) -> int:
    """What the interpreter makes of SystemExit(code)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _run_dbt(cli: Callable[[], Any], request: dict[str, Any], fds: list[int]) -> int:
    """In the child: become the process the launcher would have started, and run dbt."""
    for fd, stream in zip(fds, (0, 1, 2), strict=True):
        os.dup2(fd, stream)
        os.close(fd)
    collect_rarely()
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = list(request["argv"])
    if _AHEAD is not None:
        with contextlib.suppress(OSError):  # an optimisation: never the step's failure
            reseed_from_parse_ahead(_AHEAD, os.environ)
    if is_pipeline_step(os.environ):
        without_manifest_artifacts()
    try:
        cli()  # dbt's click group: reads sys.argv and ends with SystemExit, as the dbt script does
        code = 0
    except SystemExit as done:
        code = _exit_status(done.code)
    except BaseException:  # what the interpreter would print for an uncaught exception
        import traceback

        traceback.print_exc()
        code = 1
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    return code


def _fork(conn: socket.socket, listener: socket.socket, cli: Callable[[], Any],
          templates: Path | None) -> None:
    """`templates`: the cache of the Jinja the steps compile (jinja_templates.py)."""
    request, fds = receive_request(conn)
    pid = os.fork()
    if pid:
        _FORKED.add(pid)
    else:
        code = 1
        try:
            listener.close()
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            # As the dbt script would start: interruptible even where the server inherited an
            # ignored SIGINT (a job started in the background by a shell, pytest-xdist workers).
            signal.signal(signal.SIGINT, signal.default_int_handler)
            with contextlib.suppress(OSError):
                conn.sendall(f"{os.getpid()}\n".encode())
            code = _run_dbt(cli, request, fds)
            if templates is not None:
                from orchestration.defs.dbt.jinja_templates import record_used

                with contextlib.suppress(Exception):  # a hint: never the step's failure
                    record_used(templates)
            with contextlib.suppress(OSError):
                conn.sendall(f"{code}\n".encode())
        finally:
            # Never back into the server's loop: the child ends as the dbt script does, with
            # the interpreter's exit handlers (dbt's log files, multiprocessing's semaphores),
            # but without the collections the interpreter runs at exit over dbt's objects (the
            # manifest, ~0.5 s of CPU a step), which would free nothing that outlives it.
            gc.freeze()
            sys.exit(code)
    for fd in fds:
        os.close(fd)


def _project_dir(args: list[str]) -> Path:
    """The `--project-dir` of dbt's arguments `args`."""
    return Path(args[args.index("--project-dir") + 1])


def parse_ahead(args: list[str]) -> None:
    """`dbt parse` (`args` without its target and log paths) in a scratch folder seeded with the
    parse state the dbt steps start from, its new state then made theirs. An optimisation only:
    a failure leaves the state as it was, and the step parses and reports as it would have."""
    from dbt.cli.main import dbtRunner

    from orchestration.defs.dbt.state import (
        PARTIAL_PARSE_FILE,
        keep_partial_parse,
        parse_state_file,
    )

    global _AHEAD
    state = parse_state_file(_project_dir(args))
    with tempfile.TemporaryDirectory(prefix="winback-dbt-parse-") as scratch:
        before = None
        if state.exists():
            shutil.copyfile(state, Path(scratch) / PARTIAL_PARSE_FILE)
            before = _digest((Path(scratch) / PARTIAL_PARSE_FILE).read_bytes())
        try:
            # Without dbt's static parser, whose native thread pool would live on in the server
            # and deadlock a child that parses a model (fork() copies no threads, only locks).
            result = dbtRunner().invoke([*args, "--no-static-parser", "--target-path", scratch,
                                         "--log-path", scratch])
        except Exception:  # dbt reports its own failures in the result; anything else as well
            return
        if not result.success:
            return
        state.parent.mkdir(parents=True, exist_ok=True)
        keep_partial_parse(Path(scratch), state.parent)
        written = Path(scratch) / PARTIAL_PARSE_FILE
        after = written.read_bytes() if written.exists() else b""
        if after and _digest(after) != before:  # it parsed: steps seeded before are stale
            _AHEAD = AheadState(before, after)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def reseed_from_parse_ahead(ahead: AheadState, environ: Mapping[str, str]) -> bool:
    """In a child, before dbt starts: give the step the parse ahead's state when dagster-dbt
    seeded it with the one the parse ahead replaced. dagster-dbt copies the steps' state into
    a step's folder (its DBT_TARGET_PATH) when it starts the step, which on a short run can be
    while the server is still parsing ahead: that step, the first of the run, then parsed the
    whole project again with the state the parse ahead had just made obsolete. A step seeded
    with anything else (a later step's state, none) keeps it. Whether it replaced the seed."""
    from orchestration.defs.dbt.state import PARTIAL_PARSE_FILE
    from orchestration.lib.files import write_atomic

    target = environ.get("DBT_TARGET_PATH")
    if not target or not is_pipeline_step(environ):
        return False
    seeded = Path(target) / PARTIAL_PARSE_FILE
    if seeded.exists():
        if ahead.before is None or _digest(seeded.read_bytes()) != ahead.before:
            return False
    elif ahead.before is not None:
        return False  # dagster-dbt found a state and did not copy it: not the race above
    write_atomic(seeded, ahead.after)
    return True


def is_pipeline_step(environ: Mapping[str, str]) -> bool:
    """Whether the invocation is a pipeline's dbt step: dagster-dbt marks the environment of
    the dbt it starts."""
    return environ.get("DAGSTER_DBT_CLI") == "true"


def without_manifest_artifacts() -> None:
    """In a child running a pipeline step: dbt writes no manifest.json (nor
    semantic_manifest.json) into the step's folder. dbt writes the whole manifest twice per
    invocation, after its parse and again at the end (~0.15 s of CPU each on this project, 1.6
    MB), and nothing reads a step's copy: dagster-dbt reads the manifest the definitions loaded
    (dbt_project/target, `make manifest`), and what a step ran is in its folder's
    run_results.json, compiled/ and run/ SQL and dbt.log, which dbt still writes. The parse
    state the next step starts from (partial_parse.msgpack) is written apart, and still is.
    Other invocations (a user's `winback-dbt docs generate`) write dbt's artifacts as the
    installed dbt does."""
    import dbt.parser.manifest
    import dbt.task.runnable

    def skip(*_args: object, **_kwargs: object) -> None:
        return None

    dbt.parser.manifest.write_manifest = skip  # after the parse (parse_manifest)
    dbt.task.runnable.write_manifest = skip  # at the end of the run (GraphRunnableTask.run)


def serve(listener: socket.socket, adapter: str | None, ahead: list[str] | None = None) -> None:
    """Import dbt (and parse with `ahead`, parse_ahead's args), then fork one child per
    connection to `listener` until the parent process is gone. The parent bound the socket
    before starting this process, so a launcher that comes early waits in the backlog, and one
    that comes after this process ended is refused."""
    parent, server = os.getppid(), os.getpid()
    from orchestration.defs.dbt.adjustments import adjust_dbt
    from orchestration.defs.dbt.jinja_templates import (
        cache_file,
        forget_used,
        keep_compiled_code,
        load_cached,
    )
    from orchestration.lib.collector import collections_paused

    templates = None
    with collections_paused():
        from dbt.cli.main import cli  # the import this server exists for

        adjust_dbt()  # for the parse ahead and every child
        keep_compiled_code()
        if adapter:
            with contextlib.suppress(ImportError):
                importlib.import_module(f"dbt.adapters.{adapter}")
        if ahead:
            templates = cache_file(_project_dir(ahead))
            load_cached(templates)
            parse_ahead(ahead)
            forget_used()
    # What the imports made lives as long as the server: out of the children's collections
    # (which would walk it and copy its pages) and of the server's own at exit.
    gc.freeze()
    signal.signal(signal.SIGTERM, _stop)
    listener.settimeout(1.0)
    try:
        while os.getppid() == parent:
            if _reap(block=False) and templates is not None:
                with collections_paused():
                    load_cached(templates)  # what the step that ended added
                gc.freeze()
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(None)
                try:
                    _fork(conn, listener, cli, templates)
                except (ConnectionError, OSError, ValueError):
                    continue  # that launcher gets no pid and runs the installed dbt
    finally:
        if os.getpid() == server:  # a child ends through here too, and must not wait
            _reap(block=True)


def _stop(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


def _reap(*, block: bool) -> bool:
    """Wait for ended dbt children, so that their CPU time is counted in this process's
    children's and, once the run waits for the server, in the run's (benchmarks read it there);
    each child reports its own exit status to its launcher. `block`: also wait for running
    ones. Only the dbt children: the resource tracker that multiprocessing starts for dbt's
    parse (parse_ahead) lives until the server ends. Whether a child ended."""
    ended = False
    for pid in list(_FORKED):
        try:
            done, _status = os.waitpid(pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            _FORKED.discard(pid)
            ended = True
    return ended


# Adapters worth importing ahead; dbt-spark's session method starts a JVM, which a fork must
# not inherit, so Spark's dbt imports its adapter itself.
PRELOADED_ADAPTERS = {"duckdb": "duckdb", "postgres": "postgres"}


@dataclass(frozen=True)
class ForkServer:
    socket: Path
    pid: int


@contextlib.contextmanager
def dbt_fork_server(engine: str, parse_ahead_args: list[str] | None = None
                    ) -> Iterator[ForkServer | None]:
    """Run a fork server for the dbt invocations of this process (dagster-dbt passes os.environ
    on to the launcher); yields it, or None where fork() is not available or a server of an
    enclosing run already serves this process. `parse_ahead_args`: the `dbt parse` it runs
    before its first fork (parse_ahead), on an engine whose adapter it imports ahead."""
    if not hasattr(os, "fork") or os.environ.get(ENV):
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="winback-dbt-"))
    path = folder / "dbt.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(path))
        listener.listen(16)
        adapter = PRELOADED_ADAPTERS.get(engine, "")
        ahead = json.dumps(parse_ahead_args if adapter and parse_ahead_args else [])
        server = subprocess.Popen(
            [sys.executable, "-m", __name__, str(listener.fileno()), adapter, ahead],
            # Nothing of the server's own reaches the terminal: each dbt child writes to its
            # launcher's streams, and the resource tracker of the parse ahead, which inherits
            # these, warns of dbt's semaphores when a failing run stops the server mid-parse.
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=[listener.fileno()],
        )
    os.environ[ENV] = str(path)
    try:
        yield ForkServer(path, server.pid)
    finally:
        os.environ.pop(ENV, None)
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    serve(socket.socket(fileno=int(sys.argv[1])), sys.argv[2] or None, json.loads(sys.argv[3]))

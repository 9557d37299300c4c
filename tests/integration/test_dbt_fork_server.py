"""`winback-dbt`, the dbt resource's executable, runs dbt in a fork of the run's dbt fork server
(dbt imported once per run instead of once per dbt step) and behaves as the installed dbt:
same output and exit status, interrupts reach dbt, and without a server it runs the installed
dbt (orchestration/defs/dbt/fork_server.py)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from parse_state import seeded_target

from orchestration.defs.dbt.fork_server import ENV, dbt_fork_server
from orchestration.defs.dbt.jinja_templates import CACHE_FILE
from orchestration.lib.settings import DBT_PROJECT_DIR

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the fork server needs fork()")

LAUNCHER = str(Path(sys.executable).parent / "winback-dbt")
DBT = str(Path(sys.executable).parent / "dbt")


def _dbt_args(tmp_path: Path, *command: str, seeded: bool = True) -> list[str]:
    """A dbt command without vars. `seeded`: its target folder holds the parse state of
    `make manifest` (no vars), which the installed dbt starts from rather than parsing the
    project again (a forked dbt hashes the profile its own way, parse_check.py, and parses)."""
    target = tmp_path / "target"
    return [*command, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir",
            str(DBT_PROJECT_DIR), "--target-path",
            str(seeded_target(target, without_vars=True) if seeded else target),
            "--log-path", str(tmp_path / "logs")]


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def _run_watching_server(args: list[str], server: int, timeout: float = 300,
                         env: dict[str, str] | None = None
                         ) -> tuple[subprocess.CompletedProcess, set]:
    """Run the launcher to its end, noting every child the server forked meanwhile; fails (and
    kills them) if it has not ended within `timeout` seconds."""
    forked: set[int] = set()
    deadline = time.monotonic() + timeout
    with subprocess.Popen([LAUNCHER, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, env=env) as launcher:
        while launcher.poll() is None:
            forked.update(_children(server))
            if time.monotonic() > deadline:
                for pid in forked:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                pytest.fail(f"dbt {args[0]} in a fork of the server did not end in {timeout} s")
            time.sleep(0.02)
        out, err = launcher.communicate()
    return subprocess.CompletedProcess(launcher.args, launcher.returncode, out, err), forked


def _listing(tmp_path: Path) -> list[str]:
    """`dbt ls` of the staging models' names."""
    return _dbt_args(tmp_path, "ls", "--quiet", "--resource-type", "model", "--output", "name",
                     "--select", "staging")


@pytest.fixture(scope="module")
def installed_listing(tmp_path_factory) -> str:
    """What the installed dbt prints for _listing (the same in any folder), for the tests below
    that compare the launcher's output with it: the installed dbt starts once for them."""
    listing = _listing(tmp_path_factory.mktemp("installed"))
    return subprocess.run([DBT, *listing], capture_output=True, text=True, check=True).stdout


@pytest.mark.skipif(sys.platform != "linux", reason="reads the process tree from /proc")
def test_dbt_runs_in_a_fork_of_the_server_with_the_installed_dbts_output_and_status(
        tmp_path, monkeypatch, installed_listing):
    monkeypatch.delenv(ENV, raising=False)  # a server of this test's own, not the session's
    listing = _listing(tmp_path)
    failing = _dbt_args(tmp_path, "run-operation", "no_such_macro")
    expected_failure = subprocess.run([DBT, *failing], capture_output=True, text=True)
    assert expected_failure.returncode != 0

    with dbt_fork_server("duckdb") as server:
        assert server is not None and os.environ[ENV] == str(server.socket)
        listed, forked = _run_watching_server(listing, server.pid)
        failed, forked_failing = _run_watching_server(failing, server.pid)

    assert listed.returncode == 0, listed.stderr
    assert listed.stdout == installed_listing  # staging model names, one per line
    assert "stg_shop__orders" in listed.stdout.split()
    assert forked, "the launcher ran dbt itself, not in a fork of the server"
    assert failed.returncode == expected_failure.returncode
    assert "no_such_macro" in failed.stdout + failed.stderr
    assert forked_failing
    assert ENV not in os.environ  # the server was the block's, not the process's


def _events(text: str) -> list[tuple[str, str]]:
    """(name, level) of each JSON log line, in order."""
    return [(event["info"]["name"], event["info"]["level"])
            for event in map(json.loads, text.splitlines()) if event]


def test_a_forked_dbt_writes_the_log_lines_of_the_installed_dbt_at_each_level(
        tmp_path, session_dbt_fork_server):
    # The server has each of dbt's loggers format only the events it writes, and drops the
    # debug events that no logger writes before they are built; what dbt writes to its output
    # and to dbt.log, each at its own level, stays the installed dbt's. The installed dbt runs
    # once, with its output at debug: at info its output is the same without the debug lines.
    # The forks are the test session's server's, as a pipeline step's are (tests/conftest.py).
    server = session_dbt_fork_server

    def listing(folder: str, output_level: str) -> list[str]:
        # Not seeded: the installed and the forked dbt both parse, and write the same lines.
        return [*_dbt_args(tmp_path / folder, "ls", "--resource-type", "model", "--select",
                           "staging", seeded=False),
                "--log-format", "json", "--log-level", output_level, "--log-level-file", "info"]

    expected = subprocess.run([DBT, *listing("installed", "debug")], capture_output=True,
                              text=True, check=True)
    expected_output = _events(expected.stdout)
    expected_written = _events((tmp_path / "installed" / "logs" / "dbt.log").read_text())
    assert {level for _, level in expected_output} == {"debug", "info"}
    assert ("PrintEvent", "info") in expected_output  # the listing (quiet: the test above)
    assert {level for _, level in expected_written} == {"info"}
    assert server is not None
    for level in ("debug", "info"):  # at info no logger writes the debug events
        forked, children = _run_watching_server(listing(level, level), server.pid)
        assert forked.returncode == 0, forked.stderr
        assert children
        assert _events(forked.stdout) == [
            event for event in expected_output if level == "debug" or event[1] != "debug"]
        assert _events((tmp_path / level / "logs" / "dbt.log").read_text()) == (
            expected_written)


def _endless_operation(tmp_path: Path) -> list[str]:
    """`dbt run-operation` of a project whose macro never ends on its own (10^10 turns of a Jinja
    loop), so only the interrupt can end it, however slow the machine (a parse, which ends by
    itself in seconds, let a late SIGINT on a loaded machine find dbt already done)."""
    project = tmp_path / "endless"
    (project / "macros").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(
        "name: endless\nversion: '1.0'\nprofile: endless\nmacro-paths: [macros]\n")
    (project / "profiles.yml").write_text(
        "endless:\n  target: duckdb\n  outputs:\n    duckdb:\n      type: duckdb\n"
        f"      path: {tmp_path / 'endless.duckdb'}\n")
    (project / "macros" / "spin.sql").write_text(
        "{% macro spin() %}{% for i in range(100000) %}{% for j in range(100000) %}"
        "{% endfor %}{% endfor %}{% endmacro %}\n")
    return ["run-operation", "spin", "--project-dir", str(project), "--profiles-dir",
            str(project), "--target-path", str(tmp_path / "target"), "--log-path",
            str(tmp_path / "logs")]


@pytest.mark.skipif(sys.platform != "linux", reason="reads the process tree from /proc")
def test_an_interrupt_to_the_launcher_stops_the_forked_dbt(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    operation = _endless_operation(tmp_path)
    # The server starts with SIGINT ignored, as under pytest-xdist or a shell's background job:
    # the forked dbt must still be interruptible.
    with contextlib.ExitStack() as stack:
        handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            server = stack.enter_context(dbt_fork_server("duckdb"))
        finally:
            signal.signal(signal.SIGINT, handler)
        with subprocess.Popen([LAUNCHER, *operation], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) as launcher:
            while not (forked := _children(server.pid)) and launcher.poll() is None:
                time.sleep(0.02)
            assert forked, "dbt did not start in a fork of the server"
            launcher.send_signal(signal.SIGINT)  # what dagster-dbt sends when a run is cancelled
            try:
                status = launcher.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.kill(forked[0], signal.SIGKILL)  # the endless dbt ignored the interrupt
                raise
        deadline = time.monotonic() + 60
        while Path(f"/proc/{forked[0]}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    assert status != 0  # dbt was interrupted
    assert not Path(f"/proc/{forked[0]}").exists()


def test_without_a_server_the_launcher_runs_the_installed_dbt(tmp_path, installed_listing):
    listing = _listing(tmp_path)
    for env in ({k: v for k, v in os.environ.items() if k != ENV},
                {**os.environ, ENV: str(tmp_path / "gone.sock")}):  # a server that has ended
        done = subprocess.run([LAUNCHER, *listing], capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr
        assert done.stdout == installed_listing


def _event_names(log_dir: Path) -> set[str]:
    return {json.loads(line)["info"]["name"]
            for line in (log_dir / "dbt.log").read_text().splitlines() if line.strip()}


def test_the_server_parses_ahead_so_a_step_with_its_vars_parses_nothing(tmp_path, monkeypatch):
    # The run's server parses with the production steps' vars before the first step, and leaves
    # the parse state where dagster-dbt seeds each step's folder from (DBT_TARGET_PATH). On a
    # short run dagster-dbt seeds the first step while the server is still parsing ahead, with
    # the state the parse ahead replaces: the step gets the parse ahead's all the same.
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    state = tmp_path / "target" / "partial_parse.msgpack"
    step = tmp_path / "step"
    stale = DBT_PROJECT_DIR / "target" / "partial_parse.msgpack"  # `make manifest`'s, no vars
    for folder in (state.parent, step):
        folder.mkdir()
        shutil.copyfile(stale, folder / state.name)  # as dagster-dbt seeds a step's folder
    project = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    variables = ["--vars", json.dumps({"probe": tmp_path.name})]  # no parse state has these
    ahead = ["parse", *variables, *project, "--quiet", "--log-level-file", "none",
             "--no-write-json"]  # as dbt_parse_ahead_args
    with dbt_fork_server("duckdb", ahead) as server:
        assert server is not None
        parsed, forked = _run_watching_server(
            ["parse", *variables, *project, "--log-format-file", "json"], server.pid,
            env={**os.environ, "DBT_TARGET_PATH": str(step), "DBT_LOG_PATH": str(step),
                 "DAGSTER_DBT_CLI": "true"})
        assert state.read_bytes() != stale.read_bytes(), "the server wrote no parse state"
        # A step with other vars parses every model itself, with dbt's static parser: the
        # parse ahead must not have left the server a state a fork cannot parse in.
        other = tmp_path / "other"
        reparsed, _ = _run_watching_server(
            ["parse", "--vars", json.dumps({"probe": "other"}), *project, "--target-path",
             str(other), "--log-path", str(other)], server.pid)
        ended = time.monotonic()
    assert parsed.returncode == 0, parsed.stdout + parsed.stderr
    assert forked
    events = _event_names(step)
    assert "UnableToPartialParse" not in events  # dbt would say why it parsed everything again
    assert "PartialParsingSkipParsing" in events
    # Each forked step caches the Jinja it compiled, for the server to load ahead of the next
    # step (jinja_templates.py): the full parse of the second step renders the project's.
    assert (tmp_path / "target" / CACHE_FILE).stat().st_size
    assert reparsed.returncode == 0, reparsed.stdout + reparsed.stderr
    # A pipeline's step writes no manifest.json (without_manifest_artifacts); any other
    # invocation writes dbt's artifacts as the installed dbt does.
    assert not (step / "manifest.json").exists()
    assert (other / "manifest.json").exists()
    # The server ends when asked (dbt's parse left it a multiprocessing resource tracker, which
    # it must not wait for), not when killed after the 30 s grace.
    assert time.monotonic() - ended < 25


def _production_vars(tmp_path: Path, warehouse: str, **environ: str) -> list[str]:
    from orchestration.defs.dbt.args import dbt_config_vars_args
    from orchestration.lib.audiences import audiences_for
    from orchestration.lib.policies import policies_for
    from orchestration.lib.settings import load_settings

    settings = load_settings(environ={"WINBACK_WAREHOUSE": str(tmp_path / warehouse), **environ})
    return dbt_config_vars_args(settings, policies_for(settings), audiences_for(settings))


def test_a_warehouse_elsewhere_with_other_limits_keeps_the_parse_a_policy_change_does_not(
        tmp_path, session_dbt_fork_server):
    # dbt would parse everything again when the warehouse moves or DuckDB's limits change
    # (they are in the vars and the profile); no model reads them while parsing
    # (orchestration/defs/dbt/parse_check.py). What models read, and the database name dbt
    # writes into every node, still make it parse everything again. The steps fork from the
    # test session's server; "first" starts from the state the session's steps start from
    # (its parse ahead names the warehouse file as "first" does, tests/conftest.py), as a
    # run's first step does, and parses nothing when that state is the default configuration's.
    server = session_dbt_fork_server
    project = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    first = _production_vars(tmp_path, "a/warehouse.duckdb")
    moved = _production_vars(tmp_path, "b/warehouse.duckdb", WINBACK_DUCKDB_MEMORY_LIMIT="512MB",
                             WINBACK_DUCKDB_THREADS="1", WINBACK_DBT_THREADS="2")
    new_policy = _production_vars(tmp_path, "b/warehouse.duckdb", WINBACK_INACTIVE_DAYS="150")
    assert new_policy != _production_vars(tmp_path, "b/warehouse.duckdb")
    renamed = _production_vars(tmp_path, "b/other.duckdb")
    assert server is not None
    events = {}
    # Each step starts from the parse state of the one named, as dagster-dbt seeds it.
    for name, variables, seed in (("first", first, None), ("moved", moved, "first"),
                                  ("new_policy", new_policy, "moved"),
                                  ("renamed", renamed, "moved")):
        step = seeded_target(tmp_path / name) if seed is None else tmp_path / name
        if seed:
            step.mkdir()
            shutil.copyfile(tmp_path / seed / "partial_parse.msgpack",
                            step / "partial_parse.msgpack")
        parsed, forked = _run_watching_server(
            ["parse", *variables, *project, "--target-path", str(step), "--log-path",
             str(step), "--log-format-file", "json"], server.pid)
        assert parsed.returncode == 0, parsed.stdout + parsed.stderr
        assert forked
        events[name] = _event_names(step)
    assert "PartialParsingSkipParsing" in events["moved"]
    assert "UnableToPartialParse" not in events["moved"]
    assert "UnableToPartialParse" in events["new_policy"]
    assert "UnableToPartialParse" in events["renamed"]

"""The environment of a `winback` subprocess in tests: none of the developer's WINBACK_* settings
or DAGSTER_HOME, but the test session's own (the platform limits file without the ad platforms'
minimum sizes: the hand-made data sets are far below them; the session's dbt fork server, which
the subprocess's dbt steps fork from as an in-process run's do, instead of starting a server of
its own that imports dbt and parses the project first: ~4 s of CPU a command), and the given
settings; `winback` runs a command in it, and `one_line` reads what a failed one said."""

import os
import subprocess
import sys

SESSION_SETTINGS = ("WINBACK_PLATFORMS", "WINBACK_DBT_FORK_SERVER")


def cli_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WINBACK_", "DAGSTER_HOME"))}
    env.update({name: os.environ[name] for name in SESSION_SETTINGS if name in os.environ})
    env.update(settings)
    return env


def winback(*args: str, env: dict[str, str], timeout: float = 900
            ) -> subprocess.CompletedProcess[str]:
    """`winback <args>` as a process of its own, to its end: its exit code and output."""
    return subprocess.run([sys.executable, "-m", "orchestration.cli", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


def one_line(stderr: str) -> str:
    """The one line a failing command writes to stderr (no traceback)."""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr[-3000:]
    assert "Traceback" not in stderr
    return lines[0]

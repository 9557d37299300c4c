"""The Dagster UI as a data team opens it (issue 11): `winback ui` (dagster dev) on the instance
a run was recorded in, looked at in headless Chromium. The asset page of the status mart shows
its daily partitions (the date run materialized, the others missing) and the mart's row count,
per partition and on the overview. Screenshots are kept in tests/artifacts/ (git-ignored)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from browser import Page, find_chromium
from landing_fixture import AS_OF

from orchestration.lib.warehouse import open_warehouse

pytestmark = pytest.mark.pipeline_runs(3)  # dagster dev and Chromium start-up
MART = "inactivity/customer_inactivity_status"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_served(url: str, process: subprocess.Popen, log: Path, timeout: float = 300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"winback ui exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(1)
    pytest.fail(f"the UI did not answer within {timeout} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def served(fixture_run, tmp_path_factory):
    """One recorded run as of the fixture's date (a copy of the shared fixture run and its
    instance, tests/fixture_run.py), and the UI serving that instance."""
    chromium = find_chromium()
    root = fixture_run.copy(tmp_path_factory.mktemp("ui"))
    home = root / "dagster_home"
    env = {**os.environ, "DAGSTER_HOME": str(home),
           "WINBACK_LANDING_DIR": str(root / "landing"),
           "WINBACK_WAREHOUSE": str(root / "warehouse.duckdb"),
           "WINBACK_EXPORT_DIR": str(root / "exports"),
           "WINBACK_SERVING_DIR": str(root / "serving")}
    with open_warehouse(root / "warehouse.duckdb", read_only=True) as con:
        (rows,) = con.execute(
            "SELECT count(*) FROM inactivity.customer_inactivity_status").fetchone()
    port = _free_port()
    log = root / "ui.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "winback"), "ui", "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_until_served(f"http://127.0.0.1:{port}/server_info", process, log)
        page = Page(chromium, root / "chromium")
        try:
            yield f"http://127.0.0.1:{port}", page, rows
        finally:
            page.close()
    finally:
        # dagster dev, its daemon, webserver and code server. They stop within 2-4 s when asked;
        # in a busy suite they sometimes waited out the 30 s grace of this wait, time no test
        # here is about (the UI's own shutdown is dagster's), so the wait is short.
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=8)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_the_partitions_view_shows_the_run_date_materialized_with_its_row_count(served):
    url, page, rows = served
    page.goto(f"{url}/assets/{MART}?view=partitions&partition={AS_OF}")
    text = page.wait_for_text(lambda text: "dagster/row_count" in text)
    page.screenshot("dagster-ui-partitions.png")
    assert "Materialized (1)" in text and "Failed (0)" in text
    missing = int(re.search(r"Missing \(([\d,]+)\)", text).group(1).replace(",", ""))
    assert missing > 365  # daily partitions since 2020, only the run's date materialized
    assert re.search(rf"{AS_OF}\s+Materialized", text)
    assert re.search(r"dagster/row_count\s+([\d,]+)", text).group(1) == f"{rows:,}"


def test_the_mart_overview_shows_its_row_count_and_columns(served):
    url, page, rows = served
    page.goto(f"{url}/assets/{MART}")
    text = page.wait_for_text(lambda text: "Row count" in text and "Columns" in text)
    time.sleep(2)  # Dagster opens its first-visit sign-up dialog a second after the page
    assert "Join the Dagster community" not in page.text()
    page.screenshot("dagster-ui-mart-overview.png")
    assert re.search(r"Row count\s+([\d,]+)", text).group(1) == f"{rows:,}"
    assert re.search(r"inactive_since\s+date", text)

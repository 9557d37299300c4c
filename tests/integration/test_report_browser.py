"""The report and the Data Docs in a real browser with the network disabled (issue 12): headless
Chromium renders every chart and the Data Docs styles, logs no console message and requests
nothing but file:// URLs. Screenshots are kept in tests/artifacts/ (git-ignored).

Chromium is found on PATH; without it the tests skip locally and fail under CI=true (.ci/run
installs Debian's chromium)."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser import ARTIFACTS, HEADLESS, find_chromium
from data_docs_fixture import build_small_data_docs
from report_fixture import write_publication

from orchestration.defs.report.build import CHARTS, build_report

# No network: every host name resolves to nothing and any proxy use goes to a closed port.
OFFLINE = ("--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9")
FLAGS = (*HEADLESS, "--enable-logging=stderr", "--v=0", *OFFLINE)
CONSOLE = re.compile(r":CONSOLE[:(]\d*\)?\] (.*)")


@dataclass(frozen=True)
class Rendered:
    dom: str
    console: list[str]  # every console message (errors, uncaught exceptions, logs)
    requests: list[str]  # URLs the page asked for other than file://
    screenshot: Path


@pytest.fixture(scope="module")
def chromium() -> str:
    return find_chromium()


def page_requests(net_log: Path) -> list[str]:
    """URLs requested on behalf of a file:// page (Chromium's own update and account requests
    carry another network isolation key)."""
    log = json.loads(net_log.read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return sorted({
        event["params"]["url"] for event in log["events"]
        if event["type"] == start and "url" in event.get("params", {})
        and event["params"].get("network_isolation_key", "").startswith("file://")
        and not event["params"]["url"].startswith("file:")
    })


def render(chromium: str, page: Path, screenshot: str, tmp_path: Path,
           height: int = 4000) -> Rendered:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / screenshot
    work = tmp_path / f"chromium-{screenshot}"
    done = subprocess.run(
        [chromium, *FLAGS, f"--user-data-dir={work / 'profile'}",
         f"--log-net-log={work / 'net.json'}", f"--window-size=1280,{height}",
         f"--screenshot={shot}", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    print(f"screenshot: {shot}")
    return Rendered(dom=done.stdout, console=CONSOLE.findall(done.stderr),
                    requests=page_requests(work / "net.json"), screenshot=shot)


def test_the_checks_see_console_errors_and_requests_to_other_hosts(chromium, tmp_path):
    page = tmp_path / "broken.html"
    page.write_text('<html><head><link rel="stylesheet" href="https://cdn.example.com/x.css">'
                    '</head><body><script>missingFunction()</script></body></html>')
    rendered = render(chromium, page, "broken.png", tmp_path, height=200)
    assert any("Uncaught ReferenceError" in line for line in rendered.console)
    assert rendered.requests == ["https://cdn.example.com/x.css"]


def test_the_report_renders_every_chart_offline_without_console_errors(chromium, tmp_path):
    serving, warehouse = write_publication(tmp_path)
    report = build_report(serving, warehouse, tmp_path / "report" / "index.html")
    charts = re.findall(r'data-chart="([^"]+)"', report.path.read_text())
    assert len(charts) == len(CHARTS)
    rendered = render(chromium, report.path, "report.png", tmp_path, height=4400)
    assert re.findall(r'<svg [^>]*data-chart="([^"]+)"', rendered.dom) == charts
    assert rendered.console == []
    assert rendered.requests == []
    assert rendered.screenshot.stat().st_size > 50_000  # charts drawn, not a blank page


def test_the_data_docs_render_with_their_styles_offline(chromium, tmp_path):
    index = build_small_data_docs(tmp_path)
    validation = next(index.parent.glob("validations/**/*.html"))
    pages = {"data_docs_index.png": index, "data_docs_validation.png": validation}
    rendered = {shot: render(chromium, page, shot, tmp_path, height=1600)
                for shot, page in pages.items()}
    for page in rendered.values():
        assert ".card-header" in page.dom  # the inline stylesheet is in the DOM
        assert page.console == []
        assert page.requests == []
        assert page.screenshot.stat().st_size > 10_000
    # The index lists the validation without JavaScript.
    assert re.search(r"<tbody><tr>.*things", rendered["data_docs_index.png"].dom, re.S)

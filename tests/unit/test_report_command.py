"""`winback report`: prints the report's path, opens it only where there is a display."""

from __future__ import annotations

import webbrowser

import pytest

from orchestration.cli import main


@pytest.fixture
def report(tmp_path, monkeypatch):
    path = tmp_path / "report" / "index.html"
    monkeypatch.setenv("WINBACK_REPORT", str(path))
    monkeypatch.setenv("WINBACK_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.chdir(tmp_path)
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", opened.append)
    return path, opened


def test_report_prints_the_path_of_the_report(report, capsys):
    path, opened = report
    path.parent.mkdir()
    path.write_text("<html></html>")
    assert main(["report"]) == 0
    assert capsys.readouterr().out == f"{path}\n"
    assert opened == []


def test_report_open_opens_it_in_the_browser_when_there_is_a_display(report, monkeypatch):
    path, opened = report
    path.parent.mkdir()
    path.write_text("<html></html>")
    monkeypatch.setenv("DISPLAY", ":0")
    assert main(["report", "--open"]) == 0
    assert opened == [path.as_uri()]


def test_report_open_without_a_display_prints_the_path_and_says_so(report, monkeypatch, capsys):
    path, opened = report
    path.parent.mkdir()
    path.write_text("<html></html>")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["report", "--open"]) == 0
    out, err = capsys.readouterr()
    assert out == f"{path}\n" and "no display" in err
    assert opened == []


def test_report_before_any_run_is_one_line_and_exit_2(report, capsys):
    path, _ = report
    assert main(["report"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert f"no report at {path}; run `winback run` first" in line

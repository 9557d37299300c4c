from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).parent
sys.path.insert(0, str(TESTS_DIR))


def pytest_sessionstart(session: pytest.Session) -> None:
    """dagster-dbt reads the manifest when the definitions import: build it if it is missing."""
    from orchestration.defs.dbt.args import dbt_parse
    from orchestration.lib.settings import REPO_ROOT

    if not (REPO_ROOT / "dbt_project" / "target" / "manifest.json").exists():
        dbt_parse(REPO_ROOT / "dbt_project")


@pytest.fixture(autouse=True)
def _failure_logs_in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Commands called in process write their failure logs under the test's folder, not data/."""
    monkeypatch.setenv("WINBACK_LOG_DIR", str(tmp_path / "logs"))

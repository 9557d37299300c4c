"""A dbt target folder for a test's own dbt invocation, seeded with a parse state as dagster-dbt
seeds each step's folder: dbt starts from that state when the vars, profile and project match
it, and parses the whole project (~3 s of CPU) only when they do not, as it would have anyway.
Seeding never changes what dbt builds or reports, only whether it parses again."""

from __future__ import annotations

import shutil
from pathlib import Path

from orchestration.defs.dbt.state import PARTIAL_PARSE_FILE, parse_state_file
from orchestration.lib.settings import DBT_PROJECT_DIR


def seeded_target(folder: Path) -> Path:
    """`folder` (created) holding a copy of the state this test process's dbt steps start from
    (parse_state_file: its DBT_TARGET_PATH, tests/conftest.py), if there is one."""
    folder.mkdir(parents=True, exist_ok=True)
    if (state := parse_state_file(DBT_PROJECT_DIR)).exists():
        shutil.copyfile(state, folder / PARTIAL_PARSE_FILE)
    return folder

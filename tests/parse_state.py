"""A dbt target folder for a test's own dbt invocation, seeded with a parse state as dagster-dbt
seeds each step's folder: dbt starts from that state when the vars, profile and project match
it, and parses the whole project (~3 s of CPU) only when they do not, as it would have anyway.
Seeding never changes what dbt builds or reports, only whether it parses again."""

from __future__ import annotations

import shutil
from pathlib import Path

from orchestration.defs.dbt.state import PARTIAL_PARSE_FILE, parse_state_file
from orchestration.lib.settings import DBT_PROJECT_DIR


def seeded_target(folder: Path, *, without_vars: bool = False) -> Path:
    """`folder` (created) holding a copy of the state this test process's dbt steps start from
    (parse_state_file: its DBT_TARGET_PATH, tests/conftest.py), if there is one; with
    `without_vars`, the state `make manifest` left in dbt_project/target (a parse without
    vars, which a dbt command given no --vars starts from)."""
    folder.mkdir(parents=True, exist_ok=True)
    state = (DBT_PROJECT_DIR / "target" / PARTIAL_PARSE_FILE if without_vars
             else parse_state_file(DBT_PROJECT_DIR))
    if state.exists():
        shutil.copyfile(state, folder / PARTIAL_PARSE_FILE)
    return folder

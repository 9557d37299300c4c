"""dbt command lines, built by small pure functions so they can be tested table-driven."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from orchestration.lib.audiences import AudienceConfig
from orchestration.lib.policies import Policies
from orchestration.lib.settings import Settings


def dbt_vars(
    settings: Settings, policies: Policies, audiences: AudienceConfig
) -> dict[str, Any]:
    return {
        "as_of_date": settings.as_of.isoformat(),
        "audiences": audiences.as_dbt_var(),
        "inactivity_policies": policies.as_dbt_var(),
        "warehouse_path": str(settings.warehouse),
    }


def dbt_build_args(
    settings: Settings, policies: Policies, audiences: AudienceConfig, select: str | None = None
) -> list[str]:
    args = ["build", "--vars", json.dumps(dbt_vars(settings, policies, audiences),
                                          sort_keys=True)]
    if select:
        args += ["--select", select]
    return args


def dbt_executable() -> str:
    """The dbt installed beside this Python (a venv's bin/ need not be on PATH)."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def dbt_parse(project_dir: Path) -> None:
    """Write target/manifest.json, which dagster-dbt reads when the definitions load."""
    subprocess.run(
        [dbt_executable(), "parse", "--quiet", "--project-dir", str(project_dir),
         "--profiles-dir", str(project_dir)],
        check=True,
    )

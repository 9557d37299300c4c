"""dbt command lines, built by small pure functions so they can be tested table-driven."""

from __future__ import annotations

import json
from typing import Any

from orchestration.lib.settings import Settings


def dbt_vars(settings: Settings) -> dict[str, Any]:
    return {
        "as_of_date": settings.as_of.isoformat(),
        "inactive_threshold_days": settings.inactive_days,
        "warehouse_path": str(settings.warehouse),
    }


def dbt_build_args(settings: Settings, select: str | None = None) -> list[str]:
    args = ["build", "--vars", json.dumps(dbt_vars(settings), sort_keys=True)]
    if select:
        args += ["--select", select]
    return args

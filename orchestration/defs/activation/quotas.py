"""Daily import quotas: some platforms cap how many imports and rows an account may import per
rolling 24 hours (HubSpot: 50 imports and 500,000 rows on free tools; 500 imports and 10,000,000
rows on paid subscriptions). `daily_quotas` in config/platforms.yml declares them; when the day's
exports for a platform, all audiences together, would exceed one, every one of them carries a
warning (manifest `daily_quota`, the asset's `warnings` metadata and the run log) instead of
failing: the files are still valid, only the upload takes longer than a day.
"""

import math
from pathlib import Path
from typing import Any

from orchestration.lib.config_yaml import load_yaml

QUOTA_FIELDS = ("max_imports_per_day", "max_rows_per_day")


class QuotaConfigError(ValueError):
    """`daily_quotas` in config/platforms.yml is malformed; the message names platform and field."""


def load_daily_quotas(path: Path) -> dict[str, dict[str, int]]:
    """{platform: {max_imports_per_day, max_rows_per_day}} for the platforms that declare them."""
    data = load_yaml(path.read_text(encoding="utf-8"))
    out = {}
    for name, entry in (data.get("platforms") or {}).items():
        quotas = (entry or {}).get("daily_quotas")
        if quotas is None:
            continue
        where = f"{path}: platform {name!r}: field 'daily_quotas'"
        if not isinstance(quotas, dict) or not quotas or set(quotas) - set(QUOTA_FIELDS):
            raise QuotaConfigError(
                f"{where} must be a mapping with {' and/or '.join(QUOTA_FIELDS)}")
        for key, value in quotas.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise QuotaConfigError(f"{where}: {key!r} must be a positive whole number; "
                                       f"got {value!r}")
        out[name] = dict(quotas)
    return out


def quota_check(rows_by_audience: dict[str, int], max_rows_per_file: int | None,
                quotas: dict[str, int] | None) -> dict[str, Any] | None:
    """The day's imports (one per file part) and rows for one platform over all its audiences,
    against its quotas; None when the platform has none."""
    if not quotas:
        return None
    imports = sum(max(1, math.ceil(rows / max_rows_per_file)) if max_rows_per_file else 1
                  for rows in rows_by_audience.values())
    rows = sum(rows_by_audience.values())
    exceeded = []
    if imports > quotas.get("max_imports_per_day", math.inf):
        exceeded.append("max_imports_per_day")
    if rows > quotas.get("max_rows_per_day", math.inf):
        exceeded.append("max_rows_per_day")
    return {"imports_today": imports, "rows_today": rows, **quotas, "exceeded": exceeded}

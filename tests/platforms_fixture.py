"""config/platforms.yml without the ad platforms' minimum audience sizes, for tests whose
hand-made data sets hold a few customers (every ad list would be below the minimum of 100)."""

from pathlib import Path

import yaml

from orchestration.lib.settings import REPO_ROOT

PLATFORMS_FILE = REPO_ROOT / "config" / "platforms.yml"


def platforms_without_minimums(folder: Path) -> Path:
    data = yaml.safe_load(PLATFORMS_FILE.read_text(encoding="utf-8"))
    for entry in data["platforms"].values():
        entry.pop("min_rows", None)
        entry.pop("min_rows_source", None)
    path = folder / "platforms_without_minimums.yml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path

"""The YAML of the configuration files (audiences, inactivity policies, platforms)."""

from __future__ import annotations

from typing import Any

import yaml

# PyYAML's safe loader in its C form (libyaml) where PyYAML was built with it: the same
# documents and errors (yaml.YAMLError with its marks), about 5x faster on config/audiences.yml,
# which a run reads several times.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    """What yaml.safe_load(text) returns."""
    return yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 (a safe loader)

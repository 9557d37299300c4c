"""How other stages find dbt models: by model name, never by a hand-typed key."""

import dagster as dg
from dagster_dbt import get_asset_key_for_model

from orchestration.defs.dbt.assets import DBT_ASSETS
from orchestration.defs.dbt.project import dbt_manifest


def dbt_model_key(model_name: str) -> dg.AssetKey:
    """The asset key of a dbt model, whichever step builds it (both steps share one manifest)."""
    key = get_asset_key_for_model([DBT_ASSETS[0]], model_name)
    if not any(key in step.keys for step in DBT_ASSETS):
        raise KeyError(f"The dbt model {model_name} is not built by any dbt step")
    return key


def dbt_model_checksum(model_name: str) -> str:
    """Checksum of a model's SQL in the dbt manifest (which SQL built a table)."""
    manifest = dbt_manifest()
    return manifest["nodes"][f"model.winback.{model_name}"]["checksum"]["checksum"][:16]

"""Asset keys that several stages refer to. Stages meet through the warehouse and these keys,
not through each other's modules (dbt models are found by name through the dbt stage)."""

import dagster as dg


def raw_asset_key(entity: str) -> dg.AssetKey:
    """The ingest asset of a landing entity: table `raw.<entity>`."""
    return dg.AssetKey(["raw", entity])


def export_key(audience: str, platform: str) -> dg.AssetKey:
    """The export of one audience (or the suppression audience) to one platform."""
    return dg.AssetKey(["exports", f"{audience}_{platform}"])

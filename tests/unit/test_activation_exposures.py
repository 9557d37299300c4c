"""The activation exports are visible where people look for them: dbt exposures and Dagster."""

import json

import yaml

from orchestration.lib.audiences import load_audiences
from orchestration.lib.settings import REPO_ROOT

AUDIENCES_FILE = REPO_ROOT / "config" / "audiences.yml"

EXPOSURES = (REPO_ROOT / "dbt_project" / "models" / "marts" / "activation"
             / "_activation__exposures.yml")


def test_every_configured_audience_has_a_dbt_exposure_listing_its_platforms():
    listed = yaml.safe_load(EXPOSURES.read_text())["exposures"]
    exposures = {e["meta"]["audience"]: e for e in listed}
    config = load_audiences(AUDIENCES_FILE)
    assert set(exposures) == {a.name for a in config.audiences}
    for audience in config.audiences:
        exposure = exposures[audience.name]
        assert exposure["meta"]["platforms"] == list(audience.platforms)
        assert exposure["depends_on"] == ["ref('sync_audience_members')"]


def test_the_parsed_dbt_project_carries_the_exposures():
    manifest = json.loads((REPO_ROOT / "dbt_project" / "target" / "manifest.json").read_text())
    names = {e["name"] for e in manifest["exposures"].values()}
    assert {f"audience_{a.name}" for a in load_audiences(AUDIENCES_FILE).audiences} <= names


def test_every_audience_and_platform_is_an_export_asset_downstream_of_the_sync_model():
    import dagster as dg

    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    for audience in load_audiences(AUDIENCES_FILE).audiences:
        for platform in audience.platforms:
            node = graph.get(dg.AssetKey(["exports", f"{audience.name}_{platform}"]))
            assert dg.AssetKey(["activation", "sync_audience_members"]) in node.parent_keys
            assert dg.AssetKey(["contacts", "contact_hygiene"]) in node.parent_keys


def test_every_field_a_platform_can_read_is_a_column_of_the_sync_model():
    """The exports select only the fields the platform reads from sync_audience_members, so a
    field the model's contract lacks would fail the export step."""
    import datetime as dt

    from orchestration.defs.activation.platforms import PLATFORMS, Limits, platform_for
    from orchestration.lib.audiences import PERSONALISATION_FIELDS

    manifest = json.loads((REPO_ROOT / "dbt_project" / "target" / "manifest.json").read_text())
    columns = set(manifest["nodes"]["model.winback.sync_audience_members"]["columns"])
    limits = Limits(checked_on=dt.date(2026, 12, 1), value_column="Value")
    for name in PLATFORMS:
        platform = platform_for(name, (*PERSONALISATION_FIELDS, "variant"), limits, "aud",
                                valued=True)
        assert {"customer_id", *platform.fields} <= columns, name

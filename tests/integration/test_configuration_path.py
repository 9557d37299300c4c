"""Every configuration file comes from Settings: a custom audiences file set with
WINBACK_AUDIENCES decides the dbt audience model, the export assets and the files written.
Regression test: the exports used to read config/audiences.yml whatever WINBACK_AUDIENCES said.

The run starts from the shared fixture run's landing and warehouse (the steps before the
audience models do not read the audiences file) and runs the part of the graph that does: the
dbt audience models with the custom file's vars, then every export asset of the custom code
location."""

import json
import shutil

import dagster as dg
import pytest
from daily_run import run_daily
from landing_fixture import AS_OF

from orchestration.definitions import build_defs
from orchestration.defs.dbt.keys import dbt_model_key
from orchestration.lib.settings import load_settings

pytestmark = [pytest.mark.integration, pytest.mark.pipeline_runs(0.5)]

CUSTOM = """\
version: "custom-1"
holdout_seed: custom-seed
conversion_window_days: 14
audiences:
  - name: custom_every_inactive
    description: Every inactive or lapsed customer, for a test of the configuration path.
    purpose: promotion
    statuses: [inactive, lapsed]
    channel: email
    frequency_cap_days: 0
    holdout_share: 0
    platforms: [generic_csv, meta]
    personalisation: [first_name]
"""


def test_a_custom_audiences_file_decides_every_export_folder_and_manifest(
        fixture_run, tmp_path, monkeypatch):
    audiences = tmp_path / "my_audiences.yml"
    audiences.write_text(CUSTOM)
    monkeypatch.setenv("WINBACK_AUDIENCES", str(audiences))
    shutil.copytree(fixture_run.root / "landing", tmp_path / "landing")
    shutil.copyfile(fixture_run.warehouse, tmp_path / "warehouse.duckdb")
    definitions = build_defs(load_settings())
    graph = definitions.resolve_asset_graph()
    # The models from the one that reads the audiences var to the one the exports read.
    audience_models = (
        dg.AssetSelection.assets(dbt_model_key("int_audience_candidates")).downstream()
        & dg.AssetSelection.assets(dbt_model_key("sync_audience_members")).upstream())
    keys = audience_models.resolve(graph) | {
        key for key in graph.get_all_asset_keys() if key.path[0] == "exports"}
    run_daily(tmp_path, AS_OF, asset_selection=sorted(keys), definitions=definitions)

    exports = tmp_path / "exports"
    written = sorted(p.relative_to(exports).parts[:2]
                     for p in exports.glob(f"*/*/{AS_OF}/manifest.json"))
    assert written == [("custom_every_inactive", "generic_csv"), ("custom_every_inactive", "meta")]
    for platform in ("generic_csv", "meta"):
        manifest = json.loads(
            (exports / "custom_every_inactive" / platform / AS_OF / "manifest.json").read_text())
        assert manifest["audience"] == "custom_every_inactive"
        assert manifest["audience_config_version"] == "custom-1"
        assert manifest["rows"] > 0

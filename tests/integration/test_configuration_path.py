"""Every configuration file comes from Settings: a custom audiences file set with
WINBACK_AUDIENCES decides the dbt audience model, the export assets and the files written.
Regression test: the exports used to read config/audiences.yml whatever WINBACK_AUDIENCES said."""

import datetime as dt
import json

import pytest
from landing_fixture import AS_OF, write_landing

from orchestration.definitions import build_defs
from orchestration.lib.run_config import daily_run
from orchestration.lib.settings import load_settings

pytestmark = [pytest.mark.integration, pytest.mark.pipeline_runs(1)]

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


def test_a_custom_audiences_file_decides_every_export_folder_and_manifest(tmp_path, monkeypatch):
    audiences = tmp_path / "my_audiences.yml"
    audiences.write_text(CUSTOM)
    monkeypatch.setenv("WINBACK_AUDIENCES", str(audiences))
    write_landing(tmp_path / "landing")
    defs = build_defs(load_settings())
    run = daily_run(
        dt.date.fromisoformat(AS_OF), landing_dir=tmp_path / "landing",
        warehouse=tmp_path / "warehouse.duckdb", export_dir=tmp_path / "exports",
        serving_dir=tmp_path / "serving",
    )
    result = defs.resolve_job_def("winback_daily").execute_in_process(
        run_config=run.run_config, partition_key=run.partition_key, raise_on_error=False
    )
    assert result.success, [e.message for e in result.all_events if e.is_failure]

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

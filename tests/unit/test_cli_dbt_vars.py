import json

from orchestration.cli import main
from orchestration.lib.settings import REPO_ROOT


def test_dbt_vars_prints_the_runs_vars_with_the_validated_policies(capsys, monkeypatch):
    monkeypatch.delenv("WINBACK_INACTIVE_DAYS", raising=False)
    monkeypatch.delenv("WINBACK_INACTIVITY_POLICIES", raising=False)
    assert main(["dbt-vars", "--as-of", "2026-06-30"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["as_of_date"] == "2026-06-30"
    assert printed["inactivity_policies"]["fixed_threshold_days"] == 180


def test_a_broken_policy_file_stops_with_an_error_naming_the_field(capsys, monkeypatch, tmp_path):
    policies = tmp_path / "policies.yml"
    shipped = (REPO_ROOT / "config" / "inactivity_policies.yml").read_text()
    policies.write_text(shipped.replace("threshold_days: 180", "threshold_days: soon"))
    monkeypatch.setenv("WINBACK_INACTIVITY_POLICIES", str(policies))
    assert main(["dbt-vars", "--as-of", "2026-06-30"]) == 2
    assert "fixed.threshold_days must be a whole number" in capsys.readouterr().err

import copy
from pathlib import Path

import pytest
import yaml

from orchestration.lib.policies import PolicyError, load_policies, parse_policies
from orchestration.lib.settings import REPO_ROOT

CONFIG = REPO_ROOT / "config" / "inactivity_policies.yml"


def _valid() -> dict:
    return yaml.safe_load(CONFIG.read_text())


def test_the_shipped_policy_file_is_valid_and_uses_the_180_day_retail_default():
    policies = load_policies(CONFIG)
    assert policies.fixed_threshold_days == 180
    assert policies.fixed_rule_id == "fixed_threshold"
    assert policies.cadence.enabled
    assert policies.version


def test_winback_inactive_days_replaces_only_the_fixed_threshold():
    default, replaced = load_policies(CONFIG), load_policies(CONFIG, fixed_threshold_days=90)
    assert replaced.fixed_threshold_days == 90
    assert replaced.overrides == default.overrides and replaced.version == default.version


def test_a_fixed_threshold_inside_the_at_risk_band_is_refused_naming_the_variable():
    with pytest.raises(PolicyError, match="WINBACK_INACTIVE_DAYS.*at_risk_band_days"):
        load_policies(CONFIG, fixed_threshold_days=20)


def test_category_overrides_are_lower_cased_like_staged_categories():
    data = _valid()
    data["overrides"] = [
        {"rule_id": "garden", "match": {"last_category": " Garden "}, "threshold_days": 90}
    ]
    (override,) = parse_policies(data).overrides
    assert (override.match_field, override.match_value) == ("last_category", "garden")


def _broken(path: list, value) -> dict:
    data = copy.deepcopy(_valid())
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "names"),
    [
        (["version"], KeyError, "version is required"),
        (["fixed", "threshold_days"], "half a year", "fixed.threshold_days must be a whole"),
        (["fixed", "threshold_days"], 1, "fixed.threshold_days must be at least 2"),
        (["fixed", "rule_id"], "Fixed Rule", "fixed.rule_id must be a lower-case identifier"),
        (["at_risk_band_days"], 200, "at_risk_band_days must be smaller than every threshold"),
        (["lapsed_multiplier"], 1, "lapsed_multiplier must be greater than 1"),
        (["cadence", "ceiling_days"], 10, "cadence.ceiling_days must not be below"),
        (["cadence", "enabled"], "yes", "cadence.enabled must be true or false"),
        (["cadence", "multipler"], 3, "cadence.multipler is not a known field"),
        (["model_disagreement", "p_alive_low"], 0.9, "p_alive_low must be below"),
        (["model_disagreement", "p_alive_high"], 1.5, "p_alive_high must be between 0.0 and 1.0"),
        (["overrides", 0, "match"], {"country": "GB"}, r"overrides\[0\].match.country is not a"),
        (["overrides", 1, "match"], {"rfm_segment": "VIP"}, r"overrides\[1\].match.rfm_segment"),
        (["overrides", 1, "rule_id"], "cadence", "'cadence' is used twice"),
        (["overrides", 0, "threshold_days"], KeyError, r"overrides\[0\].threshold_days is"),
        (["model_check", "holdout_days"], 3, "model_check.holdout_days must be at least 7"),
        (["model_check", "max_calibration_slope"], 0.5,
         "model_check.max_calibration_slope must be above model_check.min_calibration_slope"),
        (["model_check", "min_calibration_slope"], KeyError,
         "model_check.min_calibration_slope is required"),
        (["customer_value", "annual_discount_rate"], 2, "annual_discount_rate must be between"),
        (["customer_value", "horizon"], 365, "customer_value.horizon is not a known field"),
    ],
)
def test_a_malformed_policy_is_a_clear_error_naming_the_field(path, value, names):
    with pytest.raises(PolicyError, match=names) as info:
        parse_policies(_broken(path, value), "policies.yml")
    assert str(info.value).startswith("policies.yml: ")


def test_a_missing_or_unparseable_file_is_a_clear_error(tmp_path: Path):
    with pytest.raises(PolicyError, match="does not exist.*WINBACK_INACTIVITY_POLICIES"):
        load_policies(tmp_path / "nope.yml")
    broken = tmp_path / "broken.yml"
    broken.write_text("version: [unclosed\n")
    with pytest.raises(PolicyError, match="not valid YAML at line"):
        load_policies(broken)


def test_the_model_check_and_customer_value_default_when_the_file_leaves_them_out():
    data = _broken(["model_check"], KeyError)
    del data["customer_value"]
    policies = parse_policies(data)
    assert policies.model_check.holdout_days == 90
    assert policies.customer_value.horizon_days == 365
    assert policies.as_dbt_var()["model_check"]["max_total_error_share"] == 0.25

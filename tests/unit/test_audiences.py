import copy

import pytest
import yaml

from orchestration.lib.audiences import (
    AudienceConfigError,
    assign_group,
    holdout_bucket,
    load_audiences,
    parse_audiences,
)
from orchestration.lib.settings import REPO_ROOT

AUDIENCES_FILE = REPO_ROOT / "config" / "audiences.yml"

BASE = {
    "version": "1",
    "holdout_seed": "seed",
    "audiences": [{
        "name": "winback_x", "description": "d", "statuses": ["inactive"],
        "frequency_cap_days": 30, "holdout_share": 0.1, "platforms": ["generic_csv"],
    }],
}


def _with(**changes):
    data = copy.deepcopy(BASE)
    data["audiences"][0].update(changes)
    return data


def test_the_shipped_audience_file_loads_with_every_spec_tactic():
    config = load_audiences(AUDIENCES_FILE)
    names = {a.name for a in config.audiences}
    assert names == {"winback_inactive_email", "winback_newly_inactive",
                     "feedback_request_inactive", "nudge_at_risk", "high_value_lapsed",
                     "points_expiring_30d", "points_waiting_inactive", "service_open_complaint"}
    assert config.get("service_open_complaint").purpose == "service"
    assert config.get("service_open_complaint").holdout_share == 0
    assert {"google_customer_match", "meta"} <= set(config.get("high_value_lapsed").platforms)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"statuses": ["sleeping"]}, "audience 'winback_x': field 'statuses' has unknown values"),
        ({"holdout_share": 0.7}, "audience 'winback_x': field 'holdout_share' must be from 0"),
        ({"platforms": ["myspace"]}, "audience 'winback_x': field 'platforms' has unknown"),
        ({"personalisation": ["password"]}, "field 'personalisation' has unknown values"),
        ({"where": "1=1"}, "audience 'winback_x': field 'where' is not a known field"),
        ({"frequency_cap_days": -1}, "field 'frequency_cap_days' must be a whole number >= 0"),
        ({"days_inactive": {"min": 30, "max": 10}}, "field 'days_inactive' has min 30 above"),
        ({"statuses": ["at_risk"], "days_inactive": {"max": 10}},
         "field 'days_inactive' applies only to the statuses inactive and lapsed"),
        ({"rfm_segments": ["Champions", "Champions"]}, "field 'rfm_segments' lists a value twice"),
        ({"min_revenue": "lots"}, "field 'min_revenue' must be a number"),
        ({"purpose": "service"}, "field 'holdout_share' must be 0 for a service list"),
        ({"personalisation": ["points_expiring"]},
         "field 'personalisation' lists expiring points, which need points_expiring_within"),
        ({"name": "Bad Name"}, "field 'name' must be lower-case letters"),
        ({"description": None}, "audience 'winback_x': field 'description' is required"),
    ],
)
def test_invalid_audiences_fail_with_the_audience_and_field_named(changes, message):
    with pytest.raises(AudienceConfigError, match=message.replace("(", r"\(")):
        parse_audiences(_with(**changes), "audiences.yml")


def test_an_audience_name_used_twice_is_rejected():
    data = copy.deepcopy(BASE)
    data["audiences"].append(copy.deepcopy(data["audiences"][0]))
    message = "audience 'winback_x': field 'name' is used twice"
    with pytest.raises(AudienceConfigError, match=message):
        parse_audiences(data)


def test_the_definition_hash_changes_with_the_audience_or_seed_only():
    base = parse_audiences(BASE).audiences[0].definition_hash
    assert parse_audiences(_with(holdout_share=0.2)).audiences[0].definition_hash != base
    assert parse_audiences({**BASE, "holdout_seed": "other"}).audiences[0].definition_hash != base
    assert parse_audiences({**BASE, "version": "2"}).audiences[0].definition_hash == base


def test_a_missing_or_broken_file_is_a_clear_error(tmp_path):
    with pytest.raises(AudienceConfigError, match="audience file not found"):
        load_audiences(tmp_path / "nope.yml")
    broken = tmp_path / "broken.yml"
    broken.write_text("audiences: [")
    with pytest.raises(AudienceConfigError, match="not valid YAML"):
        load_audiences(broken)


def test_holdout_assignment_is_a_stable_seeded_hash_of_audience_and_customer():
    # md5("s|a|C1") = 644eb8dc...; 0x644eb8dc / 2**32 = 0.3918...
    assert holdout_bucket("s", "a", "C1") == pytest.approx(0x644EB8DC / 2**32)
    assert assign_group("s", "a", "C1", 0.40) == "holdout"
    assert assign_group("s", "a", "C1", 0.39) == "treatment"
    assert holdout_bucket("s", "b", "C1") != holdout_bucket("s", "a", "C1")
    assert holdout_bucket("t", "a", "C1") != holdout_bucket("s", "a", "C1")


def test_the_holdout_share_is_met_on_many_customers():
    groups = [assign_group("seed", "aud", f"C{i:05d}", 0.1) for i in range(20_000)]
    assert groups.count("holdout") / len(groups) == pytest.approx(0.1, abs=0.01)


def test_the_audience_var_for_dbt_is_plain_json():
    import json

    var = load_audiences(AUDIENCES_FILE).as_dbt_var()
    assert json.loads(json.dumps(var)) == var
    assert yaml.safe_load((AUDIENCES_FILE).read_text())["holdout_seed"] == var["holdout_seed"]

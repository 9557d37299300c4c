"""Audiences ranked and filtered by customer value (CLV, expected purchases) and the ad
platforms' value column."""

import copy
import datetime as dt

import pytest

from orchestration.defs.activation.platforms import (
    Limits,
    PlatformConfigError,
    load_limits,
    platform_for,
)
from orchestration.lib.audiences import AudienceConfigError, load_audiences, parse_audiences
from orchestration.lib.settings import REPO_ROOT

BASE = {
    "version": "1",
    "holdout_seed": "seed",
    "audiences": [{
        "name": "valuable", "description": "d", "statuses": ["lapsed"],
        "frequency_cap_days": 30, "holdout_share": 0.1, "platforms": ["generic_csv", "meta"],
    }],
}
MEMBER = {"customer_id": "C1", "email": "a@example.com", "phone": "+447700900123",
          "first_name": "Ann", "last_name": "Lee", "postal_code": "SW1A 1AA", "country": "GB",
          "member_value": 123.456}


def _audience(**changes):
    data = copy.deepcopy(BASE)
    data["audiences"][0].update(changes)
    return parse_audiences(data).audiences[0]


def test_the_shipped_high_value_audience_uses_clv_with_revenue_as_the_fallback():
    audience = load_audiences(REPO_ROOT / "config" / "audiences.yml").get("high_value_lapsed")
    assert audience.min_clv is not None and audience.min_revenue is not None
    assert audience.order_by == "clv"


def test_model_floors_and_order_are_read_and_default_to_none_and_customer_id():
    plain = _audience()
    assert (plain.min_clv, plain.min_expected_purchases_90d, plain.order_by) == (
        None, None, "customer_id")
    valued = _audience(min_revenue=100, min_clv=20, min_expected_purchases_90d=0.5,
                       order_by="expected_purchases_90d")
    assert (valued.min_clv, valued.min_expected_purchases_90d, valued.order_by) == (
        20.0, 0.5, "expected_purchases_90d")
    assert valued.as_dbt_var()["min_clv"] == 20.0


@pytest.mark.parametrize(("changes", "message"), [
    ({"min_clv": 20}, "field 'min_clv' needs min_revenue beside it"),
    ({"min_expected_purchases_90d": 1}, "field 'min_expected_purchases_90d' needs min_revenue"),
    ({"min_revenue": 10, "min_clv": -1}, "field 'min_clv' must be >= 0"),
    ({"order_by": "p_alive"}, "field 'order_by' must be one of customer_id, clv"),
])
def test_invalid_value_fields_name_the_audience_and_field(changes, message):
    with pytest.raises(AudienceConfigError, match=f"audience 'valuable': {message}"):
        _audience(**changes)


def test_meta_files_of_a_valued_audience_carry_the_value_column_last():
    limits = load_limits(REPO_ROOT / "config" / "platforms.yml")
    meta = platform_for("meta", (), limits["meta"], "valuable", valued=True)
    assert meta.header[-1] == "value" and len(meta.header) == 9
    assert meta.row(MEMBER)[-1] == "123.46"
    assert meta.row({**MEMBER, "member_value": None})[-1] == ""
    assert meta.row({**MEMBER, "member_value": -5})[-1] == "0.00"
    # Identifiers stay hashed; only the value is plain.
    assert len(meta.row(MEMBER)[0]) == 64


def test_platforms_without_a_value_column_and_unvalued_audiences_keep_their_layout():
    limits = load_limits(REPO_ROOT / "config" / "platforms.yml")
    assert limits["google_customer_match"].value_column is None
    google = platform_for("google_customer_match", (), limits["google_customer_match"], "v",
                          valued=True)
    assert "value" not in google.header
    meta = platform_for("meta", (), limits["meta"], "v")
    assert "value" not in meta.header


def test_a_value_column_name_a_platform_cannot_take_is_rejected(tmp_path):
    text = (REPO_ROOT / "config" / "platforms.yml").read_text().replace(
        "value_column: value", "value_column: 'val ue'")
    path = tmp_path / "platforms.yml"
    path.write_text(text)
    with pytest.raises(PlatformConfigError, match="platform 'meta': field 'value_column'"):
        load_limits(path)


def test_limits_without_a_value_column_add_nothing():
    limits = Limits(checked_on=dt.date(2026, 12, 1))
    generic = platform_for("generic_csv", (), limits, "v", valued=True)
    assert generic.header == ("customer_id", "email")

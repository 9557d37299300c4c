"""A/B/n splits: an audience's treated group split into named variants with shares,
assigned by a seeded hash independent of the holdout (config/audiences.yml `variants`)."""

import copy
import datetime as dt

import pytest

from orchestration.defs.activation.assets import export_fields
from orchestration.defs.activation.platforms import Limits, platform_for
from orchestration.lib.audiences import (
    AudienceConfigError,
    assign_group,
    assign_variant,
    parse_audiences,
    variant_bucket,
)

NO_LIMITS = Limits(checked_on=dt.date(2026, 11, 27))
AUDIENCE = {"name": "offer", "description": "d", "purpose": "promotion",
            "statuses": ["inactive"], "frequency_cap_days": 0, "holdout_share": 0.1,
            "platforms": ["generic_csv", "mailchimp", "meta"],
            "personalisation": ["first_name"],
            "variants": [{"name": "discount", "share": 0.5}, {"name": "points", "share": 0.3},
                         {"name": "plain", "share": 0.2}]}


def _config(**changes):
    audience = copy.deepcopy(AUDIENCE)
    audience.update(changes)
    return parse_audiences({"version": "1", "holdout_seed": "s", "audiences": [audience]},
                           "audiences.yml")


def test_variants_are_parsed_in_order_and_reach_dbt():
    config = _config()
    offer = config.get("offer")
    assert [(v.name, v.share) for v in offer.variants] == [
        ("discount", 0.5), ("points", 0.3), ("plain", 0.2)]
    assert config.as_dbt_var()["audiences"][0]["variants"] == [
        {"name": "discount", "share": 0.5}, {"name": "points", "share": 0.3},
        {"name": "plain", "share": 0.2}]
    # Changing the split changes the definition hash written into every manifest.
    other = _config(variants=[{"name": "discount", "share": 0.6},
                              {"name": "points", "share": 0.4}])
    assert other.get("offer").definition_hash != offer.definition_hash
    assert _config(variants=None).get("offer").variants == ()


@pytest.mark.parametrize(
    ("variants", "message"),
    [
        ([{"name": "a", "share": 1.0}], "field 'variants' must list at least two"),
        ("a", "field 'variants' must list at least two"),
        ([{"name": "a", "share": 0.5}, {"name": "b"}],
         r"field 'variants\[1\]' must have exactly the fields name and share"),
        ([{"name": "A", "share": 0.5}, {"name": "b", "share": 0.5}],
         r"field 'variants\[0\].name' must be lower-case"),
        ([{"name": "a", "share": 0.5}, {"name": "a", "share": 0.5}],
         r"field 'variants\[1\].name' 'a' is used twice"),
        ([{"name": "a", "share": 0}, {"name": "b", "share": 1}],
         r"field 'variants\[0\].share' must be above 0"),
        ([{"name": "a", "share": "half"}, {"name": "b", "share": 0.5}],
         r"field 'variants\[0\].share' must be a number"),
        ([{"name": "a", "share": 0.5}, {"name": "b", "share": 0.4}],
         "field 'variants' shares must sum to 1 \\(of the treated group\\); they sum to 0.9"),
    ],
)
def test_invalid_variants_fail_naming_the_audience_and_field(variants, message):
    with pytest.raises(AudienceConfigError, match=f"audience 'offer': {message}"):
        _config(variants=variants)


def test_a_service_list_cannot_be_split():
    with pytest.raises(AudienceConfigError, match="audience 'offer': field 'variants' cannot "
                                                  "split a service list"):
        _config(purpose="service", holdout_share=0)


def test_the_variant_is_a_seeded_hash_salted_apart_from_the_holdout():
    # md5("s|variant|offer|C1") and md5("s|offer|C1") differ: the two splits are independent.
    assert variant_bucket("s", "a", "C1") == pytest.approx(0x8648446C / 2**32)  # 0.5245
    offer = _config().get("offer")
    # Cumulative shares 0.5, 0.8, 1.0: a bucket of 0.5245 falls in the second variant.
    assert variant_bucket("s", "offer", "C1") != variant_bucket("s", "offer", "C2")
    bucket = variant_bucket("s", "offer", "C1")
    expected = "discount" if bucket < 0.5 else "points" if bucket < 0.8 else "plain"
    assert assign_variant("s", offer, "C1") == expected
    assert assign_variant("s", offer, "C1") == assign_variant("s", offer, "C1")
    assert assign_variant("t", offer, "C1") is not None
    assert assign_variant("s", _config(variants=None).get("offer"), "C1") is None


def test_variant_shares_are_met_and_do_not_depend_on_the_holdout_group():
    offer = _config().get("offer")
    ids = [f"C{i:05d}" for i in range(30_000)]
    variants = {i: assign_variant("s", offer, i) for i in ids}
    shares = {name: list(variants.values()).count(name) / len(ids)
              for name in ("discount", "points", "plain")}
    assert shares == pytest.approx({"discount": 0.5, "points": 0.3, "plain": 0.2}, abs=0.01)
    holdout = [i for i in ids if assign_group("s", "offer", i, 0.1) == "holdout"]
    in_holdout = [variants[i] for i in holdout]
    # The holdout's (would-be) variants have the same mix: the two hashes are independent.
    assert in_holdout.count("discount") / len(in_holdout) == pytest.approx(0.5, abs=0.04)


def test_the_email_platforms_carry_the_variant_column_and_the_ad_platforms_do_not():
    offer = _config().get("offer")
    assert export_fields(offer) == ("first_name", "variant")
    assert export_fields(_config(variants=None).get("offer")) == ("first_name",)
    member = {"customer_id": "C1", "email": "a@example.com", "first_name": "Ann",
              "variant": "points"}
    generic = platform_for("generic_csv", export_fields(offer), NO_LIMITS, "offer")
    assert generic.header == ("customer_id", "email", "first_name", "variant")
    assert generic.row(member) == ("C1", "a@example.com", "Ann", "points")
    mailchimp = platform_for("mailchimp", export_fields(offer), NO_LIMITS, "offer")
    assert "Variant" in mailchimp.header
    meta = platform_for("meta", export_fields(offer), NO_LIMITS, "offer")
    assert "variant" not in meta.header


def test_the_summary_gives_each_variant_its_lift_over_the_holdout_on_ended_windows():
    import duckdb

    from orchestration.summary import variant_lift_lines

    con = duckdb.connect()
    assert variant_lift_lines(con) == []
    con.execute("CREATE SCHEMA activation")
    con.execute("CREATE TABLE activation.reactivation_outcomes_by_variant (audience VARCHAR, "
                "send_date DATE, variant VARCHAR, is_window_complete BOOLEAN, "
                "treated_customers INTEGER, treated_conversions INTEGER, "
                "holdout_customers INTEGER, holdout_conversions INTEGER)")
    con.execute("INSERT INTO activation.reactivation_outcomes_by_variant VALUES "
                "('offer', '2026-06-01', 'a', true, 100, 30, 50, 10), "
                "('offer', '2026-06-02', 'a', true, 100, 30, 50, 10), "   # pooled with 06-01
                "('offer', '2026-06-01', 'b', true, 100, 20, 50, 10), "
                "('offer', '2026-07-20', 'b', false, 100, 90, 50, 0)")    # window still open
    lines = variant_lift_lines(con)
    # a: 60/200 - 20/100 = +10 pp, Wald SE sqrt(.3 x .7 / 200 + .2 x .8 / 100) = 0.0515.
    assert lines == [
        "    lift offer variant a (vs the holdout): +10.0 pp (95% CI -0.1 to +20.1 pp)",
        "    lift offer variant b (vs the holdout): +0.0 pp (95% CI -13.6 to +13.6 pp)"]

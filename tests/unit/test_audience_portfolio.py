"""Audiences as a portfolio: exclusion groups (priority order) in config/audiences.yml."""

import copy

import pytest
import yaml

from orchestration.lib.audiences import AudienceConfigError, load_audiences, parse_audiences
from orchestration.lib.settings import REPO_ROOT


def _audience(name, purpose="promotion"):
    return {"name": name, "description": "d", "purpose": purpose, "statuses": ["inactive"],
            "frequency_cap_days": 0, "holdout_share": 0, "platforms": ["generic_csv"]}


BASE = {
    "version": "1",
    "holdout_seed": "seed",
    "audiences": [_audience("first"), _audience("second"), _audience("third"),
                  _audience("service_list", purpose="service")],
}


def _with_groups(groups):
    data = copy.deepcopy(BASE)
    data["exclusion_groups"] = groups
    return data


def test_an_exclusion_group_keeps_its_audiences_in_priority_order_and_reaches_dbt():
    config = parse_audiences(_with_groups([{"name": "promo", "audiences": ["second", "first"]}]))
    (group,) = config.exclusion_groups
    assert group.audiences == ("second", "first")
    assert config.as_dbt_var()["exclusion_groups"] == [
        {"name": "promo", "audiences": ["second", "first"]}]


def test_a_file_without_exclusion_groups_has_none_and_keeps_its_definition_hashes():
    plain = parse_audiences(copy.deepcopy(BASE))
    assert plain.exclusion_groups == ()
    assert plain.as_dbt_var()["exclusion_groups"] == []
    grouped = parse_audiences(_with_groups([{"name": "promo", "audiences": ["first", "second"]}]))
    # A grouped audience's members depend on the audiences above it: its hash says so.
    assert grouped.get("first").definition_hash != plain.get("first").definition_hash
    assert grouped.get("second").definition_hash != plain.get("second").definition_hash
    assert grouped.get("third").definition_hash == plain.get("third").definition_hash
    reordered = parse_audiences(_with_groups([{"name": "promo",
                                               "audiences": ["second", "first"]}]))
    assert reordered.get("first").definition_hash != grouped.get("first").definition_hash


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ({"name": "promo"}, "field 'exclusion_groups' must be a list"),
        ([{"name": "promo", "audiences": ["first"]}],
         "exclusion group 'promo': field 'audiences' must list at least two audiences"),
        ([{"name": "promo", "audiences": ["first", "fourth"]}],
         "exclusion group 'promo': field 'audiences' names 'fourth', which is not an audience"),
        ([{"name": "a", "audiences": ["first", "second"]},
          {"name": "b", "audiences": ["third", "first"]}],
         "names 'first', which is already in the exclusion group 'a'"),
        ([{"name": "promo", "audiences": ["first", "service_list"]}],
         "names 'service_list', a service list; only promotion audiences"),
        ([{"name": "Promo", "audiences": ["first", "second"]}], "field 'name' must be lower-case"),
        ([{"name": "promo", "audiences": ["first", "second"], "priority": 1}],
         "must have exactly the fields name and audiences"),
        ([{"name": "promo", "audiences": ["first", "second"]},
          {"name": "promo", "audiences": ["third", "first"]}], "is defined twice"),
    ],
)
def test_invalid_exclusion_groups_fail_naming_the_group_and_field(groups, message):
    with pytest.raises(AudienceConfigError, match=message):
        parse_audiences(_with_groups(groups), "audiences.yml")


def test_the_shipped_file_groups_the_promotion_audiences_that_compete_for_inactive_customers():
    config = load_audiences(REPO_ROOT / "config" / "audiences.yml")
    group, newly = config.exclusion_groups
    assert group.audiences[0] == "feedback_request_inactive"
    # The week after crossing: the points message first, then the offer.
    assert newly.audiences == ("points_waiting_inactive", "winback_newly_inactive")
    assert {"high_value_lapsed", "nudge_at_risk", "points_expiring_30d"} <= set(group.audiences)
    assert all(config.get(name).purpose == "promotion" for name in group.audiences)


def test_the_suppression_audience_is_parsed_for_the_hashed_ad_platforms_only():
    data = copy.deepcopy(BASE)
    data["suppression_audience"] = {"name": "do_not_contact", "platforms": ["meta"]}
    suppression = parse_audiences(data).suppression_audience
    assert (suppression.name, suppression.platforms) == ("do_not_contact", ("meta",))
    assert parse_audiences(copy.deepcopy(BASE)).suppression_audience is None
    shipped = load_audiences(REPO_ROOT / "config" / "audiences.yml").suppression_audience
    assert set(shipped.platforms) == {"google_customer_match", "meta"}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "do_not_contact", "platforms": ["mailchimp"]},
         "suppression_audience: field 'platforms' must list, once each, some of"),
        ({"name": "first", "platforms": ["meta"]}, "'first' is also an audience's name"),
        ({"name": "x", "platforms": ["meta"], "holdout_share": 0.1},
         "must have exactly the fields name and platforms"),
    ],
)
def test_an_invalid_suppression_audience_fails_naming_the_field(entry, message):
    data = copy.deepcopy(BASE)
    data["suppression_audience"] = entry
    with pytest.raises(AudienceConfigError, match=message):
        parse_audiences(data, "audiences.yml")


def test_the_summary_warns_of_heavily_overlapping_promotions_outside_an_exclusion_group():
    import datetime as dt

    import duckdb

    from orchestration.summary import overlap_warning_lines

    con = duckdb.connect()
    assert overlap_warning_lines(con, dt.date(2026, 6, 30), parse_audiences(BASE)) == []
    con.execute("CREATE SCHEMA activation")
    con.execute("CREATE TABLE activation.audience_overlap (as_of_date DATE, audience_a VARCHAR, "
                "audience_b VARCHAR, overlap_customers INTEGER, share_of_a DOUBLE, "
                "share_of_b DOUBLE, both_promotion BOOLEAN, same_exclusion_group BOOLEAN)")
    con.execute("INSERT INTO activation.audience_overlap VALUES "
                "('2026-06-30', 'a', 'b', 40, 0.4, 1.0, true, false), "   # warned
                "('2026-06-30', 'a', 'c', 10, 0.1, 0.2, true, false), "   # light overlap
                "('2026-06-30', 'a', 's', 50, 0.5, 1.0, false, false), "  # a service list
                "('2026-06-30', 'b', 'd', 0, 0.0, 0.0, true, true), "     # grouped
                "('2026-06-29', 'c', 'd', 9, 0.9, 0.9, true, false)")     # another day
    (line,) = overlap_warning_lines(con, dt.date(2026, 6, 30), parse_audiences(BASE))
    assert "promotions a and b overlap: 40 customers in both (40.0 % of a, 100.0 % of b)" in line


def _overlap_table():
    import duckdb

    con = duckdb.connect()
    con.execute("CREATE SCHEMA activation")
    con.execute("CREATE TABLE activation.audience_overlap (as_of_date DATE, audience_a VARCHAR, "
                "audience_b VARCHAR, overlap_customers INTEGER, share_of_a DOUBLE, "
                "share_of_b DOUBLE, both_promotion BOOLEAN, same_exclusion_group BOOLEAN)")
    return con


def test_the_shipped_file_declares_its_overlaps_so_the_summary_does_not_warn_every_day():
    import datetime as dt

    from orchestration.summary import overlap_warning_lines

    config = load_audiences(REPO_ROOT / "config" / "audiences.yml")
    con = _overlap_table()
    # The shipped audiences' overlaps as the demo has them each day (all inactive customers).
    con.execute("INSERT INTO activation.audience_overlap VALUES "
                "('2026-12-01', 'feedback_request_inactive', 'winback_inactive_email', "
                "1347, 1.0, 1.0, true, false), "
                "('2026-12-01', 'feedback_request_inactive', 'winback_newly_inactive', "
                "300, 0.22, 1.0, true, false), "
                "('2026-12-01', 'winback_inactive_email', 'winback_newly_inactive', "
                "300, 0.22, 1.0, true, false)")
    assert overlap_warning_lines(con, dt.date(2026, 12, 1), config) == []
    # A user's config that drops the declaration double-books the same customers: warned.
    data = yaml.safe_load((REPO_ROOT / "config" / "audiences.yml").read_text())
    del data["intended_overlaps"]
    lines = overlap_warning_lines(con, dt.date(2026, 12, 1), parse_audiences(data))
    assert len(lines) == 3
    assert "feedback_request_inactive and winback_inactive_email overlap: 1,347" in lines[0]


def test_a_declared_overlap_silences_only_the_pairs_it_names():
    import datetime as dt

    from orchestration.summary import overlap_warning_lines

    data = copy.deepcopy(BASE)
    data["intended_overlaps"] = [{"audiences": ["first", "second"], "reason": "both meant"}]
    config = parse_audiences(data)
    assert config.overlap_is_intended("second", "first")
    assert not config.overlap_is_intended("first", "third")
    con = _overlap_table()
    con.execute("INSERT INTO activation.audience_overlap VALUES "
                "('2026-06-30', 'first', 'second', 40, 0.8, 0.8, true, false), "
                "('2026-06-30', 'first', 'third', 40, 0.8, 0.8, true, false)")
    (line,) = overlap_warning_lines(con, dt.date(2026, 6, 30), config)
    assert "promotions first and third overlap" in line
    assert "or list them under intended_overlaps if both messages are meant" in line


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"audiences": ["first", "second"]}, r"intended_overlaps\[0\] must have exactly"),
        ({"audiences": ["first", "second"], "reason": " "}, "field 'reason' must say why"),
        ({"audiences": ["first"], "reason": "r"}, "must list two or more different"),
        ({"audiences": ["first", "first"], "reason": "r"}, "must list two or more different"),
        ({"audiences": ["first", "nope"], "reason": "r"},
         "names 'nope', which is not a promotion audience"),
        ({"audiences": ["first", "service_list"], "reason": "r"},
         "names 'service_list', which is not a promotion audience"),
    ],
)
def test_an_invalid_intended_overlap_fails_naming_the_field(entry, message):
    data = copy.deepcopy(BASE)
    data["intended_overlaps"] = [entry]
    with pytest.raises(AudienceConfigError, match=message):
        parse_audiences(data, "audiences.yml")


def test_audiences_of_one_exclusion_group_cannot_be_declared_to_overlap():
    data = _with_groups([{"name": "g", "audiences": ["first", "second"]}])
    data["intended_overlaps"] = [{"audiences": ["first", "second", "third"], "reason": "r"}]
    with pytest.raises(AudienceConfigError, match="share the exclusion group 'g'"):
        parse_audiences(data, "audiences.yml")

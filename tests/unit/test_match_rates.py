"""The match estimate: rows per identifier a platform matches on and the estimated share."""

import datetime as dt

import duckdb
import pytest

from orchestration.defs.activation.match_rates import (
    MatchRateConfigError,
    load_match_rates,
    match_estimate,
)
from orchestration.lib.settings import REPO_ROOT

GOOGLE = {"rates": {"email": 0.5, "phone": 0.4, "name_postal": 0.2},
          "checked_on": dt.date(2026, 11, 27)}
MEMBERS = [
    # email, phone, first_name, last_name, postal_code
    ("a@x.org", "+447700900001", "Ann", "Lee", "SW1A 1AA"),  # 1 - .5 * .6 * .8 = .76
    ("b@x.org", None, "Bo", "Ng", None),                     # names without a postcode: .5
    (None, "+33612345678", None, None, None),                 # phone only: .4
    ("d@x.org", " ", "Di", " ", "75001"),                     # blank values are missing: .5
]


@pytest.fixture
def con():
    connection = duckdb.connect()
    connection.execute("CREATE TABLE m (email VARCHAR, phone VARCHAR, first_name VARCHAR, "
                       "last_name VARCHAR, postal_code VARCHAR)")
    connection.executemany("INSERT INTO m VALUES (?, ?, ?, ?, ?)", MEMBERS)
    yield connection
    connection.close()


def test_an_ad_platform_counts_each_identifier_and_combines_their_rates(con):
    estimate = match_estimate(con, "SELECT * FROM m", "google_customer_match", GOOGLE)
    assert estimate["rows"] == 4
    assert estimate["rows_with"] == {"email": 3, "phone": 2, "name_postal": 1}
    assert estimate["estimated_matchable_share"] == pytest.approx((.76 + .5 + .4 + .5) / 4)
    assert estimate["match_rates_checked_on"] == "2026-11-27"


def test_an_email_platform_matches_every_row_with_an_address(con):
    estimate = match_estimate(con, "SELECT * FROM m", "mailchimp", None)
    assert estimate["rows_with"] == {"email": 3}
    assert estimate["estimated_matchable_share"] == 0.75


def test_rows_without_names_count_none_with_name_and_postcode_and_no_rows_give_no_share(con):
    estimate = match_estimate(con, "SELECT email, phone FROM m", "meta", GOOGLE)
    assert estimate["rows_with"]["name_postal"] == 0
    empty = match_estimate(con, "SELECT * FROM m WHERE false", "meta", GOOGLE)
    assert (empty["rows"], empty["estimated_matchable_share"]) == (0, None)


def test_the_shipped_platform_file_gives_rates_for_both_ad_platforms():
    rates = load_match_rates(REPO_ROOT / "config" / "platforms.yml")
    assert set(rates) == {"google_customer_match", "meta"}
    assert all(0 < r <= 1 for entry in rates.values() for r in entry["rates"].values())


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("mailchimp:\n    checked_on: 2026-11-27\n    match_rates: {email: 1}",
         "applies only to google_customer_match, meta"),
        ("meta:\n    checked_on: 2026-11-27\n    match_rates: {email: 0.5}",
         "must give a rate for each of email, phone, name_postal"),
        ("meta:\n    checked_on: 2026-11-27\n"
         "    match_rates: {email: 1.5, phone: 0.1, name_postal: 0.1}",
         "'email' must be a share from 0 to 1"),
    ],
)
def test_invalid_match_rates_name_the_platform_and_field(tmp_path, entry, message):
    path = tmp_path / "platforms.yml"
    path.write_text("platforms:\n  " + entry + "\n", encoding="utf-8")
    with pytest.raises(MatchRateConfigError, match=message):
        load_match_rates(path)

"""Golden files for every platform layout, hashing vectors, limits and splitting."""

import csv
import datetime as dt
import hashlib
import io
import re
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest
import yaml

from orchestration.defs.activation.atomic_files import (
    CsvParts,
    ExportLimitError,
    write_csv_parts,
)
from orchestration.defs.activation.match_rates import fail_below_minimum
from orchestration.defs.activation.platforms import (
    PLATFORMS,
    Limits,
    PlatformConfigError,
    below_minimum,
    load_limits,
    normalise_email,
    normalise_phone_google,
    normalise_phone_meta,
    platform_for,
    safe_text,
    sha256_hex,
    truncate_utf8,
)
from orchestration.lib.settings import REPO_ROOT

PLATFORMS_FILE = REPO_ROOT / "config" / "platforms.yml"

GOLDEN = Path(__file__).parents[1] / "golden"
NO_LIMITS = Limits(checked_on=dt.date(2026, 11, 27))
FIELDS = ("first_name", "last_name", "phone", "country", "postal_code", "last_category",
          "last_order_date", "loyalty_points", "revenue_main_currency")
MEMBERS = [
    {"customer_id": "C02", "email": "zoe.old@example.com", "first_name": 'Zoë, "Z"',
     "last_name": "O'Old", "phone": "+447700900123", "country": "UK", "postal_code": "SW1A 1AA",
     "last_category": "garden", "last_order_date": dt.date(2025, 12, 12), "loyalty_points": 120,
     "revenue_main_currency": Decimal("45.50")},
    {"customer_id": "C13", "email": "ivy@example.com", "first_name": "=Ivy",
     "last_name": "Line\nBreak", "phone": None, "country": "DE", "postal_code": None,
     "last_category": None, "last_order_date": dt.date(2025, 12, 1), "loyalty_points": 0,
     "revenue_main_currency": Decimal("0.00")},
    {"customer_id": "C20", "email": "山田@例え.jp", "first_name": "太郎",
     "last_name": "山田",
     "phone": "+81312345678", "country": "jp", "postal_code": "100-0001",
     "last_category": "home", "last_order_date": dt.date(2026, 1, 2), "loyalty_points": 5,
     "revenue_main_currency": Decimal("1200.00")},
    # Hostile values (issue 9): formulas behind leading whitespace, in country and postal code
    # too, and control characters, NUL included, that must never reach a file.
    {"customer_id": "C31", "email": "eve@example.com", "first_name": "  =HYPERLINK(\"x\")",
     "last_name": "Nu\x00ll\x1bEsc", "phone": "+1 650 555", "country": " =cmd",
     "postal_code": "\t+1 AB", "last_category": "\r@SUM(A1)", "last_order_date": None,
     "loyalty_points": -3, "revenue_main_currency": Decimal("-1.50")},
]


def _write(tmp_path, name):
    platform = platform_for(name, FIELDS, NO_LIMITS, "winback_newly_inactive")
    (written,) = write_csv_parts(tmp_path, name, platform.header,
                                 (platform.row(m) for m in MEMBERS))
    return written.path.read_bytes()


@pytest.mark.parametrize("name", sorted(PLATFORMS))
def test_each_platform_file_matches_its_golden_file_byte_for_byte(tmp_path, name):
    assert _write(tmp_path, name) == (GOLDEN / f"{name}.csv").read_bytes()


@pytest.mark.parametrize(
    ("name", "header"),
    [
        ("google_customer_match", b"Email,Phone,First Name,Last Name,Country,Zip\r\n"),
        ("meta", b"email,phone,fn,ln,ct,st,zip,country\r\n"),
        ("mailchimp", b"Email Address,First Name,Last Name,Phone Number,Country,"),
        ("klaviyo", b"Email,First Name,Last Name,Phone Number,"),
        ("braze", b"external_id,email,first_name,last_name,phone,country,"),
        ("braze_external_id", b"external_id\r\nC02\r\n"),
        ("hubspot", b"Email,First Name,Last Name,Phone Number,Country/Region,Postal Code,"),
        ("sendgrid", b"email,first_name,last_name,phone_number,country,postal_code,"),
        ("generic_csv", b"customer_id,email,first_name,last_name,"),
    ],
)
def test_each_platform_starts_with_its_documented_headers(tmp_path, name, header):
    assert _write(tmp_path, name).startswith(header)


def test_hashing_vectors_follow_each_platforms_normalisation():
    # sha256("test@example.com"), the example in both vendors' documentation.
    expected = "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b"
    assert sha256_hex(normalise_email(" Test@Example.COM ")) == expected
    # Google: E.164 with '+'; Meta: digits with country code, no '+', no leading zeros.
    assert normalise_phone_google("+1 (650) 555-1212") == "+16505551212"
    assert normalise_phone_meta("+1 (650) 555-1212") == "16505551212"
    assert sha256_hex("+16505551212") == (
        "1e231c66011e7a2d867a9cfae267a6aff103cf4913640b6e71a99850fc0ffbc8")
    assert sha256_hex("16505551212") == (
        "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176")
    # A number that is not E.164 cannot be given a country code: it is left out, not guessed.
    assert normalise_phone_google("07700 900123") == ""
    assert normalise_phone_meta("07700 900123") == ""
    assert sha256_hex("") == ""


def test_ad_platform_rows_hash_names_lowercased_and_keep_blank_cells_blank():
    google = platform_for("google_customer_match", (), NO_LIMITS, "a")
    row = google.row({"email": " Test@Example.COM ", "phone": None, "first_name": " Zoë ",
                      "last_name": None, "country": "uk", "postal_code": " SW1A 1AA "})
    assert row == (
        "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b",
        "",
        hashlib.sha256("zoë".encode()).hexdigest(),
        "",
        "GB",
        "SW1A 1AA",
    )
    meta = platform_for("meta", (), NO_LIMITS, "a")
    row = meta.row({"email": "a@b.co", "phone": "+44 07700", "first_name": "Zoë",
                    "last_name": "X", "country": "GB", "postal_code": "SW1A 1AA"})
    assert row[1] == hashlib.sha256(b"4407700").hexdigest()
    assert row[6] == hashlib.sha256(b"sw1a1aa").hexdigest()
    assert row[7] == hashlib.sha256(b"gb").hexdigest()
    assert row[4:6] == ("", "")


@pytest.mark.parametrize("name", sorted(PLATFORMS))
def test_a_batch_gives_each_member_the_row_they_get_alone(name):
    """Cells are made once per distinct text value of a column batch; values that are equal
    but format apart (1 and True, 0.0 and -0.0, Decimals of different scales) never share."""
    platform = platform_for(name, FIELDS, NO_LIMITS, "winback_newly_inactive", valued=True)
    members = MEMBERS * 3 + [
        {**MEMBERS[0], "loyalty_points": value, "revenue_main_currency": amount,
         "member_value": member_value}
        for value, amount, member_value in ((1, Decimal("1.0"), 0.0), (True, Decimal("1.00"), -0.0),
                                            (1.0, Decimal("1"), 2.5))]
    batch = {field: [m.get(field) for m in members]
             for field in dict.fromkeys(f for m in members for f in (*m, "member_value"))}
    assert platform.rows(batch, len(members)) == [platform.row(m) for m in members]


@pytest.mark.parametrize("name", sorted(PLATFORMS))
def test_no_platform_file_holds_a_control_character_or_an_unescaped_formula(tmp_path, name):
    data = _write(tmp_path, name).decode("utf-8")
    assert not re.search("[\x00-\x09\x0b\x0c\x0e-\x1f\x7f-\x9f]", data)
    for row in list(csv.reader(io.StringIO(data, newline="")))[1:]:
        for value in row:
            assert not value.lstrip().startswith(("=", "+", "-", "@")) or value in (
                "+447700900123", "+81312345678", "-3", "-1.50"), (name, value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("=SUM(A1)", "'=SUM(A1)"), ("+1", "'+1"), ("-x", "'-x"), ("@me", "'@me"),
     ("\tTab", "Tab"), ("  =x", "'=x"), ("\r\n=x", "'=x"), ("\x00=x", "'=x"),
     ("a\x00b\x1bc\x85d", "abcd"), ("Line\nBreak", "Line\nBreak"), ("Zoë ", "Zoë"),
     (None, ""), ("O'Brien", "O'Brien"), (12, "12")],
)
def test_safe_text_strips_controls_trims_and_escapes_formulas(value, expected):
    assert safe_text(value) == expected


def test_hashes_come_from_the_normalised_value_not_the_escaped_one():
    google = platform_for("google_customer_match", (), NO_LIMITS, "a")
    row = google.row({"email": "a@b.co", "first_name": "=Ivy", "country": "=x"})
    assert row[2] == hashlib.sha256(b"=ivy").hexdigest()
    assert row[4] == "'=X"


def test_plain_files_escape_formula_names_but_never_alter_an_email():
    generic = platform_for("generic_csv", ("first_name",), NO_LIMITS, "a")
    assert generic.row({"customer_id": "C1", "email": "+x@example.com", "first_name": "=Ivy"}) == (
        "C1", "+x@example.com", "'=Ivy")


def test_mailchimp_text_fields_are_cut_to_255_bytes_without_splitting_a_character():
    limits = Limits(checked_on=dt.date(2026, 11, 27), max_field_bytes=255)
    mailchimp = platform_for("mailchimp", ("first_name",), limits, "a")
    row = mailchimp.row({"email": "a@b.co", "first_name": "é" * 200})
    assert row[1] == "é" * 127
    assert len(row[1].encode()) == 254
    assert truncate_utf8("abc", 2) == "ab"
    # At the edge of the cells checked by their length alone (255 // 4 = 63 characters).
    for name, kept in (("😀" * 63, "😀" * 63), ("😀" * 64, "😀" * 63), ("a" * 255, "a" * 255),
                       ("a" * 256, "a" * 255)):
        assert mailchimp.row({"email": "a@b.co", "first_name": name})[1] == kept


def test_sendgrid_refuses_custom_field_names_it_cannot_store():
    with pytest.raises(PlatformConfigError, match="sendgrid custom field names"):
        platform_for("sendgrid", ("1st",), NO_LIMITS, "a")


def test_the_limits_file_covers_every_platform_with_a_checked_on_date():
    limits = load_limits(PLATFORMS_FILE)
    assert set(limits) == set(PLATFORMS)
    assert limits["hubspot"].max_rows == 1_048_576
    assert limits["klaviyo"].max_bytes == 50_000_000
    assert limits["sendgrid"].max_rows == 1_000_000
    assert limits["meta"].min_rows == 100
    assert not limits["mailchimp"].verified
    assert all(isinstance(v.checked_on, dt.date) for v in limits.values())


def test_a_limits_file_without_checked_on_is_rejected(tmp_path):
    path = tmp_path / "platforms.yml"
    path.write_text("platforms:\n  meta: {max_rows: 5}\n")
    with pytest.raises(PlatformConfigError, match="platform 'meta': field 'checked_on'"):
        load_limits(path)


def test_a_file_with_exactly_the_row_limit_is_one_part_and_one_more_row_splits(tmp_path):
    rows = [(f"C{i}",) for i in range(4)]
    one = write_csv_parts(tmp_path / "a", "x", ("id",), rows, max_rows=4)
    assert [(f.path.name, f.rows) for f in one] == [("x.csv", 4)]
    two = write_csv_parts(tmp_path / "b", "x", ("id",), rows + [("C4",)], max_rows=4)
    assert [(f.path.name, f.rows) for f in two] == [("x-001.csv", 4), ("x-002.csv", 1)]
    for part in ("001", "002"):
        expected = (GOLDEN / f"split_rows-{part}.csv").read_bytes()
        assert (tmp_path / "b" / f"x-{part}.csv").read_bytes() == expected


def test_a_file_is_split_at_the_byte_limit_with_the_header_in_every_part(tmp_path):
    # header "id\r\n" = 4 bytes; each row "Cn\r\n" = 4 bytes: 12 bytes hold the header + 2 rows.
    rows = [(f"C{i}",) for i in range(5)]
    parts = write_csv_parts(tmp_path, "x", ("id",), rows, max_bytes=12)
    assert [(f.rows, f.bytes) for f in parts] == [(2, 12), (2, 12), (1, 8)]
    assert all(f.path.read_bytes().startswith(b"id\r\n") for f in parts)
    assert [f.sha256 for f in parts] == [hashlib.sha256(f.path.read_bytes()).hexdigest()
                                         for f in parts]


@pytest.mark.parametrize(("max_rows", "max_bytes"), [
    (None, 40), (3, 1000), (3, 40), (4, 33), (None, 10_000)])
def test_batches_split_at_either_limit_exactly_as_rows_written_one_by_one(
        tmp_path, max_rows, max_bytes):
    """A batch that fits the current part is written whole; one that would cross a limit
    still splits where row-by-row writing does. Rows of different widths, some quoted."""
    rows = [(f"C{i}", "x" * (i % 4), "a,b" if i % 5 == 0 else "") for i in range(23)]

    def parts(folder, sizes):
        folder.mkdir()
        written = CsvParts(folder, "x", ("id", "pad", "note"), max_rows=max_rows,
                           max_bytes=max_bytes)
        start = 0
        for size in sizes:
            written.write(rows[start:start + size])
            start += size
        return [(f.path.name, f.rows, f.path.read_bytes()) for f in written.close()]

    one_by_one = parts(tmp_path / "rows", [1] * len(rows))
    assert (len(one_by_one) > 1) == (max_bytes < 10_000)  # the last case fits one part
    assert all(r <= (max_rows or r) for _, r, _ in one_by_one)
    assert all(len(data) <= max_bytes for _, _, data in one_by_one)
    assert parts(tmp_path / "batches", [7, 2, 9, 5]) == one_by_one
    assert parts(tmp_path / "whole", [len(rows)]) == one_by_one


def test_a_row_larger_than_the_byte_limit_is_an_error_and_leaves_no_file(tmp_path):
    with pytest.raises(ExportLimitError, match="does not fit"):
        write_csv_parts(tmp_path, "x", ("id",), [("C" * 50,)], max_bytes=20)
    assert list(tmp_path.iterdir()) == []


def test_the_ad_platforms_minimum_audience_size_comes_with_its_source():
    limits = load_limits(PLATFORMS_FILE)
    for name in ("google_customer_match", "meta"):
        assert limits[name].min_rows == 100
        assert limits[name].min_rows_source.startswith("https://")
    # The email platforms import any size: no minimum.
    assert {n for n, v in limits.items() if v.min_rows} == {"google_customer_match", "meta"}


def _limits_file(tmp_path, platform, entry):
    data = yaml.safe_load(PLATFORMS_FILE.read_text())
    data["platforms"][platform].update(entry)
    path = tmp_path / "platforms.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_minimum_on_an_email_platform_or_without_its_source_is_rejected(tmp_path):
    path = _limits_file(tmp_path, "klaviyo", {"min_rows": 10, "min_rows_source": "x"})
    with pytest.raises(PlatformConfigError,
                       match="platform 'klaviyo': field 'min_rows' applies only to the ad"):
        load_limits(path)
    path = _limits_file(tmp_path, "meta", {"min_rows_source": None})
    with pytest.raises(PlatformConfigError, match="platform 'meta': field 'min_rows_source'"):
        load_limits(path)


def test_an_ad_export_below_the_minimum_fails_with_one_line_of_counts():
    limits = load_limits(PLATFORMS_FILE)["meta"]
    assert below_minimum("high_value_lapsed", "meta", 100, limits) is None
    message = below_minimum("high_value_lapsed", "meta", 99, limits)
    assert message == (
        "high_value_lapsed -> meta: 99 rows, below the platform's minimum audience size of 100 "
        f"(min_rows in the platform limits file, {limits.min_rows_source}); file not written")
    assert "\n" not in message
    with pytest.raises(dg.Failure) as failure:
        fail_below_minimum([message, "x -> google_customer_match: 0 rows, ..."])
    assert failure.value.description.startswith(
        "2 ad platform export(s) below the platform's minimum audience size, not written "
        "(every other export was): high_value_lapsed -> meta: 99 rows")
    fail_below_minimum([])  # nothing below: the step succeeds

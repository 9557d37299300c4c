import json

import pandas as pd

from orchestration.defs.quality.gx import load_suite, validate_dataframe


def _members(**overrides):
    frame = pd.DataFrame(
        {
            "audience": ["winback_x", "winback_x"],
            "customer_id": ["C1", "C2"],
            "email": ["ann@example.com", "bob@example.org"],
            "phone": ["+447700900123", None],
            "entered_on": ["2026-01-01", "2026-02-01"],
            "status": ["inactive", "lapsed"],
        }
    )
    for column, values in overrides.items():
        frame[column] = values
    return frame


def test_a_clean_audience_passes_the_export_suite():
    outcome = validate_dataframe(load_suite("sync_audience_members"), _members(), "customer_id")
    assert outcome.success
    assert outcome.rows == 2


def test_failures_name_row_keys_and_never_values():
    dirty = _members(email=["=HYPERLINK@evil.example", "Secret.Person@Example.org"])
    outcome = validate_dataframe(load_suite("sync_audience_members"), dirty, "customer_id")
    assert not outcome.success
    regex_failures = [f.unexpected_keys for f in outcome.failed
                      if f.expectation == "expect_column_values_to_match_regex"]
    # The formula-prefix rule fails C1; the lower-case rule fails both.
    assert regex_failures == [["C1"], ["C1", "C2"]]
    reported = json.dumps([f.__dict__ for f in outcome.outcomes])
    assert "evil" not in reported and "Secret" not in reported


def test_regexes_are_anchored_so_a_valid_substring_does_not_pass():
    outcome = validate_dataframe(
        load_suite("sync_audience_members"),
        _members(email=["junk ann@example.com junk", "bob@example.org"]),
        "customer_id",
    )
    assert not outcome.success


def _suite_regexes():
    """(suite file, column, pattern) of every regex expectation of every suite."""
    from orchestration.defs.quality.gx import EXPECTATIONS_DIR

    for path in sorted(EXPECTATIONS_DIR.glob("*.json")):
        for expectation in json.loads(path.read_text())["expectations"]:
            regex = expectation["kwargs"].get("regex")
            if regex:
                yield path.name, expectation["kwargs"].get("column"), regex


def test_every_regex_in_every_suite_is_anchored():
    for name, _, regex in _suite_regexes():
        assert regex.startswith("^") and regex.endswith("$"), (name, regex)


def test_every_regex_is_written_in_ascii_with_escapes_for_other_characters():
    # GX's PostgreSQL datasource pastes a pattern's repr() into its failing-rows query through
    # re.sub, which fails on the \\x and \\u escapes repr() writes for non-printable characters:
    # the expectation then fails on clean data. Escapes in the pattern itself are read alike by
    # Python, Java (Spark) and PostgreSQL.
    for name, _, regex in _suite_regexes():
        assert regex.isascii() and regex.isprintable(), (name, ascii(regex))


def test_every_regex_rejects_python_whitespace_even_where_backslash_s_is_ascii_only():
    # GX runs a suite's regexes in the engine: Python's re on pandas (DuckDB), Java's rlike on
    # Spark, whose \s is ASCII-only. An address with a no-break space must fail on every engine,
    # so each regex must decide the same with ASCII-only \s (re.ASCII) as with Unicode \s.
    import re
    import sys

    spaces = [chr(c) for c in range(sys.maxunicode + 1) if re.fullmatch(r"\s", chr(c))]
    probes = [probe for space in spaces for probe in (
        f"a{space}b@example.com", f"{space}ab@example.com", f"ab@exa{space}mple.com",
        f"ab@example.c{space}om", f"+4477009{space}00123")]
    regexes = list(_suite_regexes())
    for name, column, regex in regexes:
        unicode_s, ascii_s = re.compile(regex), re.compile(regex, re.ASCII)
        differ = [hex(ord(c)) for probe in probes
                  if bool(unicode_s.search(probe)) != bool(ascii_s.search(probe))
                  for c in probe if c in spaces]
        assert not differ, (name, column, sorted(set(differ)))
    assert len(regexes) >= 4


def test_every_failing_row_key_is_reported_not_only_the_first():
    """Regression: GX groups keys as [{key: [...]}] with exclude_unexpected_values; only the first
    one used to be reported."""
    dirty = _members(email=["=a@evil.example", "=b@evil.example"])
    outcome = validate_dataframe(load_suite("sync_audience_members"), dirty, "customer_id")
    failed = {(f.expectation, f.column): f for f in outcome.failed}
    assert sorted(failed[("expect_column_values_to_match_regex", "email")].unexpected_keys) == [
        "C1", "C2"]


def test_a_suite_reads_only_the_key_and_the_columns_it_names():
    from orchestration.defs.quality.gx import suite_columns

    columns = suite_columns(load_suite("contact_hygiene"), "customer_id")
    assert columns[0] == "customer_id"
    assert {"email_normalized", "phone_e164", "is_contactable_email", "email_consent_status",
            "is_email_suppressed"} <= set(columns)
    assert "first_name" not in columns and len(columns) == len(set(columns))


def test_the_consent_gate_suite_fails_a_contactable_customer_without_consent_or_suppressed():
    frame = pd.DataFrame({
        "customer_id": ["C1", "C2", "C3"],
        "email_normalized": ["a@x.org", "b@x.org", "c@x.org"],
        "phone_e164": ["+447911123456", None, None],
        "phone_extension": [None, None, "12"],
        "email_consent_status": ["opted_in", "no_consent", "opted_in"],
        "sms_consent_status": ["opted_in", "no_consent", "no_consent"],
        "is_contactable_email": [True, True, True],
        "is_email_suppressed": [False, False, True],
        "is_email_valid": [True, True, True],
        "is_email_owner": [True, True, True],
        "is_contactable_sms": [True, False, False],
        "email_not_contactable_reason": [None, None, None],
    })
    outcome = validate_dataframe(load_suite("contact_hygiene"), frame, "customer_id")
    failed = {f.column: f.unexpected_keys for f in outcome.failed}
    assert failed == {"is_contactable_email,email_consent_status": ["C2"],
                      "is_contactable_email,is_email_suppressed": ["C3"]}
    clean = frame.assign(is_contactable_email=[True, False, False])
    assert validate_dataframe(load_suite("contact_hygiene"), clean, "customer_id").success


def test_the_audience_suite_fails_one_address_twice_in_an_audience_but_not_across_audiences():
    twice = _members(email=["ann@example.com", "ann@example.com"])
    outcome = validate_dataframe(load_suite("sync_audience_members"), twice, "customer_id")
    assert [f.expectation for f in outcome.failed] == ["expect_compound_columns_to_be_unique"]
    across = twice.assign(audience=["winback_x", "nudge_y"])
    assert validate_dataframe(load_suite("sync_audience_members"), across, "customer_id").success


def test_a_short_valid_e164_number_passes_and_one_over_fifteen_digits_fails():
    """Regression: the suites wanted at least 7 digits, so a valid German pager number
    (+491681, accepted by phonenumbers) failed the blocking gate and stopped a whole run."""
    import phonenumbers

    assert phonenumbers.is_valid_number(phonenumbers.parse("+491681"))
    members = _members(phone=["+491681", "+1234567890123456"])
    outcome = validate_dataframe(load_suite("sync_audience_members"), members, "customer_id")
    assert {f.column: f.unexpected_keys for f in outcome.failed} == {"phone": ["C2"]}

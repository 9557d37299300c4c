import json

import pandas as pd

from orchestration.lib.gx_validation import load_suite, validate_dataframe


def _members(**overrides):
    frame = pd.DataFrame(
        {
            "customer_id": ["C1", "C2"],
            "email": ["ann@example.com", "bob@example.org"],
            "inactive_since": ["2026-01-01", "2026-02-01"],
            "last_order_date": ["2025-07-05", "2025-08-05"],
        }
    )
    for column, values in overrides.items():
        frame[column] = values
    return frame


def test_a_clean_audience_passes_the_export_suite():
    outcome = validate_dataframe(load_suite("sync_winback_inactive_email"), _members(), "customer_id")
    assert outcome.success
    assert outcome.rows == 2


def test_failures_name_row_keys_and_never_values():
    dirty = _members(email=["=HYPERLINK@evil.example", "Secret.Person@Example.org"])
    outcome = validate_dataframe(load_suite("sync_winback_inactive_email"), dirty, "customer_id")
    assert not outcome.success
    failed = {(f.expectation, f.column): f for f in outcome.failed}
    assert failed[("expect_column_values_to_match_regex", "email")].unexpected_keys in (["C1"], ["C2"])
    reported = json.dumps([f.__dict__ for f in outcome.outcomes])
    assert "evil" not in reported and "Secret" not in reported


def test_regexes_are_anchored_so_a_valid_substring_does_not_pass():
    outcome = validate_dataframe(
        load_suite("sync_winback_inactive_email"),
        _members(email=["junk ann@example.com junk", "bob@example.org"]),
        "customer_id",
    )
    assert not outcome.success


def test_every_regex_in_every_suite_is_anchored():
    from orchestration.lib.gx_validation import EXPECTATIONS_DIR

    for path in EXPECTATIONS_DIR.glob("*.json"):
        for expectation in json.loads(path.read_text())["expectations"]:
            regex = expectation["kwargs"].get("regex")
            if regex:
                assert regex.startswith("^") and regex.endswith("$"), (path.name, regex)

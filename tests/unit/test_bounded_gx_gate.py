"""The Great Expectations gate on what changed: rows that passed are not validated again, a
changed or failed row is, the first run and a changed suite validate everything in batches."""

import json

import duckdb
import pytest

import orchestration.defs.quality.bounded as bounded
from orchestration.defs.quality.gx import load_suite

SUITE = load_suite("contact_hygiene")
TABLE = "contacts.contact_hygiene"


def _row(customer_id, **overrides):
    row = {
        "customer_id": customer_id,
        "email_normalized": f"{customer_id.lower()}@example.org",
        "phone_e164": None,
        "phone_extension": None,
        "email_consent_status": "opted_in",
        "sms_consent_status": "no_consent",
        "is_contactable_email": True,
        "is_email_suppressed": False,
        "is_email_valid": True,
        "is_email_owner": True,
        "is_contactable_sms": False,
        "email_not_contactable_reason": None,
        "first_name": "Not read",
    }
    return {**row, **overrides}


def _table(con, rows):
    con.execute("CREATE SCHEMA IF NOT EXISTS contacts")
    columns = list(rows[0])
    con.execute(f"CREATE OR REPLACE TABLE {TABLE} AS SELECT * FROM (VALUES "
                + ", ".join(f"({', '.join('?' * len(columns))})" for _ in rows)
                + f") AS t({', '.join(columns)})", [r[c] for r in rows for c in columns])


@pytest.fixture
def con():
    with duckdb.connect() as connection:
        yield connection


@pytest.fixture
def frames(monkeypatch):
    """The customer ids of every dataframe handed to Great Expectations."""
    seen = []
    validate = bounded.SuiteValidator.validate

    def spy(self, frame):
        seen.append(list(frame["customer_id"]))
        return validate(self, frame)

    monkeypatch.setattr(bounded.SuiteValidator, "validate", spy)
    return seen


def _validate(con, suite=SUITE, max_rows=100_000, **kwargs):
    return bounded.validate_changed_rows(con, suite, TABLE, "customer_id", max_rows=max_rows,
                                         **kwargs)


def test_rows_that_passed_are_not_validated_again_and_a_changed_row_is(con, frames):
    _table(con, [_row("C1"), _row("C2"), _row("C3")])
    first = _validate(con)
    assert (first.outcome.success, first.outcome.rows, first.full_validation) == (True, 3, True)

    frames.clear()
    second = _validate(con)
    assert frames == []
    assert (second.outcome.success, second.outcome.rows, second.rows_skipped_unchanged,
            second.batches, second.full_validation) == (True, 0, 3, 0, False)

    _table(con, [_row("C1"), _row("C2", email_consent_status="opted_out"), _row("C3"),
                 _row("C4", first_name="Changed outside the suite")])
    frames.clear()
    third = _validate(con)
    # C2's suite columns changed (and now break the consent gate); C4 is new.
    assert frames == [["C2", "C4"]]
    assert not third.outcome.success
    [failed] = third.outcome.failed
    assert (failed.column, failed.unexpected_count, failed.unexpected_keys) == (
        "is_contactable_email,email_consent_status", 1, ["C2"])
    assert third.rows_skipped_unchanged == 2


def test_a_row_that_failed_is_validated_again_on_the_next_run_even_unchanged(con, frames):
    _table(con, [_row("C1"), _row("C2", email_normalized="Upper@Example.org")])
    assert not _validate(con).outcome.success

    frames.clear()
    again = _validate(con)
    assert not again.outcome.success
    assert frames == [["C1", "C2"]]   # one failing batch stores none of its rows

    _table(con, [_row("C1"), _row("C2")])
    assert _validate(con).outcome.success
    frames.clear()
    assert _validate(con).outcome.rows == 0


def test_the_first_run_validates_every_row_in_bounded_batches_and_merges_the_outcomes(
    con, frames
):
    rows = [_row(f"C{i:05d}") for i in range(5000)]
    rows[4500] = _row("C04500", is_email_suppressed=True)
    _table(con, rows)

    result = _validate(con, vectors_per_batch=1)

    assert [len(f) for f in frames] == [2048, 2048, 904]
    assert (result.batches, result.outcome.rows, result.outcome.success) == (3, 5000, False)
    assert [(f.column, f.unexpected_keys) for f in result.outcome.failed] == [
        ("is_contactable_email,is_email_suppressed", ["C04500"])]
    frames.clear()
    # The two batches that passed are stored; the failing one is validated again.
    assert _validate(con, vectors_per_batch=1).outcome.rows == 904


def test_a_changed_suite_validates_every_row_again(con, frames):
    _table(con, [_row("C1"), _row("C2")])
    _validate(con)
    changed = json.loads(json.dumps(SUITE))
    changed["expectations"].append(
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "email_normalized"}})

    frames.clear()
    result = _validate(con, suite=changed)

    assert result.full_validation and frames == [["C1", "C2"]]


def test_rows_gone_from_the_table_leave_no_stored_hash(con):
    _table(con, [_row("C1"), _row("C2")])
    _validate(con)
    _table(con, [_row("C1")])
    _validate(con)
    stored = con.execute("SELECT count(*) FROM quality.gx_passed_rows").fetchone()[0]
    assert stored == 1


def test_a_run_validates_at_most_max_rows_and_the_rest_on_later_runs_oldest_first(con, frames):
    _table(con, [_row(f"C{i}") for i in range(1, 6)])
    first = _validate(con, max_rows=2)
    assert frames == [["C1", "C2"]]
    assert (first.outcome.rows, first.rows_pending, first.rows_skipped_unchanged) == (2, 3, 0)

    # C0 arrives after C3-C5 have waited a run: they go first although C0 sorts before them.
    _table(con, [_row(f"C{i}") for i in range(6)])
    frames.clear()
    second = _validate(con, max_rows=2)
    assert frames == [["C3", "C4"]]
    assert (second.outcome.rows, second.rows_pending, second.rows_skipped_unchanged) == (2, 2, 2)

    frames.clear()
    third = _validate(con, max_rows=10)
    assert frames == [["C5", "C0"]]
    assert (third.outcome.rows, third.rows_pending, third.rows_skipped_unchanged) == (2, 0, 4)
    assert con.execute("SELECT count(*) FROM quality.gx_pending_rows").fetchone()[0] == 0


def test_a_failing_row_blocks_every_run_until_fixed_however_many_new_rows_arrive(con, frames):
    _table(con, [_row("C1", is_email_suppressed=True), _row("C2")])
    assert not _validate(con, max_rows=1).outcome.success

    for run in range(3):
        # New rows each run, more than the bound: the failing row waited longest, so it is
        # validated again (and fails the gate) before any of them.
        _table(con, [_row("C1", is_email_suppressed=True), _row("C2")]
               + [_row(f"N{run}{i}") for i in range(3)])
        frames.clear()
        result = _validate(con, max_rows=1)
        assert frames == [["C1"]] and not result.outcome.success

    _table(con, [_row("C1"), _row("C2")])
    assert _validate(con, max_rows=1).outcome.success

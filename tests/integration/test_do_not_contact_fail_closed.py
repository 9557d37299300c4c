"""Do-not-contact records fail closed through the real daily job: a flawed opt-out, suppression
or erasure request still keeps its person out of every export file, and the defect is reported
(RELIABILITY.md, "do-not-contact record ... fails closed"). Regression for the records that
were only quarantined while the person was exported to every platform."""

import datetime as dt
import hashlib

import pytest
from daily_run import run_daily
from landing_fixture import AS_OF, write_csv_file, write_landing
from metadata_tables import table_counts, table_rows

from orchestration.lib.audiences import audiences_for
from orchestration.lib.settings import load_settings

pytestmark = [pytest.mark.integration, pytest.mark.pipeline_runs(2)]
# Exported in the base fixture (tests/landing_fixture.py): customer ids and addresses.
BLOCKED = {"C02": "zoe.old@example.com", "C12": "cat@example.com", "C13": "ivy@example.com"}
NEXT_DAY = "2026-07-01"


def _write_flawed_records(landing, now: dt.datetime):
    """One flawed record per blocked person, among enough clean rows (for people who are not
    customers) that the file stays under the reject limit, as in the reported bug."""
    fast_clock = (now + dt.timedelta(minutes=10)).isoformat()
    others = [f"X{i:02d}" for i in range(30)]
    write_csv_file(
        landing / "suppressions" / "platform_late.csv",
        ["email", "reason", "occurred_at"],
        [(f"{c.lower()}@elsewhere.example", "hard_bounce", "2026-06-01T00:00:00Z") for c in others]
        + [("Zoe.Old@Example.COM.", "complaint", "")],  # trailing dot, unknown reason, no time
    )
    write_csv_file(
        landing / "consent_events" / "fast_clock.csv",
        ["customer_id", "channel", "status", "source", "occurred_at"],
        [(c, "email", "opted_in", "checkout", "2026-06-01T00:00:00Z") for c in others]
        + [("C13", "email", "opted_out", "preference_centre", fast_clock)],
    )
    write_csv_file(
        landing / "erasure_requests" / "typed_by_hand.csv",
        ["customer_id", "requested_at"],
        [(c, "2026-06-01T00:00:00Z") for c in others] + [("C12", "31/12/2026 noon")],
    )


def _export_texts(root, as_of):
    """Every audience file of the date; not the do-not-contact exclusion list, which holds the
    blocked people's hashed identifiers on purpose (so ad platforms keep them out)."""
    suppression = audiences_for(load_settings()).suppression_audience
    files = [p for p in (root / "exports").rglob(f"{as_of}/*") if p.is_file()
             and not (suppression and p.relative_to(root / "exports").parts[0] == suppression.name)]
    assert files
    return {p: p.read_text(encoding="utf-8") for p in files}


def _assert_nobody_blocked_is_exported(root, as_of):
    hashed = {hashlib.sha256(e.encode()).hexdigest() for e in BLOCKED.values()}
    for path, text in _export_texts(root, as_of).items():
        if path.name.endswith(("_removes.csv", "manifest.json")):
            continue  # leaving an audience is listed by design
        found = [v for v in [*BLOCKED, *BLOCKED.values(), *hashed] if v in text]
        assert not found, path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("fail_closed")
    write_landing(root / "landing")
    _write_flawed_records(root / "landing", dt.datetime.now(dt.UTC))
    first = run_daily(root, AS_OF)
    second = run_daily(root, NEXT_DAY)
    return root, first, second


def test_flawed_do_not_contact_records_keep_their_person_out_of_every_export_file(runs):
    root, _, _ = runs
    _assert_nobody_blocked_is_exported(root, AS_OF)


def test_a_flawed_record_already_in_the_ledger_still_blocks_on_the_next_run(runs):
    root, _, second = runs
    metadata = second.asset_materializations_for_node("raw__consent_events")[0].metadata
    skipped = table_rows(metadata["files_skipped_already_loaded"])
    assert {s["file"] for s in skipped} >= {"consent_events/fast_clock.csv"}
    _assert_nobody_blocked_is_exported(root, NEXT_DAY)


def test_the_defects_are_reported_by_reason_without_personal_data(runs):
    _, first, _ = runs
    metadata = {
        entity: first.asset_materializations_for_node(f"raw__{entity}")[0].metadata
        for entity in ("suppressions", "consent_events", "erasure_requests")
    }
    assert table_counts(metadata["suppressions"]["defects_by_reason"]) == {
        "invalid_value:reason": 1, "missing_required:occurred_at": 1}
    assert [m["rows_quarantined"].value for m in metadata.values()] == [0, 0, 0]
    assert table_counts(metadata["consent_events"]["defects_by_reason"]) == {
        "future_timestamp:occurred_at": 1}
    assert table_counts(metadata["erasure_requests"]["defects_by_reason"]) == {
        "bad_timestamp:requested_at": 1}
    assert [m["rows_loaded_with_defects"].value for m in metadata.values()] == [1, 1, 1]
    text = repr({k: {n: v.value for n, v in m.items()} for k, m in metadata.items()}).lower()
    assert not [e for e in BLOCKED.values() if e in text]

"""The suppression audience: the do-not-contact set as hashed exclusion files for Google
Customer Match and Meta, completed by the write-time gate, with adds and removes."""

import hashlib
import json
from pathlib import Path

import pytest
from landing_fixture import do_not_contact_landing
from platforms_fixture import PLATFORMS_FILE, platforms_without_minimums

from orchestration.defs.activation.suppression import BelowMinimum, write_suppression_files
from orchestration.defs.ingest.loader import load_entity
from orchestration.lib.audiences import SuppressionAudience
from orchestration.lib.contracts import CONTRACTS
from orchestration.lib.settings import load_settings
from orchestration.lib.warehouse import open_warehouse

GOLDEN = Path(__file__).parents[1] / "golden"
SUPPRESSION = SuppressionAudience("do_not_contact", ("google_customer_match", "meta"), "h1")
# The mart as of the run date: an opt-out with a phone, a suppressed customer, an address of
# no customer. C9 (opted in as of the run date) opts out after it; C5 asks for erasure.
MART = [("C1", "out@example.com", "+447700900001", "opted_out"),
        ("C2", "bounced@example.com", None, "suppressed"),
        ("", "stranger@example.org", None, "suppressed"),
        ("C5", "erased@example.com", "+447700900005", "opted_out")]
CONTACTS = [("C1", "out@example.com", "+447700900001"), ("C2", "bounced@example.com", None),
            ("C5", "erased@example.com", "+447700900005"), ("C8", "fine@example.com", None),
            ("C9", "late@example.com", "+33612345678")]
PERSONAL = [value for row in CONTACTS + MART for value in row[1:3] if value]


def _warehouse(tmp_path: Path, mart) -> Path:
    path = tmp_path / "w.duckdb"
    ingested = do_not_contact_landing(tmp_path / "ingested",
                                      "C9,email,opted_in,web,2026-01-01T00:00:00Z\n")
    with open_warehouse(path) as con:
        for entity in ("consent_events", "suppressions", "erasure_requests"):
            load_entity(con, CONTRACTS[entity], ingested)
        con.execute("CREATE SCHEMA IF NOT EXISTS contacts")
        con.execute("CREATE SCHEMA IF NOT EXISTS activation")
        con.execute("CREATE OR REPLACE TABLE contacts.contact_hygiene (customer_id VARCHAR, "
                    "email_normalized VARCHAR, phone_e164 VARCHAR)")
        con.executemany("INSERT INTO contacts.contact_hygiene VALUES (?, ?, ?)", CONTACTS)
        con.execute("CREATE OR REPLACE TABLE activation.sync_suppression_members "
                    "(customer_id VARCHAR, email VARCHAR, phone VARCHAR, reason VARCHAR)")
        con.executemany("INSERT INTO activation.sync_suppression_members VALUES (?, ?, ?, ?)",
                        mart)
    return path


def _run(tmp_path: Path, landing: Path, as_of: str, run_id: str = "r1",
         platforms: Path | None = None):
    """Write the files; the platform limits have no minimum size unless `platforms` is given
    (this list of four is far below the ad platforms' 100)."""
    settings = load_settings(environ={}, overrides={
        "WINBACK_WAREHOUSE": str(tmp_path / "w.duckdb"), "WINBACK_LANDING_DIR": str(landing),
        "WINBACK_EXPORT_DIR": str(tmp_path / "exports"), "WINBACK_AS_OF": as_of,
        "WINBACK_PLATFORMS": str(platforms or platforms_without_minimums(tmp_path))})
    return {w.platform: w for w in write_suppression_files(
        settings, SUPPRESSION, SUPPRESSION.platforms, run_id)}


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@pytest.fixture
def first(tmp_path):
    _warehouse(tmp_path, MART)
    landing = do_not_contact_landing(tmp_path / "landing",
                       consent="C9,email,opted_out,web,2026-06-30T08:00:00Z\n",
                       erasures="C5,2026-06-30T09:00:00Z\n")
    return tmp_path, landing, _run(tmp_path, landing, "2026-06-30")


def test_a_suppression_list_below_the_ad_platforms_minimum_is_not_written(tmp_path):
    _warehouse(tmp_path, MART)
    landing = do_not_contact_landing(tmp_path / "landing")
    written = _run(tmp_path, landing, "2026-06-30", platforms=PLATFORMS_FILE)
    assert {p: type(w) for p, w in written.items()} == {
        "google_customer_match": BelowMinimum, "meta": BelowMinimum}
    assert written["meta"].message.startswith(
        "do_not_contact -> meta: 4 rows, below the platform's minimum audience size of 100")
    assert not any(value in written["meta"].message for value in PERSONAL)
    assert not (tmp_path / "exports" / "do_not_contact").exists()


@pytest.mark.parametrize("platform", ["google_customer_match", "meta"])
def test_the_suppression_files_match_their_golden_files(first, platform):
    _, _, written = first
    result = written[platform].result
    assert result.files[0].path.read_bytes() == (
        GOLDEN / f"suppression_{platform}.csv").read_bytes()
    # First export: everyone is an add, nobody a remove.
    assert result.adds[0].path.read_bytes() == result.files[0].path.read_bytes()
    assert result.removed == 0


def test_a_late_opt_out_is_added_and_an_erased_customer_is_left_out(first):
    _, _, written = first
    google = written["google_customer_match"]
    body = google.result.files[0].path.read_text()
    assert _sha("late@example.com") in body and _sha("+33612345678") in body
    assert _sha("erased@example.com") not in body and _sha("+447700900005") not in body
    assert google.added_at_write == 1
    assert google.reasons == {"opted_out": 2, "suppressed": 2}
    manifest = json.loads((google.result.folder / "manifest.json").read_text())
    assert manifest["hashed"] is True and manifest["rows"] == 4
    assert manifest["members_by_reason"] == {"opted_out": 2, "suppressed": 2}
    # Two emails alone (0.5 each), two with a phone (1 - 0.5 x 0.6 = 0.7 each).
    assert manifest["match"]["rows_with"] == {"email": 4, "phone": 2, "name_postal": 0}
    assert manifest["match"]["estimated_matchable_share"] == pytest.approx(0.6)


def test_no_plain_identifier_reaches_a_file_or_manifest(first):
    tmp_path, _, _ = first
    for path in (tmp_path / "exports").rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert not [value for value in PERSONAL if value in text], path


def test_someone_who_opts_in_again_leaves_through_the_removes_file(first):
    tmp_path, _, _ = first
    # The next day C1 opted in again (gone from the mart); the late files are loaded by then.
    _warehouse(tmp_path, [row for row in MART if row[0] not in ("C1", "C5")]
               + [("C9", "late@example.com", "+33612345678", "opted_out")])
    landing = do_not_contact_landing(tmp_path / "landing2", erasures="C5,2026-06-30T09:00:00Z\n")
    written = _run(tmp_path, landing, "2026-07-01", run_id="r2")
    meta = written["meta"].result
    assert (meta.rows, meta.added, meta.removed) == (3, 0, 1)
    removes = meta.removes[0].path.read_text().splitlines()
    assert removes == ["email,phone", f"{_sha('out@example.com')},{_sha('447700900001')}"]

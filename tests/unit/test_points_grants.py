"""Points at the inactivity point: one grant per crossing whatever the order of runs, none
for anyone the write-time gate blocks, and the points rule of config/audiences.yml."""

import copy
import csv
import datetime as dt
from pathlib import Path

import pytest
from landing_fixture import do_not_contact_landing

from orchestration.defs.activation.points import grant_id, write_points_grants
from orchestration.defs.ingest.loader import load_entity
from orchestration.lib.audiences import AudienceConfigError, load_audiences, parse_audiences
from orchestration.lib.contracts import CONTRACTS
from orchestration.lib.settings import REPO_ROOT, load_settings
from orchestration.lib.warehouse import open_warehouse

GOLDEN = Path(__file__).parents[1] / "golden"
CROSSED = dt.date(2026, 6, 10)
GRANT = load_audiences(REPO_ROOT / "config" / "audiences.yml").points_grant
AUDIENCE = GRANT.audience
# The treated members of the grant audience as the sync model lists them on a date:
# (customer, email, crossing date, lifetime revenue).
MEMBERS = [("P1", "p1@example.com", CROSSED, 600.0), ("P2", "p2@example.com", CROSSED, 50.0)]


@pytest.fixture
def warehouse(tmp_path):
    """Everyone opted in (loaded); the landing folder holds nothing new until a test adds it."""
    consent = "".join(f"{c},email,opted_in,web,2026-01-01T00:00:00Z\n"
                      for c in ("P1", "P2", "P3"))
    ingested = do_not_contact_landing(tmp_path / "ingested", consent)
    with open_warehouse(tmp_path / "w.duckdb") as con:
        for entity in ("consent_events", "suppressions", "erasure_requests"):
            load_entity(con, CONTRACTS[entity], ingested)
        con.execute("CREATE SCHEMA activation")
    do_not_contact_landing(tmp_path / "landing")
    return tmp_path


def _members(tmp_path, members) -> None:
    with open_warehouse(tmp_path / "w.duckdb") as con:
        con.execute("CREATE OR REPLACE TABLE activation.sync_audience_members (audience VARCHAR, "
                    "customer_id VARCHAR, email VARCHAR, inactive_since DATE, "
                    "revenue_main_currency DOUBLE)")
        for member in members:
            con.execute("INSERT INTO activation.sync_audience_members VALUES (?, ?, ?, ?, ?)",
                        [AUDIENCE, *member])


def _run(tmp_path, as_of: dt.date, members=MEMBERS, run_id="r1"):
    _members(tmp_path, members)
    settings = load_settings(environ={}, overrides={
        "WINBACK_WAREHOUSE": str(tmp_path / "w.duckdb"),
        "WINBACK_LANDING_DIR": str(tmp_path / "landing"),
        "WINBACK_EXPORT_DIR": str(tmp_path / "exports"), "WINBACK_AS_OF": as_of.isoformat()})
    return write_points_grants(settings, GRANT, run_id)


def _grants(written) -> list[dict]:
    with open(written.file.path, newline="") as handle:
        return list(csv.DictReader(handle))


def _issued(tmp_path) -> list[tuple]:
    with open_warehouse(tmp_path / "w.duckdb", read_only=True) as con:
        return con.execute("SELECT grant_id, customer_id, issued_on FROM "
                           "activation.points_grants_issued ORDER BY customer_id").fetchall()


def test_a_grant_lists_points_by_the_revenue_band_an_expiry_and_the_crossing_id(warehouse):
    written = _run(warehouse, CROSSED)
    assert _grants(written) == [
        {"grant_id": grant_id("P1", CROSSED), "customer_id": "P1", "points": "1000",
         "reason": "inactivity_threshold", "crossed_on": "2026-06-10",
         "expires_on": "2026-08-09"},
        {"grant_id": grant_id("P2", CROSSED), "customer_id": "P2", "points": "200",
         "reason": "inactivity_threshold", "crossed_on": "2026-06-10",
         "expires_on": "2026-08-09"}]
    # Byte for byte (RFC 4180, CRLF, no BOM): tests/golden/points_grants.csv.
    assert written.file.path.read_bytes() == (GOLDEN / "points_grants.csv").read_bytes()
    assert written.folder == warehouse / "exports" / AUDIENCE / "loyalty_points" / "2026-06-10"
    assert written.manifest["points"] == 1200
    assert grant_id("P1", CROSSED) != grant_id("P1", CROSSED + dt.timedelta(days=1))


def test_a_rerun_of_the_same_date_writes_the_same_file_and_no_new_grant_id(warehouse):
    first = _run(warehouse, CROSSED, run_id="r1")
    body = first.file.path.read_bytes()
    manifest = (first.folder / "manifest.json").read_bytes()
    again = _run(warehouse, CROSSED, run_id="r2")
    assert again.file.path.read_bytes() == body
    assert (again.folder / "manifest.json").read_bytes() == manifest
    assert [row[1:] for row in _issued(warehouse)] == [("P1", CROSSED), ("P2", CROSSED)]


def test_a_backfill_across_the_crossing_then_the_daily_run_grants_once(warehouse):
    day = dt.timedelta(days=1)
    assert _grants(_run(warehouse, CROSSED - day, members=[])) == []  # not crossed yet
    assert len(_grants(_run(warehouse, CROSSED))) == 2
    assert _grants(_run(warehouse, CROSSED + day)) == []               # still members
    daily = _run(warehouse, CROSSED + 3 * day)
    assert _grants(daily) == []
    assert daily.manifest["members"] == {"eligible": 2, "issued_before": 2, "granted": 0}
    assert [row[1:] for row in _issued(warehouse)] == [("P1", CROSSED), ("P2", CROSSED)]


def test_a_backfill_after_the_daily_run_does_not_grant_the_crossing_again(warehouse):
    later = CROSSED + dt.timedelta(days=2)
    assert len(_grants(_run(warehouse, later))) == 2
    assert _grants(_run(warehouse, CROSSED)) == []
    assert [row[2] for row in _issued(warehouse)] == [later, later]


def test_an_opted_out_or_erased_customer_gets_no_grant_and_the_erased_is_forgotten(warehouse):
    members = [*MEMBERS, ("P3", "p3@example.com", CROSSED, 10.0)]
    _run(warehouse, CROSSED, members=members)
    assert [row[1] for row in _issued(warehouse)] == ["P1", "P2", "P3"]
    # After that: P2 opts out (a landing file not loaded yet), P3 asks for erasure.
    do_not_contact_landing(warehouse / "landing",
                           consent="P2,email,opted_out,web,2026-06-11T08:00:00Z\n",
                           erasures="P3,2026-06-11T09:00:00Z\n")
    p4 = ("P4", "p4@example.com", CROSSED + dt.timedelta(days=1), 10.0)
    written = _run(warehouse, CROSSED + dt.timedelta(days=1), members=[*members, p4])
    # P4 has no consent event at all: not contactable, no grant either.
    assert _grants(written) == []
    assert written.manifest["dropped_at_write"] == 3
    assert [row[1] for row in _issued(warehouse)] == ["P1", "P2"]
    assert "P3" not in (written.folder / "manifest.json").read_text()


BASE = {"version": "1", "holdout_seed": "s", "audiences": [
    {"name": "points", "description": "d", "statuses": ["inactive"],
     "days_inactive": {"max": 6}, "frequency_cap_days": 365, "holdout_share": 0.1,
     "platforms": ["generic_csv"]},
    {"name": "lapsed", "description": "d", "statuses": ["lapsed"], "frequency_cap_days": 0,
     "holdout_share": 0, "platforms": ["generic_csv"]}]}
RULE = {"audience": "points", "reason": "crossed", "expiry_days": 30, "points": 250}


def _grant(**changes):
    data = copy.deepcopy(BASE)
    data["points_grant"] = {**RULE, **changes}
    return parse_audiences(data, "audiences.yml").points_grant


def test_fixed_points_or_revenue_bands():
    assert _grant().points_for(1_000_000) == 250
    banded = _grant(points=[{"min_revenue": 100, "points": 500},
                            {"min_revenue": 0, "points": 100}])
    assert [banded.points_for(v) for v in (None, 99.99, 100, 5000)] == [100, 100, 500, 500]
    assert _grant().definition_hash != _grant(points=300).definition_hash


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"audience": "nope"}, "field 'audience' names 'nope', which is not an audience"),
        ({"audience": "lapsed"}, "'lapsed', which must be a promotion of the status inactive"),
        ({"reason": "Crossed!"}, "field 'reason' must be lower-case"),
        ({"expiry_days": 0}, "field 'expiry_days' must be a whole number of days from 1"),
        ({"points": 0}, "field 'points' must be a whole number of points >= 1"),
        ({"points": []}, "field 'points' must be a number or a non-empty list"),
        ({"points": [{"min_revenue": 0, "points": 5}, {"min_revenue": 10, "points": 9}]},
         r"points\[1\]': min_revenue must be below the band before it"),
        ({"points": [{"min_revenue": 10, "points": 5}]}, "the last band must have min_revenue 0"),
        ({"points": [{"min_revenue": 0}]}, r"points\[0\]' must have exactly the fields"),
    ],
)
def test_an_invalid_points_grant_fails_naming_the_field(changes, message):
    with pytest.raises(AudienceConfigError, match=f"audiences.yml: points_grant: .*{message}"):
        _grant(**changes)


def test_an_audience_with_no_crossing_window_cannot_carry_grants():
    data = copy.deepcopy(BASE)
    del data["audiences"][0]["days_inactive"]
    data["points_grant"] = RULE
    with pytest.raises(AudienceConfigError, match="with days_inactive max"):
        parse_audiences(data, "audiences.yml")


def test_the_summary_and_progress_report_the_grant_file_not_as_an_audience_export(warehouse):
    from orchestration.progress import StepRecord, describe
    from orchestration.summary import audience_rows, points_lines

    _run(warehouse, CROSSED)
    exports = warehouse / "exports"
    assert audience_rows(exports, "2026-06-10") == []
    assert points_lines(exports, "2026-06-10") == [
        f"  points grants for the loyalty system ({AUDIENCE}): 2 grants, 1,200 points, 0 "
        f"crossings granted before, file {AUDIENCE}/loyalty_points/2026-06-10/points_grants.csv"]
    step = StepRecord(started=0.0, materialized=[
        (("exports", f"{AUDIENCE}_loyalty_points"),
         {"grants": 2, "points": 1200, "issued_before": 0, "dagster/row_count": 2})])
    assert describe("points_grants", step) == (
        "points grants: 2 grants, 1,200 points, 0 issued before")

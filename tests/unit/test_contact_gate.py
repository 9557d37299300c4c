import pytest

from orchestration.defs.activation import consent_gate
from orchestration.defs.activation.consent_gate import blocked_members, open_gate
from orchestration.defs.ingest.loader import IngestError, load_entity
from orchestration.lib.contacts import check_email, email_rules_fingerprint
from orchestration.lib.contracts import CONTRACTS
from orchestration.lib.settings import load_settings
from orchestration.lib.warehouse import open_warehouse

MEMBERS = [("M1", "ok@example.com"), ("M2", "late.out@example.com"), ("M3", "tie@example.com"),
           ("M4", "never@example.com"), ("M5", "bounced@example.com"), ("M6", "gone@example.com")]


def _landing(root, consent, suppressions="", erasures=""):
    (root / "customers").mkdir(parents=True)
    (root / "consent_events").mkdir()
    (root / "consent_events" / "a.csv").write_text(
        "customer_id,channel,status,source,occurred_at\n" + consent)
    (root / "suppressions").mkdir()
    (root / "suppressions" / "a.csv").write_text("email,reason,occurred_at\n" + suppressions)
    (root / "erasure_requests").mkdir()
    (root / "erasure_requests" / "a.csv").write_text("customer_id,requested_at\n" + erasures)


@pytest.fixture
def warehouse(tmp_path):
    """A warehouse whose raw tables say every member opted in and nobody is blocked."""
    landing = tmp_path / "ingested"
    _landing(landing, "".join(f"{m},email,opted_in,web,2025-01-01T00:00:00Z\n"
                              for m, _ in MEMBERS if m != "M4"))
    path = tmp_path / "w.duckdb"
    with open_warehouse(path) as con:
        for entity in ("consent_events", "suppressions", "erasure_requests"):
            load_entity(con, CONTRACTS[entity], landing)
        con.execute("CREATE SCHEMA activation")
        con.execute("CREATE TABLE activation.members (customer_id VARCHAR, email VARCHAR)")
        con.executemany("INSERT INTO activation.members VALUES (?, ?)", MEMBERS)
    return path


def _settings(warehouse, landing):
    return load_settings(environ={"WINBACK_WAREHOUSE": str(warehouse),
                                  "WINBACK_LANDING_DIR": str(landing)})


def test_members_blocked_by_what_arrived_after_ingest_are_counted_by_reason(warehouse, tmp_path):
    landing = tmp_path / "landing"
    _landing(
        landing,
        "M2,email,opted_out,web,2026-07-02T00:00:00Z\n"
        "M3,email,opted_in,web,2026-07-02T00:00:00Z\n"
        "M3,email,opted_out,web,2026-07-02T00:00:00Z\n"   # same instant: opting out wins
        "M1,sms,opted_out,web,2026-07-02T00:00:00Z\n",    # another channel: no effect
        suppressions=" Bounced@EXAMPLE.com ,hard_bounce,2026-07-02T00:00:00Z\n",
        erasures="M6,2026-07-03T00:00:00Z\n",
    )
    with open_gate(_settings(warehouse, landing)) as con:
        counts = blocked_members(con, "wh.activation.members")
        blocked = dict(con.execute("SELECT customer_id, reason FROM gate_blocked").fetchall())
    assert blocked == {"M2": "opted_out", "M3": "opted_out", "M4": "no_consent",
                       "M5": "suppressed", "M6": "erased"}
    assert counts == {"opted_out": 2, "no_consent": 1, "suppressed": 1, "erased": 1}


def test_an_unreadable_landing_file_stops_the_export_instead_of_skipping_the_check(
    warehouse, tmp_path
):
    landing = tmp_path / "landing"
    _landing(landing, "")
    (landing / "suppressions" / "b.csv").write_text("address,why,when\nx@example.com,manual,\n")
    with pytest.raises(IngestError), open_gate(_settings(warehouse, landing)):
        pass


def test_a_warehouse_held_by_another_process_gives_a_clear_error(warehouse, tmp_path):
    import subprocess
    import sys
    import time

    from orchestration.lib.warehouse import WarehouseLockedError

    _landing(tmp_path / "landing", "")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         f"import duckdb, time; c = duckdb.connect({str(warehouse)!r}); "
         "print('ready', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        started = time.monotonic()
        with pytest.raises(WarehouseLockedError, match="in use by another process"), open_gate(
            _settings(warehouse, tmp_path / "landing")
        ):
            pass
        assert time.monotonic() - started < 10
    finally:
        holder.kill()
        holder.wait()


def test_flawed_do_not_contact_rows_dropped_after_ingest_still_block_at_write_time(
    warehouse, tmp_path
):
    """Regression: the gate typed landing files with the quarantine rules, so an unknown
    suppression reason, an opt-out from a fast clock or an unparseable erasure date let the
    person through."""
    landing = tmp_path / "landing"
    _landing(
        landing,
        "M1,email,opted_out,web,2999-01-01T00:00:00Z\n"    # future: blocks from now
        "M2,e-mail,opted_out,web,2026-07-02T00:00:00Z\n"   # unreadable channel: every channel
        "M3,email,unsubscribed,web,2026-07-02T00:00:00Z\n"  # unreadable status: an opt-out
        "M4,email,opted_in,web,2999-01-01T00:00:00Z\n",    # a flawed opt-in grants nothing
        suppressions="Bounced@Example.COM.,complaint,\n",  # trailing dot, unknown reason
        erasures="M6,not a date\n",
    )
    with open_gate(_settings(warehouse, landing)) as con:
        counts = blocked_members(con, "wh.activation.members")
        blocked = dict(con.execute("SELECT customer_id, reason FROM gate_blocked").fetchall())
    assert blocked == {"M1": "opted_out", "M2": "opted_out", "M3": "opted_out",
                       "M4": "no_consent", "M5": "suppressed", "M6": "erased"}
    assert counts == {"opted_out": 3, "no_consent": 1, "suppressed": 1, "erased": 1}


def test_flawed_do_not_contact_rows_in_the_warehouse_block_at_write_time(warehouse, tmp_path):
    ingested = tmp_path / "later"
    _landing(
        ingested,
        "M1,sms,opted_out,web,2999-01-01T00:00:00Z\n"   # another channel: no effect
        "M2,,opted_out,web,\n",                          # no channel: every channel
        suppressions="bounced@example.com.,complaint,2026-07-02T00:00:00Z\n",
        erasures="M6,\n",
    )
    with open_warehouse(warehouse) as con:
        for entity in ("consent_events", "suppressions", "erasure_requests"):
            load_entity(con, CONTRACTS[entity], ingested)
    with open_gate(_settings(warehouse, ingested)) as con:
        unread = [con.execute(f"SELECT count(*) FROM landing_{e}").fetchone()[0]
                  for e in ("consent_events", "suppressions", "erasure_requests")]
        blocked_members(con, "wh.activation.members")
        blocked = dict(con.execute("SELECT customer_id, reason FROM gate_blocked").fetchall())
    assert unread == [0, 0, 0]  # every landing file is in the ledger: read from the warehouse
    assert blocked == {"M2": "opted_out", "M4": "no_consent", "M5": "suppressed", "M6": "erased"}


def test_only_landing_files_not_yet_in_the_ledger_are_read_again(warehouse, tmp_path):
    landing = tmp_path / "landing"
    _landing(landing, "M2,email,opted_out,web,2026-07-02T00:00:00Z\n")
    ingested = tmp_path / "ingested" / "consent_events" / "a.csv"
    (landing / "consent_events" / "old.csv").write_bytes(ingested.read_bytes())
    with open_gate(_settings(warehouse, landing)) as con:
        assert con.execute(
            "SELECT customer_id, status FROM landing_consent_events"
        ).fetchall() == [("M2", "opted_out")]


def test_a_suppression_the_hygiene_step_checked_under_todays_rules_is_not_checked_again(
    warehouse, tmp_path, monkeypatch
):
    """The gate takes a loaded suppression's normalised address from hygiene.email_checks when
    hygiene.rules says it was made under today's rules, and checks the others itself (a file
    dropped after ingest; every address once the rules changed). Either way the address blocks
    its member."""
    ingested = tmp_path / "later"
    _landing(ingested, "", suppressions="Bounced@Example.COM,complaint,2026-07-02T00:00:00Z\n")
    with open_warehouse(warehouse) as con:
        load_entity(con, CONTRACTS["suppressions"], ingested)
        con.execute("CREATE SCHEMA hygiene")
        con.execute("CREATE TABLE hygiene.email_checks (email_raw VARCHAR, "
                    "email_normalized VARCHAR)")
        con.execute("INSERT INTO hygiene.email_checks VALUES (?, ?)",
                    ["Bounced@Example.COM", check_email("Bounced@Example.COM").email_normalized])
        con.execute("CREATE TABLE hygiene.rules (table_name VARCHAR, fingerprint VARCHAR)")
        con.execute("INSERT INTO hygiene.rules VALUES ('email_checks', ?)",
                    [email_rules_fingerprint()])
    landing = tmp_path / "landing"
    _landing(landing, "", suppressions="gone@example.com,manual,2026-07-03T00:00:00Z\n")
    checked = []
    check = consent_gate.check_email
    monkeypatch.setattr(consent_gate, "check_email", lambda raw: checked.append(raw) or check(raw))

    def blocked():
        with open_gate(_settings(warehouse, landing)) as con:
            blocked_members(con, "wh.activation.members")
            return dict(con.execute("SELECT customer_id, reason FROM gate_blocked").fetchall())

    expected = {"M4": "no_consent", "M5": "suppressed", "M6": "suppressed"}
    assert blocked() == expected
    assert checked == ["gone@example.com"]
    with open_warehouse(warehouse) as con:
        con.execute("UPDATE hygiene.rules SET fingerprint = 'the rules of an older release'")
    checked.clear()
    assert blocked() == expected
    assert sorted(checked) == ["Bounced@Example.COM", "gone@example.com"]

"""The hygiene assets on their own, on hand-made raw tables: results kept by value across runs,
only new values validated, erased values no longer referenced dropped, a rules change rebuilds,
and a run reads only the rows loaded since the last (every row when that cannot be trusted)."""

import datetime as dt
import os
from pathlib import Path

import dagster as dg
import duckdb
import pytest

import orchestration.defs.hygiene.assets as hygiene
import orchestration.defs.hygiene.rows as rows
import orchestration.lib.contacts as contacts
from orchestration.defs.resources import WinbackConfig

CUSTOMERS = [
    ("C1", "Ann@Example.com", "07911 123456", "gb"),
    ("C2", "info@example.org", "+49 30 1234567", "DE"),
    ("C3", "not-an-email", None, "GB"),
    ("C4", "ann@example.com", "07911 123456", None),
]


T0 = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
RAW_TABLES = {
    "customers": "customer_id VARCHAR, email VARCHAR, phone VARCHAR, country VARCHAR",
    "suppressions": "email VARCHAR",
    "erasure_requests": "customer_id VARCHAR",
    "exclusions": "email VARCHAR",
}


def _load(warehouse, customers=(), suppressions=(), erased=(), at=0):
    """Append rows to the raw tables as a load `at` seconds after T0 does: raw tables only grow,
    each row stamped with its load's _loaded_at (orchestration/defs/ingest/loader.py)."""
    loaded_at = T0 + dt.timedelta(seconds=at)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS raw")
        for table, columns in RAW_TABLES.items():
            con.execute(f"CREATE TABLE IF NOT EXISTS raw.{table} "
                        f"({columns}, _loaded_at TIMESTAMPTZ NOT NULL)")
        for table, rows in (("customers", customers), ("suppressions", suppressions),
                            ("erasure_requests", erased)):
            for row in rows:
                values = (*(row if isinstance(row, tuple) else (row,)), loaded_at)
                con.execute(f"INSERT INTO raw.{table} VALUES ({', '.join('?' * len(values))})",
                            values)


@pytest.fixture
def calls(monkeypatch):
    """Every value the checkers are called with, per run."""
    seen = {"email": [], "phone": []}

    def email(raw):
        seen["email"].append(raw)
        return contacts.check_email(raw)

    def phone(raw, country):
        seen["phone"].append((raw, country))
        return contacts.check_phone(raw, country)

    monkeypatch.setattr(rows, "check_email", email)
    monkeypatch.setattr(rows, "check_phone", phone)
    return seen


def _run(warehouse):
    result = dg.materialize([hygiene.email_checks, hygiene.phone_checks],
                            resources={"winback": WinbackConfig(warehouse=str(warehouse))})
    assert result.success
    return {e.asset_key.path[-1]: e.materialization.metadata
            for e in result.get_asset_materialization_events()}


def _tables(warehouse):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {t: con.execute(f"SELECT * FROM hygiene.{t} ORDER BY ALL").fetchall()
                for t in ("email_checks", "phone_checks")}


def test_a_second_run_validates_nothing_and_a_new_customer_once(tmp_path, calls):
    warehouse = tmp_path / "wh.duckdb"
    _load(warehouse, CUSTOMERS, suppressions=[" ANN@example.com"])
    first = _run(warehouse)
    assert sorted(calls["email"]) == [" ANN@example.com", "Ann@Example.com", "ann@example.com",
                                      "info@example.org", "not-an-email"]
    assert len(calls["phone"]) == 3
    assert (first["email_checks"]["values_checked"].value,
            first["email_checks"]["rebuilt_for_new_rules"].value,
            first["email_checks"]["read_rows_since_last_refresh"].value) == (5, True, False)

    calls["email"].clear(), calls["phone"].clear()
    second = _run(warehouse)
    assert calls == {"email": [], "phone": []}
    assert (second["email_checks"]["values_checked"].value,
            second["email_checks"]["values_reused"].value,
            second["email_checks"]["rebuilt_for_new_rules"].value) == (0, 5, False)
    assert second["phone_checks"]["values_reused"].value == 3

    _load(warehouse, [("C5", "new@example.net", "07911 123456", "GB"),
                      ("C6", "new@example.net", "07911 999999", "GB")], at=3600)
    third = _run(warehouse)
    assert calls == {"email": ["new@example.net"], "phone": [("07911 999999", "GB")]}
    assert third["email_checks"]["dagster/row_count"].value == 6
    assert third["phone_checks"]["read_rows_since_last_refresh"].value is True


def _next_loads(warehouse, at):
    """After CUSTOMERS: C8 shares C2's address; C2, C3 and C4 are erased. C2's address stays
    (C8's), and C3's string (a suppression now); C4's address and C2's and C4's numbers go. C7
    is new."""
    _load(warehouse, [("C7", "Zed@Example.com", "+1 202 555 0143", "US"),
                      ("C8", "info@example.org", None, "GB")],
          suppressions=["not-an-email"], erased=["C2", "C3", "C4"], at=at)


def test_a_run_reads_the_rows_loaded_since_the_last_and_equals_a_full_rebuild(tmp_path, calls):
    incremental, rebuilt = tmp_path / "incremental.duckdb", tmp_path / "rebuilt.duckdb"
    _load(incremental, CUSTOMERS)
    _run(incremental)
    _next_loads(incremental, at=3600)
    _load(rebuilt, CUSTOMERS)
    _next_loads(rebuilt, at=3600)
    calls["email"].clear(), calls["phone"].clear()
    metadata = _run(incremental)
    assert calls == {"email": ["Zed@Example.com"], "phone": [("+1 202 555 0143", "US")]}
    _run(rebuilt)

    assert _tables(incremental) == _tables(rebuilt)
    emails = {row[0] for row in _tables(incremental)["email_checks"]}
    assert emails == {"Ann@Example.com", "info@example.org", "not-an-email", "Zed@Example.com"}
    phones = {row[:2] for row in _tables(incremental)["phone_checks"]}
    assert phones == {("07911 123456", "GB"), ("+1 202 555 0143", "US")}
    for table, pruned in (("email_checks", 1), ("phone_checks", 2)):
        assert metadata[table]["read_rows_since_last_refresh"].value is True
        assert metadata[table]["values_pruned"].value == pruned


def test_rows_loaded_in_the_last_refreshs_second_are_read_again(tmp_path, calls):
    """Loads are stamped to the second: one in the second of the watermark is not missed."""
    warehouse = tmp_path / "wh.duckdb"
    _load(warehouse, CUSTOMERS)
    _run(warehouse)
    _load(warehouse, [("C9", "late@example.net", "+1 202 555 0199", "US")], erased=["C1"])
    metadata = _run(warehouse)
    assert metadata["email_checks"]["read_rows_since_last_refresh"].value is True
    assert "late@example.net" in {row[0] for row in _tables(warehouse)["email_checks"]}
    assert "Ann@Example.com" not in {row[0] for row in _tables(warehouse)["email_checks"]}


def test_rows_with_an_older_load_time_than_the_last_refresh_make_it_read_every_row(
    tmp_path, calls
):
    """A clock set back stamps new rows before the watermark: the counts kept with it no longer
    add up, and the refresh reads every row, as it does for a warehouse with no record."""
    incremental, rebuilt = tmp_path / "incremental.duckdb", tmp_path / "rebuilt.duckdb"
    _load(incremental, CUSTOMERS, at=3600)
    _run(incremental)
    _load(rebuilt, CUSTOMERS, at=3600)
    for warehouse in (incremental, rebuilt):
        _load(warehouse, [("C9", "back@example.net", "+1 202 555 0188", "US")],
              suppressions=["info@example.org"], erased=["C3"], at=60)
    metadata = _run(incremental)
    _run(rebuilt)
    assert _tables(incremental) == _tables(rebuilt)
    assert metadata["email_checks"]["read_rows_since_last_refresh"].value is False
    assert metadata["email_checks"]["values_pruned"].value == 1  # C3's "not-an-email"
    with duckdb.connect(str(incremental)) as con:
        con.execute("DELETE FROM hygiene.refresh_state")
    assert _run(incremental)["phone_checks"]["read_rows_since_last_refresh"].value is False


def test_a_rules_version_change_rebuilds_every_row(tmp_path, calls, monkeypatch):
    warehouse = tmp_path / "wh.duckdb"
    _load(warehouse, CUSTOMERS)
    _run(warehouse)
    calls["email"].clear(), calls["phone"].clear()

    monkeypatch.setattr(contacts, "CONTACT_RULES_VERSION", contacts.CONTACT_RULES_VERSION + 1)
    metadata = _run(warehouse)

    assert len(calls["email"]) == 4 and len(calls["phone"]) == 3
    assert metadata["email_checks"]["rebuilt_for_new_rules"].value is True
    assert metadata["email_checks"]["values_reused"].value == 0
    assert metadata["phone_checks"]["rebuilt_for_new_rules"].value is True


def test_a_failed_run_leaves_the_previous_table_and_rules(tmp_path, calls, monkeypatch):
    warehouse = tmp_path / "wh.duckdb"
    _load(warehouse, CUSTOMERS)
    _run(warehouse)
    before = _tables(warehouse)

    def broken(raw):
        raise RuntimeError("checker failed")

    monkeypatch.setattr(contacts, "CONTACT_RULES_VERSION", contacts.CONTACT_RULES_VERSION + 1)
    monkeypatch.setattr(rows, "check_email", broken)
    result = dg.materialize([hygiene.email_checks], raise_on_error=False,
                            resources={"winback": WinbackConfig(warehouse=str(warehouse))})
    assert not result.success
    assert _tables(warehouse) == before
    with duckdb.connect(str(warehouse), read_only=True) as con:
        stored = con.execute("SELECT fingerprint FROM hygiene.rules "
                             "WHERE table_name = 'email_checks'").fetchone()[0]
    monkeypatch.undo()
    assert stored == contacts.email_rules_fingerprint()


def test_an_edit_of_the_contact_rules_module_changes_both_fingerprints(tmp_path, monkeypatch):
    edited = tmp_path / "contacts.py"
    edited.write_bytes(Path(contacts.__file__).read_bytes() + b"\n# edited\n")
    before = (contacts.email_rules_fingerprint(), contacts.phone_rules_fingerprint())
    monkeypatch.setattr(contacts, "__file__", str(edited))
    after = (contacts.email_rules_fingerprint(), contacts.phone_rules_fingerprint())
    assert before[0] != after[0] and before[1] != after[1]


def test_many_new_values_are_checked_by_worker_processes_with_the_same_results(
    tmp_path, monkeypatch
):
    """Issue 10: a cold run at scale validates in several processes; the tables must not change."""
    customers = [
        (f"C{i}", f"{'  ' if i % 7 == 0 else ''}User{i}@Example{i % 5}.com" if i % 11 else "bad@",
         f"07911 {i:06d}" if i % 3 else f"+49 30 {i:07d}", "GB" if i % 3 else " de ")
        for i in range(300)
    ]
    serial, pooled = tmp_path / "serial.duckdb", tmp_path / "pooled.duckdb"
    for warehouse in (serial, pooled):
        _load(warehouse, customers, suppressions=["bad@", "USER1@example1.com"])
    monkeypatch.setenv("WINBACK_CHECK_WORKERS", "1")
    _run(serial)

    tasks = []
    run_in_worker = rows._Worker.run

    def counted(worker, check, chunk):
        tasks.append((worker._process.pid, len(chunk)))
        return run_in_worker(worker, check, chunk)

    monkeypatch.setattr(rows._Worker, "run", counted)
    monkeypatch.setattr(hygiene, "POOL_MIN_VALUES", 100)
    monkeypatch.setattr(hygiene, "CHUNK_ROWS", 40)
    monkeypatch.setattr(hygiene, "BATCH_ROWS", 70)
    monkeypatch.setenv("WINBACK_CHECK_WORKERS", "2")
    metadata = _run(pooled)

    assert _tables(pooled) == _tables(serial)
    # 274 distinct email strings and 300 phones, all checked in chunks of at most 40 values.
    checked = [metadata[t]["values_checked"].value for t in ("email_checks", "phone_checks")]
    assert checked == [274, 300]
    assert sum(n for _, n in tasks) == sum(checked) and max(n for _, n in tasks) == 40
    assert len({pid for pid, _ in tasks}) == 4 and os.getpid() not in {pid for pid, _ in tasks}

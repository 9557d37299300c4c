"""Import file, adds/removes and manifest per audience, platform and as-of date."""

import datetime as dt
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time

import duckdb
import pytest

from orchestration.defs.activation.audience_files import export_audience, member_batches
from orchestration.defs.activation.platforms import Limits, platform_for

D1, D2 = dt.date(2026, 6, 29), dt.date(2026, 6, 30)
LIMITS = Limits(checked_on=dt.date(2026, 11, 27))
DEFINITION = {"audience_definition_hash": "abc123", "config_version": "1"}
WAREHOUSE = "warehouse.duckdb"
HISTORY_DAYS = 35


def _members(ids, **overrides):
    for i in ids:
        member = {"customer_id": i, "email": f"{i.lower()}@example.com", "first_name": f"N{i}",
                  "last_name": "Z", "phone": None, "country": "GB", "postal_code": None}
        member.update(overrides.get(i, {}))
        yield member


def _export(root, day, ids, platform="generic_csv", limits=LIMITS, run="run-1",
            history_days=HISTORY_DAYS, **overrides):
    layout = platform_for(platform, ("first_name",), limits, "aud")
    with duckdb.connect(str(root / WAREHOUSE)) as con:
        return export_audience(root, con=con, audience="aud", platform=layout, limits=limits,
                               as_of=day, members=member_batches(_members(ids, **overrides)),
                               definition=DEFINITION, source_run=run,
                               history_days=history_days)


def _csv(path):
    return path.read_text(encoding="utf-8").splitlines()


def test_the_first_export_lists_everyone_as_added_and_nobody_removed(tmp_path):
    result = _export(tmp_path, D1, ["C1", "C2"])
    assert (result.rows, result.added, result.removed) == (2, 2, 0)
    assert result.previous_as_of is None
    assert _csv(result.folder / "aud_removes.csv") == ["customer_id,email"]


def test_one_customer_withdrawing_consent_between_two_runs_is_exactly_one_remove(tmp_path):
    _export(tmp_path, D1, ["C1", "C2", "C3"])
    # C2 opted out: the sync model no longer lists them on D2.
    result = _export(tmp_path, D2, ["C1", "C3"])
    assert (result.added, result.removed) == (0, 1)
    assert _csv(result.folder / "aud_removes.csv") == ["customer_id,email", "C2,c2@example.com"]
    assert _csv(result.folder / "aud_adds.csv") == ["customer_id,email,first_name"]
    manifest = json.loads((result.folder / "manifest.json").read_text())
    assert manifest["previous_export_as_of"] == D1.isoformat()
    assert (manifest["adds"]["rows"], manifest["removes"]["rows"]) == (0, 1)


def test_a_changed_email_is_a_remove_of_the_old_address_and_an_add_on_email_platforms(tmp_path):
    _export(tmp_path, D1, ["C1"], platform="klaviyo")
    result = _export(tmp_path, D2, ["C1"], platform="klaviyo",
                     C1={"email": "new@example.com"})
    assert _csv(result.folder / "aud_removes.csv") == ["Email", "c1@example.com"]
    assert _csv(result.folder / "aud_adds.csv") == ["Email,First Name", "new@example.com,NC1"]


def test_hashed_exports_delta_on_hashed_identifiers(tmp_path):
    _export(tmp_path, D1, ["C1", "C2"], platform="meta")
    result = _export(tmp_path, D2, ["C2", "C3"], platform="meta")
    assert (result.added, result.removed) == (1, 1)
    removes = _csv(result.folder / "aud_removes.csv")
    assert removes[0] == "email,phone" and len(removes[1].split(",")[0]) == 64


def test_deltas_cover_every_part_of_a_split_previous_export(tmp_path):
    limits = Limits(checked_on=dt.date(2026, 11, 27), max_rows=2)
    first = _export(tmp_path, D1, ["C1", "C2", "C3"], limits=limits)
    assert [f.path.name for f in first.files] == ["aud-001.csv", "aud-002.csv"]
    result = _export(tmp_path, D2, ["C1", "C3", "C4"], limits=limits)
    assert (result.added, result.removed) == (1, 1)


def test_rerunning_a_date_is_byte_identical_and_keeps_the_run_that_first_wrote_it(tmp_path):
    _export(tmp_path, D1, ["C1", "C2"])
    first = _export(tmp_path, D2, ["C2", "C3"], run="run-a")
    before = {p.name: p.read_bytes() for p in first.folder.iterdir()}
    second = _export(tmp_path, D2, ["C2", "C3"], run="run-b")
    assert {p.name: p.read_bytes() for p in second.folder.iterdir()} == before
    assert json.loads(before["manifest.json"])["source_run"] == "run-a"
    changed = _export(tmp_path, D2, ["C2"], run="run-c")
    assert changed.manifest["source_run"] == "run-c"


def test_a_rerun_with_fewer_parts_removes_the_parts_it_no_longer_writes(tmp_path):
    limits = Limits(checked_on=dt.date(2026, 11, 27), max_rows=1)
    _export(tmp_path, D1, ["C1", "C2"], limits=limits)
    result = _export(tmp_path, D1, ["C1"], limits=limits)
    assert sorted(p.name for p in result.folder.iterdir()) == [
        "aud.csv", "aud_adds.csv", "aud_removes.csv", "manifest.json"]


def test_the_manifest_lists_rows_and_sha256_per_part_with_definition_and_limits(tmp_path):
    import hashlib

    result = _export(tmp_path, D1, ["C1", "C2"])
    manifest = json.loads((result.folder / "manifest.json").read_text())
    data = (result.folder / "aud.csv").read_bytes()
    assert manifest["files"] == [{"name": "aud.csv", "rows": 2, "bytes": len(data),
                                  "sha256": hashlib.sha256(data).hexdigest()}]
    assert manifest["audience_definition_hash"] == "abc123"
    assert manifest["as_of_date"] == "2026-06-29"
    assert manifest["limits"]["checked_on"] == "2026-11-27"
    assert manifest["source_run"] == "run-1"
    for path in result.folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


KILLED_WRITER = textwrap.dedent("""
    import datetime as dt, os, sys, time
    from pathlib import Path
    import duckdb
    from orchestration.defs.activation import atomic_files
    from orchestration.defs.activation.audience_files import export_audience, member_batches
    from orchestration.defs.activation.platforms import Limits, platform_for

    root, mode, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    if mode == "before_publish":
        atomic_files._rename = lambda *args: os._exit(9)
    elif mode == "after_swap":
        atomic_files.shutil.rmtree = lambda *args, **kwargs: os._exit(9)

    def members():
        for i in range(count):
            if mode == "sigkill" and i == 1000:
                print("writing", flush=True)
            yield {"customer_id": f"C{i:08d}", "email": f"c{i}@example.com", "first_name": "N"}

    limits = Limits(checked_on=dt.date(2026, 11, 27), max_rows=700)
    export_audience(root, con=duckdb.connect(str(root / "warehouse.duckdb")), audience="aud",
                    platform=platform_for("generic_csv", ("first_name",), limits, "aud"),
                    limits=limits, as_of=dt.date(2026, 6, 30),
                    members=member_batches(members(), size=500),
                    definition={}, source_run="killed", history_days=35)
""")


def _folder_state(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()} if folder.exists() else None


def _assert_complete_and_consistent(folder):
    """Every file the manifest lists is there with its sha256, and nothing else is."""
    import hashlib

    manifest = json.loads((folder / "manifest.json").read_text())
    listed = manifest["files"] + manifest["adds"]["files"] + manifest["removes"]["files"]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f["name"] for f in listed] + ["manifest.json"])
    for entry in listed:
        assert hashlib.sha256((folder / entry["name"]).read_bytes()).hexdigest() == entry[
            "sha256"]
    return manifest


def _run_writer(root, mode, count):
    return subprocess.run([sys.executable, "-c", KILLED_WRITER, str(root), mode, str(count)],
                          capture_output=True, text=True)


def test_a_writer_dying_before_publishing_leaves_the_previous_folder_as_it_was(tmp_path):
    _export(tmp_path, D1, ["C1", "C2"])
    _export(tmp_path, D2, ["C1", "C2"])
    folder = tmp_path / "aud" / "generic_csv" / D2.isoformat()
    before = _folder_state(folder)
    assert _run_writer(tmp_path, "before_publish", 3000).returncode == 9
    assert _folder_state(folder) == before
    assert [p.name for p in (tmp_path / ".staging").iterdir()]  # sweepable leftovers only
    _export(tmp_path, D2, ["C1", "C2"])
    assert list((tmp_path / ".staging").iterdir()) == []


def test_a_writer_dying_right_after_the_swap_leaves_the_new_complete_folder(tmp_path):
    _export(tmp_path, D1, ["C1", "C2"])
    _export(tmp_path, D2, ["C1", "C2"])
    folder = tmp_path / "aud" / "generic_csv" / D2.isoformat()
    assert _run_writer(tmp_path, "after_swap", 3000).returncode == 9
    manifest = _assert_complete_and_consistent(folder)
    assert (manifest["rows"], manifest["source_run"]) == (3000, "killed")
    assert len(manifest["files"]) == 5  # split at 700 rows: every part swapped in together
    (left,) = (tmp_path / ".staging").iterdir()  # the previous folder, swept next time
    assert (left / "manifest.json").is_file()
    _export(tmp_path, D2, ["C1", "C2"])
    assert list((tmp_path / ".staging").iterdir()) == []


def test_a_first_export_dying_before_publishing_leaves_no_dated_folder(tmp_path):
    assert _run_writer(tmp_path, "before_publish", 10).returncode == 9
    assert not (tmp_path / "aud" / "generic_csv" / D2.isoformat()).exists()


def test_a_sigkill_at_any_moment_leaves_the_old_or_the_new_complete_folder(tmp_path):
    """Issue 9: a writer killed after its first rename left the new import file beside the old
    manifest and the old adds file."""
    _export(tmp_path, D1, ["C1", "C2"])
    _export(tmp_path, D2, ["C1", "C2"])
    folder = tmp_path / "aud" / "generic_csv" / D2.isoformat()
    old = _folder_state(folder)
    outcomes = set()
    for delay in (0.0, 0.05, 0.1, 0.2, 0.3, 0.5):
        proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(tmp_path),
                                 "sigkill", "20000"], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "writing"
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        state = _folder_state(folder)
        if state == old:
            outcomes.add("old")
            continue
        manifest = _assert_complete_and_consistent(folder)
        assert manifest["rows"] == 20000 and manifest["source_run"] == "killed"
        outcomes.add("new")
        old = state
    assert outcomes
    _export(tmp_path, D2, ["C1", "C2"])
    assert list((tmp_path / ".staging").iterdir()) == []
    for path in [folder, *folder.iterdir()]:
        assert stat.S_IMODE(path.stat().st_mode) in (0o600, 0o700)


def test_the_previous_export_is_the_newest_recorded_one_before_the_date(tmp_path):
    from orchestration.defs.activation.audience_files import previous_export

    _export(tmp_path, dt.date(2026, 6, 1), ["C1"])
    _export(tmp_path, dt.date(2026, 6, 20), ["C1"])
    def failing_members():
        yield from _members(["C1"])
        raise OSError("disk full")

    with duckdb.connect(str(tmp_path / WAREHOUSE)) as con, pytest.raises(OSError):
        export_audience(tmp_path, con=con, audience="aud", platform=platform_for(
            "generic_csv", (), LIMITS, "aud"), limits=LIMITS, as_of=dt.date(2026, 6, 25),
            members=member_batches(failing_members()), definition=DEFINITION, source_run="failed",
            history_days=HISTORY_DAYS)
    # Rolled back and never published: not a predecessor, no folder, nothing in staging.
    assert not (tmp_path / "aud" / "generic_csv" / "2026-06-25").exists()
    assert list((tmp_path / ".staging").iterdir()) == []
    _export(tmp_path, dt.date(2026, 6, 30), ["C1"])              # the date itself: a rerun
    with duckdb.connect(str(tmp_path / WAREHOUSE)) as con:
        assert previous_export(con, "aud", "generic_csv", dt.date(2026, 6, 30)) == dt.date(
            2026, 6, 20)
        assert previous_export(con, "aud", "generic_csv", dt.date(2026, 6, 1)) is None
        assert previous_export(con, "aud", "meta", dt.date(2026, 6, 30)) is None


def test_deltas_compare_awkward_cells_exactly_and_an_empty_export_removes_everyone(tmp_path):
    _export(tmp_path, D1, ["C1", "C2", "C3"],
            C1={"first_name": 'Zoë, "Z"\nsecond line'}, C2={"first_name": "=x"},
            C3={"first_name": "山田"})
    same = _export(tmp_path, D2, ["C1", "C2", "C3"],
                   C1={"first_name": 'Zoë, "Z"\nsecond line'}, C2={"first_name": "=x"},
                   C3={"first_name": "山田"})
    assert (same.added, same.removed) == (0, 0)
    empty = _export(tmp_path, dt.date(2026, 7, 1), [])
    assert (empty.rows, empty.added, empty.removed) == (0, 0, 3)


def test_removes_can_carry_a_reason_computed_on_the_callers_connection(tmp_path):
    _export(tmp_path, D1, ["C1", "C2"])
    con = duckdb.connect(str(tmp_path / WAREHOUSE))
    con.execute("CREATE TEMP TABLE erased AS SELECT 'C2' AS customer_id")
    layout = platform_for("generic_csv", ("first_name",), LIMITS, "aud")
    result = export_audience(
        tmp_path, audience="aud", platform=layout, limits=LIMITS, as_of=D2,
        members=member_batches(_members([])), definition=DEFINITION, source_run="r", con=con,
        history_days=HISTORY_DAYS,
        removal_reason_sql="CASE WHEN o.customer_id IN (SELECT customer_id FROM erased) "
                           "THEN 'erased' ELSE 'left_audience' END")
    assert _csv(result.folder / "aud_removes.csv") == [
        "customer_id,email,removal_reason", "C1,c1@example.com,left_audience",
        "C2,c2@example.com,erased"]
    assert result.manifest["removes"]["by_reason"] == {"erased": 1, "left_audience": 1}


def test_deltas_come_from_the_warehouse_not_from_the_earlier_files(tmp_path):
    """Issue 9: deltas re-parsed the previous export's CSV files."""
    _export(tmp_path, D1, ["C1", "C2"])
    for path in (tmp_path / "aud" / "generic_csv" / D1.isoformat()).iterdir():
        path.write_bytes(b"\x00not,a\ncsv\"")
    result = _export(tmp_path, D2, ["C2", "C3"])
    assert _csv(result.folder / "aud_adds.csv")[1:] == ["C3,c3@example.com,NC3"]
    assert _csv(result.folder / "aud_removes.csv")[1:] == ["C1,c1@example.com"]
    with duckdb.connect(str(tmp_path / WAREHOUSE)) as con:
        assert con.execute(
            "SELECT as_of_date, customer_id, identifiers FROM activation.export_members "
            "ORDER BY 1, 2").fetchall() == [
            (D1, "C1", ["C1", "c1@example.com"]), (D1, "C2", ["C2", "c2@example.com"]),
            (D2, "C2", ["C2", "c2@example.com"]), (D2, "C3", ["C3", "c3@example.com"])]


def test_a_megabyte_name_exports_with_deltas_and_never_reaches_an_error(tmp_path):
    """Issue 9: a ~1 MB name made the re-read of the previous file fail, the error printed the
    email and the name, and the dated folder kept a CSV without a manifest."""
    name = "Ä" + "x" * 1_000_000
    _export(tmp_path, D1, ["C1", "C2"], C1={"first_name": name})
    result = _export(tmp_path, D2, ["C1", "C3"], C1={"first_name": name})
    assert (result.added, result.removed) == (1, 1)
    assert name in (result.folder / "aud.csv").read_text(encoding="utf-8")
    limits = Limits(checked_on=dt.date(2026, 11, 27), max_bytes=100_000)
    with pytest.raises(Exception) as error:
        _export(tmp_path, dt.date(2026, 7, 1), ["C1"], limits=limits, C1={"first_name": name})
    assert "xxxx" not in str(error.value) and "c1@example.com" not in str(error.value)
    assert not (tmp_path / "aud" / "generic_csv" / "2026-07-01").exists()


def test_a_hashed_remove_never_carries_a_value_of_a_current_member(tmp_path):
    """Issue 9: when a member's phone changed, the Meta removes file carried their email hash."""
    import hashlib

    _export(tmp_path, D1, ["C1", "C2"], platform="meta",
            C1={"phone": "+447700900001"}, C2={"phone": "+447700900002"})
    result = _export(tmp_path, D2, ["C1"], platform="meta", C1={"phone": "+447700900009"})
    email = hashlib.sha256(b"c1@example.com").hexdigest()
    old_phone = hashlib.sha256(b"447700900001").hexdigest()
    removes = _csv(result.folder / "aud_removes.csv")
    assert removes[0] == "email,phone"
    assert f",{old_phone}" in removes  # the stale phone alone, the still-valid email blanked
    assert not any(email in row for row in removes)
    assert len(removes) == 3  # and C2, who left, with both values
    assert any(row.startswith(email) for row in _csv(result.folder / "aud_adds.csv"))


def test_a_plain_remove_never_carries_a_value_of_a_current_member(tmp_path):
    # C1 changed address (their customer id stays in the audience); C3 took over C2's address.
    _export(tmp_path, D1, ["C1", "C2"])
    result = _export(tmp_path, D2, ["C1", "C3"], C1={"email": "new@example.com"},
                     C3={"email": "c2@example.com"})
    # C2 left: their id is removed, their address (now C3's) blanked.
    assert _csv(result.folder / "aud_removes.csv") == [
        "customer_id,email", ",c1@example.com", "C2,"]


def test_an_empty_export_is_recorded_so_the_next_one_does_not_remove_again(tmp_path):
    _export(tmp_path, D1, ["C1"])
    assert _export(tmp_path, D2, []).removed == 1
    later = _export(tmp_path, dt.date(2026, 7, 1), [])
    assert (later.previous_as_of, later.removed) == (D2.isoformat(), 0)


def test_erased_customers_are_forgotten_from_exports_before_the_previous_one(tmp_path):
    from orchestration.defs.activation.audience_files import forget_erased

    for day in (dt.date(2026, 6, 28), D1, D2):
        _export(tmp_path, day, ["C1", "C2"])
    with duckdb.connect(str(tmp_path / WAREHOUSE)) as con:
        assert forget_erased(con, D2, ["aud"], "SELECT 'C2'") == 1
        assert con.execute("SELECT as_of_date FROM activation.export_members "
                           "WHERE customer_id = 'C2' ORDER BY 1").fetchall() == [(D1,), (D2,)]


def _recorded(root):
    with duckdb.connect(str(root / WAREHOUSE)) as con:
        members = con.execute("SELECT as_of_date, count(*) FROM activation.export_members "
                              "GROUP BY ALL ORDER BY 1").fetchall()
        dates = con.execute("SELECT as_of_date FROM activation.exports ORDER BY 1").fetchall()
    return [(day.isoformat(), rows) for day, rows in members], [d.isoformat() for (d,) in dates]


def _files(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_member_lists_older_than_the_history_are_dropped_and_reruns_in_it_are_identical(
        tmp_path):
    """A daily export records every member again each day; only the deltas read those lists,
    so the warehouse keeps `history_days` of them (plus the predecessors a rerun needs)."""
    days = [dt.date(2026, 6, 1) + dt.timedelta(days=n) for n in range(6)]
    first = {}
    for n, day in enumerate(days):
        first[day] = _files(_export(tmp_path, day, [f"C{k}" for k in range(n, n + 3)],
                                    history_days=2).folder)
    # Kept: the newest day and the two days before it (the first is its predecessor).
    assert _recorded(tmp_path) == ([(d.isoformat(), 3) for d in days[-3:]],
                                   [d.isoformat() for d in days[-3:]])
    # A rerun of a date in the history writes the same files; so does a backfill going forward
    # from there, although each of its dates drops what is older than its predecessor.
    for day in days[-2:]:
        assert _files(_export(tmp_path, day, [f"C{k}" for k in range(days.index(day),
                                                                       days.index(day) + 3)],
                              history_days=2).folder) == first[day]


def test_a_rerun_older_than_the_history_has_no_predecessor_and_a_backfill_from_it_chains(
        tmp_path):
    days = [dt.date(2026, 6, 1) + dt.timedelta(days=n) for n in range(5)]
    first = {}
    for n, day in enumerate(days):
        first[day] = _files(_export(tmp_path, day, [f"C{k}" for k in range(n, n + 3)],
                                    history_days=1).folder)
    assert _recorded(tmp_path)[1] == [d.isoformat() for d in days[-2:]]
    # June 2's predecessor (June 1) is gone: its deltas say so instead of comparing with a
    # list that is no longer there (every member is an add, nothing is removed).
    again = _export(tmp_path, days[1], ["C1", "C2", "C3"], history_days=1)
    assert again.previous_as_of is None
    assert (again.added, again.removed) == (3, 0)
    # Going forward from there, each date compares with the one before it, as the first time.
    assert _files(_export(tmp_path, days[2], ["C2", "C3", "C4"], history_days=1).folder) == (
        first[days[2]])
    assert _recorded(tmp_path)[1] == [d.isoformat() for d in days[1:]]
    # The next daily export drops what the backfill kept.
    _export(tmp_path, days[4] + dt.timedelta(days=1), ["C5"], history_days=1)
    assert _recorded(tmp_path)[1] == [d.isoformat() for d in days[-1:]] + ["2026-06-06"]


def test_an_export_after_a_long_pause_keeps_its_predecessor_for_a_rerun(tmp_path):
    _export(tmp_path, dt.date(2026, 1, 5), ["C1", "C2"], history_days=3)
    late = _export(tmp_path, dt.date(2026, 6, 1), ["C2"], history_days=3)
    assert (late.previous_as_of, late.removed) == ("2026-01-05", 1)
    rerun = _export(tmp_path, dt.date(2026, 6, 1), ["C2"], history_days=3)
    assert _files(rerun.folder) == _files(late.folder)
    assert _recorded(tmp_path)[1] == ["2026-01-05", "2026-06-01"]


def _lists(root):
    """Each recorded export's customer ids, as the view activation.export_members lists them."""
    with duckdb.connect(str(root / WAREHOUSE)) as con:
        rows = con.execute("SELECT as_of_date, list(customer_id ORDER BY customer_id) "
                           "FROM activation.export_members GROUP BY ALL ORDER BY 1").fetchall()
    return {day.isoformat(): ids for day, ids in rows}


def _spells(root):
    with duckdb.connect(str(root / WAREHOUSE)) as con:
        return con.execute("SELECT count(*) FROM activation.export_member_spells").fetchone()[0]


def test_a_daily_export_records_only_who_joined_or_left(tmp_path):
    """Recording every member again each day cost a day's list of writes and compression at
    commit (a million customers: ~0.6 M rows a day); members who stay keep one spell."""
    days = [dt.date(2026, 6, 1) + dt.timedelta(days=n) for n in range(6)]
    for day in days:
        _export(tmp_path, day, ["C1", "C2", "C3"])
    assert _spells(tmp_path) == 3
    # C2 leaves on the 7th and comes back on the 8th: a second spell, nothing else written.
    _export(tmp_path, dt.date(2026, 6, 7), ["C1", "C3"])
    back = _export(tmp_path, dt.date(2026, 6, 8), ["C1", "C2", "C3"])
    assert (back.added, back.removed) == (1, 0)
    assert _spells(tmp_path) == 4
    assert _lists(tmp_path)["2026-06-07"] == ["C1", "C3"]
    assert all(_lists(tmp_path)[d.isoformat()] == ["C1", "C2", "C3"] for d in days)


def test_rewriting_an_older_date_leaves_every_other_export_as_it_was(tmp_path):
    days = [dt.date(2026, 6, 1) + dt.timedelta(days=n) for n in range(4)]
    lists = [["C1", "C2"], ["C1", "C2", "C3"], ["C2", "C3"], ["C3", "C4"]]
    for day, ids in zip(days, lists, strict=True):
        _export(tmp_path, day, ids)
    before = _lists(tmp_path)
    # June 2 again with other members (a backfill after a fix): C1 and C3 out, C5 in.
    again = _export(tmp_path, days[1], ["C2", "C5"])
    assert (again.previous_as_of, again.added, again.removed) == ("2026-06-01", 1, 1)
    assert _lists(tmp_path) == {**before, "2026-06-02": ["C2", "C5"]}
    # The next date's deltas compare with June 2 as rewritten.
    june3 = _export(tmp_path, days[2], ["C2", "C3"])
    assert (june3.added, june3.removed) == (1, 1)
    assert _csv(june3.folder / "aud_removes.csv")[1:] == ["C5,c5@example.com"]
    # A date between recorded ones, and a rerun of the newest, keep the others too.
    _export(tmp_path, dt.date(2026, 5, 30), ["C9"])
    _export(tmp_path, days[3], ["C3", "C4"])
    assert _lists(tmp_path) == {**before, "2026-05-30": ["C9"], "2026-06-02": ["C2", "C5"]}


def _old_member_lists(root):
    """A warehouse as earlier versions left it: every member of every export a row of the
    table activation.export_members."""
    with duckdb.connect(str(root / WAREHOUSE)) as con:
        con.execute("CREATE SCHEMA activation")
        con.execute("CREATE TABLE activation.exports (audience VARCHAR NOT NULL, platform "
                    "VARCHAR NOT NULL, as_of_date DATE NOT NULL, rows BIGINT NOT NULL, "
                    "PRIMARY KEY (audience, platform, as_of_date))")
        con.execute("CREATE TABLE activation.export_members (audience VARCHAR NOT NULL, "
                    "platform VARCHAR NOT NULL, as_of_date DATE NOT NULL, position BIGINT NOT "
                    "NULL, customer_id VARCHAR NOT NULL, identifiers VARCHAR[] NOT NULL)")
        old = {dt.date(2026, 6, 1): ["C1", "C2"], dt.date(2026, 6, 2): ["C2"],
               dt.date(2026, 6, 3): ["C1", "C2"]}
        for day, ids in old.items():
            con.execute("INSERT INTO activation.exports VALUES ('aud', 'generic_csv', ?, ?)",
                        [day, len(ids)])
            for position, i in enumerate(ids):
                con.execute("INSERT INTO activation.export_members VALUES "
                            "('aud', 'generic_csv', ?, ?, ?, ?)",
                            [day, position, i, [i, f"{i.lower()}@example.com"]])


def test_member_lists_recorded_before_the_spells_are_carried_over(tmp_path):
    """A warehouse from before kept every member of every export as a row: its lists become
    spells on the first export after upgrading, so that export's deltas are still exact."""
    _old_member_lists(tmp_path)
    result = _export(tmp_path, dt.date(2026, 6, 4), ["C2", "C3"])
    assert (result.previous_as_of, result.added, result.removed) == ("2026-06-03", 1, 1)
    assert _lists(tmp_path) == {"2026-06-01": ["C1", "C2"], "2026-06-02": ["C2"],
                                "2026-06-03": ["C1", "C2"], "2026-06-04": ["C2", "C3"]}
    assert _spells(tmp_path) == 4  # C1 twice, C2 once, C3


def test_a_carry_over_that_fails_midway_leaves_the_old_lists_for_the_next_export(
        tmp_path, monkeypatch):
    from orchestration.defs.activation import audience_files

    _old_member_lists(tmp_path)
    carry_over = audience_files._spells_from_member_lists

    def interrupted(con):
        carry_over(con)
        raise KeyboardInterrupt

    monkeypatch.setattr(audience_files, "_spells_from_member_lists", interrupted)
    with duckdb.connect(str(tmp_path / WAREHOUSE)) as con, pytest.raises(KeyboardInterrupt):
        audience_files.ensure_export_tables(con)
    with duckdb.connect(str(tmp_path / WAREHOUSE)) as con:
        assert con.execute("SELECT count(*) FROM activation.export_members").fetchone() == (5,)
        assert con.execute("SELECT count(*) FROM activation.export_member_spells").fetchone() == (
            0,)
    monkeypatch.undo()
    result = _export(tmp_path, dt.date(2026, 6, 4), ["C2", "C3"])
    assert (result.previous_as_of, result.added, result.removed) == ("2026-06-03", 1, 1)
    assert _spells(tmp_path) == 4

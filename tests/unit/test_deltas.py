import datetime as dt

import duckdb

from orchestration.lib.deltas import previous_export, removed_rows_sql
from orchestration.lib.exports import write_csv, write_manifest

HEADER = ("customer_id", "email", "first_name")


def _export(platform_dir, day, rows, *, complete=True):
    folder = platform_dir / day
    path = write_csv(folder / "a.csv", HEADER, rows).path
    if complete:
        write_manifest(folder / "manifest.json", {"rows": len(rows)})
    return path


def test_the_previous_export_is_the_newest_complete_one_before_the_date(tmp_path):
    _export(tmp_path, "2026-06-01", [])
    newest = _export(tmp_path, "2026-06-20", [])
    _export(tmp_path, "2026-06-25", [], complete=False)   # no manifest: crashed or in progress
    _export(tmp_path, "2026-06-30", [])                   # the date itself: a rerun
    (tmp_path / "notes").mkdir()
    assert previous_export(tmp_path, dt.date(2026, 6, 30), "a.csv") == newest
    assert previous_export(tmp_path, dt.date(2026, 6, 1), "a.csv") is None
    assert previous_export(tmp_path / "missing", dt.date(2026, 6, 30), "a.csv") is None


def test_removals_are_previous_rows_whose_identifiers_are_gone_even_with_awkward_cells(tmp_path):
    previous = _export(tmp_path, "2026-06-29", [
        ("C1", "a@x.org", 'Zoë, "Z"\nsecond line'), ("C2", "b@x.org", "'=x"),
        ("C3", "c@x.org", ""), ("C4", "d@x.org", "山田")])
    current = _export(tmp_path, "2026-06-30", [("C1", "a@x.org", "Zoë"), ("C3", "new@x.org", "")])
    rows = duckdb.connect().execute(
        removed_rows_sql(previous, current, ("customer_id", "email")) + " ORDER BY 1, 2"
    ).fetchall()
    # C3 changed address: the old one is removed, the customer stays.
    assert rows == [("C2", "b@x.org"), ("C3", "c@x.org"), ("C4", "d@x.org")]


def test_an_empty_current_export_removes_everyone(tmp_path):
    previous = _export(tmp_path, "2026-06-29", [("C1", "a@x.org", "A")])
    current = _export(tmp_path, "2026-06-30", [])
    assert duckdb.connect().execute(
        removed_rows_sql(previous, current, ("customer_id", "email"))
    ).fetchall() == [("C1", "a@x.org")]

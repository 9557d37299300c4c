import csv
import hashlib
import stat

import pytest

from orchestration.defs.activation.atomic_files import write_csv_parts, write_manifest


def test_names_with_quotes_commas_newlines_and_other_scripts_round_trip(tmp_path):
    rows = [("C1", 'Zoë, "Z"'), ("C2", "line\nbreak"), ("C3", "山田"), ("C4", "Łukasz")]
    (written,) = write_csv_parts(tmp_path, "a", ("customer_id", "first_name"), rows)
    with written.path.open(encoding="utf-8", newline="") as handle:
        back = list(csv.reader(handle))
    assert back == [["customer_id", "first_name"], *[list(r) for r in rows]]
    assert written.rows == 4
    assert written.sha256 == hashlib.sha256(written.path.read_bytes()).hexdigest()
    assert not written.path.read_bytes().startswith(b"\xef\xbb\xbf")


def test_files_are_owner_only(tmp_path):
    (written,) = write_csv_parts(tmp_path, "a", ("x",), [("1",)])
    write_manifest(tmp_path / "manifest.json", {"rows": 1})
    for path in (written.path, tmp_path / "manifest.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_failure_mid_write_keeps_the_previous_file_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "a.csv"
    write_csv_parts(tmp_path, "a", ("x",), [("old",)])
    before = target.read_bytes()

    def exploding_rows():
        yield ("new",)
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_csv_parts(tmp_path, "a", ("x",), exploding_rows())
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.csv"]

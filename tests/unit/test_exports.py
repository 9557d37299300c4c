import csv
import hashlib
import io
import stat

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


# Text cells built from the characters that decide quoting (comma, quote, CR, LF), spaces, a
# NUL and other scripts, and now and then a number or None (csv.writer formats those itself).
CELLS = st.one_of(
    st.text(alphabet=st.sampled_from(list('ab,"\r\n \x00é山=')), max_size=4),
    st.text(alphabet=st.sampled_from(list('ab,"\r\n \x00é山=')), max_size=4),
    st.text(alphabet=st.sampled_from(list('ab,"\r\n \x00é山=')), max_size=4),
    st.text(max_size=5),
    st.integers(-5, 5),
    st.none(),
)


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(1, 4).flatmap(
    lambda width: st.lists(st.lists(CELLS, min_size=width, max_size=width), max_size=4)))
def test_a_file_is_byte_for_byte_what_csv_writer_writes_whatever_the_cells(tmp_path, rows):
    header = ("h",) * (len(rows[0]) if rows else 1)
    expected = io.StringIO()
    csv.writer(expected, lineterminator="\r\n").writerows([header, *rows])
    (written,) = write_csv_parts(tmp_path, "p", header, rows)
    assert written.path.read_bytes() == expected.getvalue().encode("utf-8")

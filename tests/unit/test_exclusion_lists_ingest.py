"""The global exclusion lists' landing entity: a row must name a customer id or an email."""

import datetime as dt

import duckdb
import pytest

from orchestration.defs.ingest.loader import load_entity
from orchestration.lib.contracts import CONTRACTS

LOADED_AT = dt.datetime(2026, 6, 30, 12, tzinfo=dt.UTC)
HEADER = "list_name,customer_id,email,reason,added_at,removed_at"


@pytest.fixture
def con():
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    yield connection
    connection.close()


def test_an_exclusion_row_naming_nobody_is_quarantined_and_the_others_load(con, tmp_path):
    folder = tmp_path / "exclusions"
    folder.mkdir()
    (folder / "lists.csv").write_text("\n".join([
        HEADER,
        "staff,C1,,employee,2026-01-01,",
        "test_accounts,, QA@Example.COM ,qa,2026-01-01T00:00:00Z,",
        "staff,  ,,left the company,2026-01-01,",        # neither id nor email
        "staff,C2,,,2099-01-01,",                         # added in the future
        ",C3,,,2026-01-01,",                              # no list
        "staff,C4,,,2026-01-01,2026-03-01",
    ]) + "\n", encoding="utf-8")
    report = load_entity(con, CONTRACTS["exclusions"], tmp_path, max_reject_share=1.0,
                         loaded_at=LOADED_AT)
    assert (report.rows_read, report.loaded, sum(report.quarantined.values())) == (6, 3, 3)
    reasons = dict(con.execute(
        "SELECT source_row, reason FROM raw.quarantine WHERE entity = 'exclusions'").fetchall())
    assert reasons == {3: "missing_any_of:customer_id|email",
                       4: "future_timestamp:added_at",
                       5: "missing_required:list_name"}
    loaded = con.execute(
        "SELECT list_name, customer_id, email, removed_at::DATE::VARCHAR FROM raw.exclusions "
        "ORDER BY _source_row").fetchall()
    assert loaded == [("staff", "C1", None, None),
                      ("test_accounts", None, " QA@Example.COM ", None),
                      ("staff", "C4", None, "2026-03-01")]

"""Ingestion keeps every row: loaded or quarantined with a reason, counts reconciled."""

import datetime as dt
import json

import duckdb
import pytest

from orchestration.defs.ingest.loader import IngestError, load_entity
from orchestration.lib.contracts import CONTRACTS

ORDERS_HEADER = "order_id,customer_id,ordered_at,status,currency,amount,updated_at"
LOADED_AT = dt.datetime(2026, 6, 30, 12, tzinfo=dt.UTC)


@pytest.fixture
def con():
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    yield connection
    connection.close()


def _orders(landing, body: str, name: str = "orders.csv", header: str = ORDERS_HEADER):
    folder = landing / "orders"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(header + "\n" + body, encoding="utf-8")


def _load(con, landing, entity="orders", **kwargs):
    kwargs.setdefault("max_reject_share", 1.0)
    kwargs.setdefault("loaded_at", LOADED_AT)
    return load_entity(con, CONTRACTS[entity], landing, **kwargs)


def test_good_rows_load_with_lineage_and_utc_timestamps(con, tmp_path):
    _orders(tmp_path, "O1,C1,2024-03-01T11:00:00+02:00,paid,GBP,10.50,\n"
                      "O2,C1,2024-07-01 11:00:00,PAID,gbp,5,\n")
    report = _load(con, tmp_path, source_tz="Europe/London")
    assert (report.rows_read, report.loaded) == (2, 2)
    rows = con.execute(
        "SELECT order_id, ordered_at::VARCHAR, status, amount, _source_file, _source_row "
        "FROM raw.orders ORDER BY order_id"
    ).fetchall()
    assert rows[0][1] == "2024-03-01 09:00:00+00"  # the offset is honoured
    assert rows[1][1] == "2024-07-01 10:00:00+00"  # naive, in the source zone (BST)
    assert rows[1][2] == "paid"
    assert str(rows[0][3]) == "10.50"
    assert rows[0][4:] == ("orders/orders.csv", 1)
    assert rows[1][5] == 2


def test_bad_rows_are_quarantined_with_reason_and_line_and_the_rest_loads(con, tmp_path):
    _orders(tmp_path, "\n".join([
        "O1,C1,2024-03-01,paid,GBP,1,",
        "O2,C1,2024-03-01,paid,GBP,12,5x,,x",      # too many columns
        "O3,C1,garbage,paid,GBP,1,",                # bad timestamp
        ",C1,2024-03-01,paid,GBP,1,",               # missing key
        "O5,C1,2099-01-01,paid,GBP,1,",             # future
        "O6,C1",                                    # missing columns
        "O7,C1,2024-03-02,teleported,GBP,1,",       # not an allowed status
        "O8,C1,2024-03-02,paid,GBP,1.x,",           # bad decimal
        "O9,C1,2024-03-02,paid,GBP,3,",
    ]) + "\n")
    report = _load(con, tmp_path)
    assert report.rows_read == 9
    assert report.loaded == 2
    assert sum(report.quarantined.values()) == 7
    reasons = dict(con.execute(
        "SELECT source_row, split_part(reason, ';', 1) FROM raw.quarantine ORDER BY source_row"
    ).fetchall())
    assert reasons == {
        2: "malformed_row:too_many_columns",
        3: "bad_timestamp:ordered_at",
        4: "missing_required:order_id",
        5: "future_timestamp:ordered_at",
        6: "malformed_row:missing_columns",
        7: "invalid_value:status",
        8: "bad_decimal:amount",
    }
    rows = con.execute("SELECT list(_source_row ORDER BY 1) FROM raw.orders").fetchone()[0]
    assert rows == [1, 9]


@pytest.mark.parametrize(
    "header",
    [
        "order_id,customer_id,ordered_at,state,currency,amount",      # renamed
        "customer_id,order_id,ordered_at,status,currency",            # swapped, amount missing
    ],
)
def test_a_header_missing_a_required_column_fails_before_anything_loads(con, tmp_path, header):
    _orders(tmp_path, "O1,C1,2024-03-01,paid,GBP,1,\n")
    _load(con, tmp_path)
    _orders(tmp_path, "X,Y,Z,paid,GBP\n", name="broken.csv", header=header)
    with pytest.raises(IngestError, match=r"orders/broken.csv: required column\(s\)"):
        _load(con, tmp_path)
    assert con.execute("SELECT list(order_id) FROM raw.orders").fetchone()[0] == ["O1"]


def test_swapped_columns_map_by_header_name_not_position(con, tmp_path):
    _orders(tmp_path, "C1,O1,paid,2024-03-01,GBP,1,\n",
            header="customer_id,order_id,status,ordered_at,currency,amount,updated_at")
    _load(con, tmp_path)
    assert con.execute("SELECT order_id, customer_id FROM raw.orders").fetchone() == ("O1", "C1")


def test_extra_columns_load_and_are_reported_as_drift(con, tmp_path):
    _orders(tmp_path, "O1,C1,2024-03-01,paid,GBP,1,,web\n", header=ORDERS_HEADER + ",channel")
    report = _load(con, tmp_path)
    assert report.loaded == 1
    assert report.files[0].extra_columns == ("channel",)


def test_a_file_over_the_reject_limit_publishes_nothing_and_its_fixed_redelivery_loads(
    con, tmp_path
):
    _orders(tmp_path, "O1,C1,2024-03-01,paid,GBP,1,\n")
    _load(con, tmp_path)
    _orders(tmp_path, "O2,C1,2024-03-01,paid,GBP,1,\nO3,C1,bad,paid,GBP,1,\n", name="b.csv")
    with pytest.raises(IngestError, match=r"b.csv: 1 of 2 rows rejected .* limit 5%"):
        _load(con, tmp_path, max_reject_share=0.05)
    assert con.execute("SELECT list(order_id) FROM raw.orders").fetchone()[0] == ["O1"]
    assert con.execute("SELECT count(*) FROM raw.quarantine").fetchone()[0] == 0
    assert _ledger(con) == [("orders/orders.csv", 1, 1, 0)]
    _orders(tmp_path, "O2,C1,2024-03-01,paid,GBP,1,\nO3,C1,2024-03-02,paid,GBP,1,\n", name="b.csv")
    report = _load(con, tmp_path, max_reject_share=0.05)
    assert [f.source_file for f in report.files] == ["orders/b.csv"]
    assert con.execute("SELECT list(order_id ORDER BY order_id) FROM raw.orders").fetchone()[0] == [
        "O1", "O2", "O3"]


def test_utf8_bom_is_handled_and_other_encodings_are_a_clear_error(con, tmp_path):
    folder = tmp_path / "orders"
    folder.mkdir()
    (folder / "bom.csv").write_bytes(
        b"\xef\xbb\xbf" + (ORDERS_HEADER + "\nO1,C1,2024-03-01,paid,GBP,1,\n").encode()
    )
    assert _load(con, tmp_path).loaded == 1
    (folder / "latin1.csv").write_bytes(
        (ORDERS_HEADER + "\nO2,C1,2024-03-01,paid,GBP,1,\n").encode() .replace(b"O2", b"\xd8")
    )
    with pytest.raises(IngestError, match="latin1.csv: not valid UTF-8"):
        _load(con, tmp_path)


def test_an_empty_file_is_a_clear_error_and_existing_data_stays(con, tmp_path):
    _orders(tmp_path, "O1,C1,2024-03-01,paid,GBP,1,\n")
    _load(con, tmp_path)
    (tmp_path / "orders" / "empty.csv").write_bytes(b"")
    with pytest.raises(IngestError, match="empty.csv: the file is empty"):
        _load(con, tmp_path)
    assert con.execute("SELECT count(*) FROM raw.orders").fetchone()[0] == 1


def test_in_flight_files_are_ignored_until_complete(con, tmp_path):
    _orders(tmp_path, "O1,C1,2024-03-01,paid,GBP,1,\n")
    _orders(tmp_path, "O2,C1,2024-03-01,paid,GBP,1,\n", name="next.csv.part")
    _orders(tmp_path, "O3,C1,2024-03-01,paid,GBP,1,\n", name="next.csv.tmp")
    report = _load(con, tmp_path)
    assert report.loaded == 1
    assert report.skipped_in_flight == ["orders/next.csv.part", "orders/next.csv.tmp"]


def test_json_lines_and_parquet_files_load_by_key_name(con, tmp_path):
    folder = tmp_path / "consent_events"
    folder.mkdir()
    lines = [
        {"customer_id": "C1", "channel": "email", "status": "opted_in",
         "occurred_at": "2024-01-01"},
        "this is not json",
        {"customer_id": "C2", "channel": "sms", "status": "opted_out",
         "occurred_at": "2024-01-02T10:00:00Z", "source": "import"},
    ]
    (folder / "e.jsonl").write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n"
    )
    report = _load(con, tmp_path, entity="consent_events")
    assert (report.rows_read, report.loaded) == (3, 2)
    assert con.execute("SELECT reason FROM raw.quarantine").fetchone()[0].startswith(
        "malformed_json"
    )
    tickets = tmp_path / "support_tickets"
    tickets.mkdir()
    con.execute(
        f"COPY (SELECT 'T1' AS ticket_id, 'C1' AS customer_id, '2024-01-01' AS opened_at, "
        f"'complaint' AS kind, 2 AS satisfaction) TO '{tickets / 't.parquet'}' (FORMAT parquet)"
    )
    report = _load(con, tmp_path, entity="support_tickets")
    assert report.loaded == 1
    assert con.execute("SELECT satisfaction, _source_row FROM raw.support_tickets").fetchone() == (
        2, 1)


def test_an_absent_optional_folder_gives_an_empty_table_and_a_required_one_an_error(con, tmp_path):
    report = _load(con, tmp_path, entity="loyalty_ledger")
    assert not report.folder_present
    assert con.execute("SELECT count(*) FROM raw.loyalty_ledger").fetchone()[0] == 0
    with pytest.raises(IngestError, match="Required input folder .*customers is missing"):
        _load(con, tmp_path, entity="customers")


def test_error_messages_carry_no_row_values(con, tmp_path):
    folder = tmp_path / "customers"
    folder.mkdir()
    (folder / "c.csv").write_text(
        "customer_id,first_name,email\n,Secretname,secret.person@example.com\n"
    )
    with pytest.raises(IngestError) as info:
        _load(con, tmp_path, entity="customers", max_reject_share=0.0)
    assert "secret" not in str(info.value).lower()
    assert "Secretname" not in str(info.value)


def _ledger(con):
    return con.execute(
        "SELECT source_file, rows_read, rows_loaded, rows_quarantined FROM raw.ingest_ledger "
        "ORDER BY source_file"
    ).fetchall()


def _snapshot(con):
    return (
        con.execute("SELECT * FROM raw.orders ORDER BY _source_file, _source_row").fetchall(),
        con.execute("SELECT * FROM raw.quarantine ORDER BY source_file, source_row").fetchall(),
        con.execute("SELECT * FROM raw.ingest_ledger ORDER BY source_file").fetchall(),
    )


def test_the_same_drop_loaded_again_under_other_names_changes_nothing(con, tmp_path):
    body = "O1,C1,2024-03-01,paid,GBP,1,\nO2,C1,2024-03-02,paid,GBP,x,\n"
    _orders(tmp_path, body, name="drop.csv")
    first = _load(con, tmp_path)
    assert (first.loaded, sum(first.quarantined.values())) == (1, 1)
    before = _snapshot(con)
    assert _load(con, tmp_path).files == []  # a rerun over the same folder
    (tmp_path / "orders" / "drop.csv").rename(tmp_path / "orders" / "drop-renamed.csv")
    sub = tmp_path / "orders" / "2024" / "03"
    sub.mkdir(parents=True)
    (sub / "copy.csv").write_bytes((tmp_path / "orders" / "drop-renamed.csv").read_bytes())
    report = _load(con, tmp_path, loaded_at=LOADED_AT + dt.timedelta(days=1))
    assert report.files == []
    assert sorted((s.source_file, s.loaded_as) for s in report.skipped_already_loaded) == [
        ("orders/2024/03/copy.csv", "orders/drop.csv"),
        ("orders/drop-renamed.csv", "orders/drop.csv"),
    ]
    assert _snapshot(con) == before


def test_two_identical_files_in_one_delivery_load_once(con, tmp_path):
    _orders(tmp_path, "O1,C1,2024-03-01,paid,GBP,1,\n", name="a.csv")
    _orders(tmp_path, "O1,C1,2024-03-01,paid,GBP,1,\n", name="b.csv")
    report = _load(con, tmp_path)
    assert [f.source_file for f in report.files] == ["orders/a.csv"]
    assert [s.source_file for s in report.skipped_already_loaded] == ["orders/b.csv"]
    assert con.execute("SELECT count(*) FROM raw.orders").fetchone()[0] == 1


def test_a_new_file_is_appended_and_rows_already_loaded_stay_untouched(con, tmp_path):
    _orders(tmp_path, "O1,C1,2024-03-01,paid,GBP,1,\n", name="day1.csv")
    _load(con, tmp_path)
    day1 = con.execute("SELECT * FROM raw.orders").fetchall()
    _orders(tmp_path, "O2,C1,2024-03-02,paid,GBP,1,\n", name="day2.csv")
    report = _load(con, tmp_path, loaded_at=LOADED_AT + dt.timedelta(days=1))
    assert [f.source_file for f in report.files] == ["orders/day2.csv"]
    assert [s.source_file for s in report.skipped_already_loaded] == ["orders/day1.csv"]
    assert con.execute(
        "SELECT * FROM raw.orders WHERE _source_file = 'orders/day1.csv'"
    ).fetchall() == day1
    assert [r[0] for r in _ledger(con)] == ["orders/day1.csv", "orders/day2.csv"]


def test_an_already_loaded_name_with_new_content_is_appended_as_a_later_delivery(con, tmp_path):
    _orders(tmp_path, "O1,C1,2024-03-01,paid,GBP,1,2024-03-01\n", name="export.csv")
    _load(con, tmp_path)
    _orders(tmp_path, "O1,C1,2024-03-01,refunded,GBP,1,2024-03-05\n", name="export.csv")
    report = _load(con, tmp_path)
    assert [f.source_file for f in report.files] == ["orders/export.csv@0002"]
    assert report.duplicate_keys == 1
    assert con.execute(
        "SELECT list(status ORDER BY _source_file) FROM raw.orders"
    ).fetchone()[0] == ["paid", "refunded"]
    # The later delivery sorts after the first, so it wins ties on updated_at downstream.
    assert [r[0] for r in _ledger(con)] == ["orders/export.csv", "orders/export.csv@0002"]


def test_duplicate_keys_within_a_file_and_against_loaded_rows_are_counted(con, tmp_path):
    _orders(tmp_path, "O1,C1,2024-03-01,paid,GBP,1,\n", name="a.csv")
    first = _load(con, tmp_path)
    assert first.duplicate_keys == 0
    _orders(tmp_path, "O1,C1,2024-03-01,paid,GBP,1,2024-03-02\nO2,C1,2024-03-01,paid,GBP,1,\n"
                      "O2,C1,2024-03-01,shipped,GBP,1,2024-03-03\nO3,C1,2024-03-01,paid,GBP,1,\n",
            name="b.csv")
    report = _load(con, tmp_path)
    assert report.duplicate_keys == 2  # O1 seen in a.csv, O2 twice in b.csv
    assert report.files[0].duplicate_keys == 2
    assert con.execute("SELECT count(*) FROM raw.orders").fetchone()[0] == 5  # all versions kept


def test_one_failing_file_does_not_stop_the_others_and_every_failure_is_named(con, tmp_path):
    _orders(tmp_path, "O1,C1,2024-03-01,paid,GBP,1,\n", name="a.csv")
    _orders(tmp_path, "X\n", name="b.csv", header="order_id,state")
    _orders(tmp_path, "O3,C1,2024-03-01,paid,GBP,1,\n", name="c.csv")
    (tmp_path / "orders" / "d.csv").write_bytes(b"")
    with pytest.raises(IngestError) as info:
        _load(con, tmp_path)
    assert "orders/b.csv: required column(s)" in str(info.value)
    assert "orders/d.csv: the file is empty" in str(info.value)
    assert [r[0] for r in _ledger(con)] == ["orders/a.csv", "orders/c.csv"]


def test_every_file_reconciles_rows_read_with_loaded_plus_quarantined_in_the_ledger(con, tmp_path):
    _orders(tmp_path, "O1,C1,2024-03-01,paid,GBP,1,\nO2,C1\nO3,C1,2024-03-01,paid,GBP,z,\n")
    _load(con, tmp_path)
    assert _ledger(con) == [("orders/orders.csv", 3, 1, 2)]
    assert con.execute("SELECT count(*) FROM raw.quarantine").fetchone()[0] == 2


def test_malformed_csv_records_keep_their_record_numbers_among_good_rows(con, tmp_path):
    rows = [f"O{n},C1,2024-03-01,paid,GBP,1," for n in range(1, 11)]
    rows[2] = "O3,C1"
    rows[3] = "O4,C1"
    rows[7] = "O8,C1,2024-03-01,paid,GBP,1,,extra"
    _orders(tmp_path, "\n".join(rows) + "\n")
    _load(con, tmp_path)
    assert con.execute("SELECT list(source_row ORDER BY source_row) FROM raw.quarantine").fetchone(
    )[0] == [3, 4, 8]
    assert con.execute(
        "SELECT list(order_id ORDER BY _source_row), bool_and(order_id = 'O' || _source_row) "
        "FROM raw.orders"
    ).fetchone() == (["O1", "O2", "O5", "O6", "O7", "O9", "O10"], True)


def test_an_unterminated_quote_is_quarantined_and_the_other_rows_load(con, tmp_path):
    _orders(tmp_path, 'O1,C1,2024-03-01,paid,GBP,1,\nO2,"C1,2024-03-01,paid,GBP,1,\n')
    report = _load(con, tmp_path)
    assert report.rows_read == report.loaded + sum(report.quarantined.values())
    assert report.loaded == 1
    assert [k.split(":")[0] for k in report.quarantined] == ["malformed_row"]


def test_a_header_only_file_loads_zero_rows_and_is_recorded(con, tmp_path):
    _orders(tmp_path, "", name="nothing-today.csv")
    report = _load(con, tmp_path)
    assert (report.rows_read, report.loaded) == (0, 0)
    assert _ledger(con) == [("orders/nothing-today.csv", 0, 0, 0)]


def test_negative_zero_and_large_amounts_load_and_amounts_beyond_the_type_are_quarantined(
    con, tmp_path
):
    _orders(tmp_path, "O1,C1,2024-03-01,refunded,GBP,-5.00,\nO2,C1,2024-03-01,paid,EUR,0,\n"
                      "O3,C1,2024-03-01,paid,USD,9999999999999999.99,\n"
                      "O4,C1,2024-03-01,paid,GBP,1e30,\n")
    report = _load(con, tmp_path)
    assert con.execute("SELECT list(amount::VARCHAR ORDER BY order_id), list(currency ORDER BY "
                       "order_id) FROM raw.orders").fetchone() == (
        ["-5.00", "0.00", "9999999999999999.99"], ["GBP", "EUR", "USD"])
    assert report.quarantined == {"bad_decimal:amount": 1}


def test_naive_times_across_daylight_saving_changes_convert_to_utc(con, tmp_path):
    _orders(tmp_path, "O1,C1,2024-03-30 12:00:00,paid,GBP,1,\n"   # GMT, the day before
                      "O2,C1,2024-03-31 12:00:00,paid,GBP,1,\n"   # BST from 01:00 that night
                      "O3,C1,2024-10-27 12:00:00,paid,GBP,1,\n"   # back to GMT
                      "O4,C1,2024-03-31T12:00:00-05:00,paid,GBP,1,\n")  # offset wins over zone
    _load(con, tmp_path, source_tz="Europe/London")
    assert con.execute(
        "SELECT list(strftime(ordered_at, '%Y-%m-%d %H:%M') ORDER BY order_id) FROM raw.orders"
    ).fetchone()[0] == ["2024-03-30 12:00", "2024-03-31 11:00", "2024-10-27 12:00",
                        "2024-03-31 17:00"]


def test_a_declared_latin1_or_utf16_encoding_reads_the_file_correctly(con, tmp_path):
    folder = tmp_path / "customers"
    folder.mkdir()
    (folder / "legacy.csv").write_bytes("customer_id,first_name\nC1,Ren\xe9e\n".encode("latin-1"))
    with pytest.raises(IngestError, match="WINBACK_CUSTOMERS_ENCODING"):
        _load(con, tmp_path, entity="customers")
    _load(con, tmp_path, entity="customers", encoding="latin-1")
    (folder / "excel.csv").write_text("customer_id,first_name\nC2,Zo\xeb\n", encoding="utf-16")
    _load(con, tmp_path, entity="customers", encoding="utf-16")
    assert con.execute(
        "SELECT list(first_name ORDER BY customer_id) FROM raw.customers"
    ).fetchone()[0] == ["Ren\xe9e", "Zo\xeb"]


def test_a_warehouse_from_before_the_ledger_is_reloaded_once_without_doubling(con, tmp_path):
    _orders(tmp_path, "O1,C1,2024-03-01,paid,GBP,1,\nO2,C1,2024-03-01,paid,GBP,x,\n")
    _load(con, tmp_path)
    con.execute("DROP TABLE raw.ingest_ledger")  # as the replace-every-run loader left it
    before = con.execute("SELECT count(*) FROM raw.orders").fetchone()[0]
    _load(con, tmp_path)
    _load(con, tmp_path)
    assert con.execute("SELECT count(*) FROM raw.orders").fetchone()[0] == before == 1
    assert con.execute("SELECT count(*) FROM raw.quarantine").fetchone()[0] == 1


def test_a_file_that_changes_while_loading_publishes_nothing(con, tmp_path, monkeypatch):
    import orchestration.defs.ingest.loader as ingest

    _orders(tmp_path, "O1,C1,2024-03-01,paid,GBP,1,\n")
    real_scan = ingest.scan_file

    def writer_still_appending(con, path, *args):
        result = real_scan(con, path, *args)
        with path.open("a") as handle:
            handle.write("O2,C1,2024-03-01,paid,GBP,1,\n")
        return result

    monkeypatch.setattr(ingest, "scan_file", writer_still_appending)
    with pytest.raises(IngestError, match="orders.csv: the file changed while it was loading"):
        _load(con, tmp_path)
    assert con.execute("SELECT count(*) FROM raw.orders").fetchone()[0] == 0
    assert _ledger(con) == []
    monkeypatch.setattr(ingest, "scan_file", real_scan)
    assert _load(con, tmp_path).loaded == 2


def _write(landing, entity: str, header: str, body: str, name: str = "a.csv"):
    folder = landing / entity
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(header + "\n" + body, encoding="utf-8")


def _loaded(con, entity: str, columns: str):
    return con.execute(
        f"SELECT {columns}, _loaded_at::VARCHAR, _defects FROM raw.{entity} ORDER BY _source_row"
    ).fetchall()


STAMP = "2026-06-30 12:00:00+00"


def test_a_flawed_suppression_still_loads_and_blocks_from_its_load_time(con, tmp_path):
    """Regression: an unknown reason or a missing, unparseable or future occurred_at sent the
    suppression to quarantine and the person was exported."""
    _write(tmp_path, "suppressions", "email,reason,occurred_at", "\n".join([
        "a@example.com,complaint,2026-06-01T00:00:00Z",     # reason outside the list
        "b@example.com,unsubscribe,",                       # missing timestamp
        "c@example.com,hard_bounce,yesterday",              # unparseable timestamp
        "d@example.com,manual,2026-06-30T12:05:00Z",        # five minutes in the future
        "e@example.com,,soon",                              # two flaws
        ",unsubscribe,2026-06-01T00:00:00Z",                # identifies nobody
        "f@example.com,unsubscribe,2026-06-01T00:00:00Z",   # clean
    ]) + "\n")
    report = _load(con, tmp_path, entity="suppressions")
    assert (report.rows_read, report.loaded, sum(report.quarantined.values())) == (7, 6, 1)
    assert report.quarantined == {"missing_required:email": 1}
    assert report.loaded_with_defects == 5
    assert report.defects == {
        "invalid_value:reason": 1, "missing_required:occurred_at": 1,
        "bad_timestamp:occurred_at": 2, "future_timestamp:occurred_at": 1,
        "missing_required:reason": 1,
    }
    rows = con.execute(
        "SELECT email, reason, occurred_at::VARCHAR, _defects, _raw_record IS NOT NULL "
        "FROM raw.suppressions ORDER BY _source_row"
    ).fetchall()
    assert rows == [
        ("a@example.com", "unknown", "2026-06-01 00:00:00+00", "invalid_value:reason", True),
        ("b@example.com", "unsubscribe", STAMP, "missing_required:occurred_at", True),
        ("c@example.com", "hard_bounce", STAMP, "bad_timestamp:occurred_at", True),
        ("d@example.com", "manual", STAMP, "future_timestamp:occurred_at", True),
        ("e@example.com", "unknown", STAMP, "missing_required:reason;bad_timestamp:occurred_at",
         True),
        ("f@example.com", "unsubscribe", "2026-06-01 00:00:00+00", None, False),
    ]
    assert con.execute(
        "SELECT rows_read, rows_loaded, rows_quarantined FROM raw.ingest_ledger"
    ).fetchone() == (7, 6, 1)


def test_an_opt_out_from_a_fast_clock_loads_as_of_its_load_time_instead_of_being_lost(
    con, tmp_path
):
    """Regression: an opt-out stamped minutes in the future was quarantined, and since its file
    was then in the ledger it was never read again."""
    _write(tmp_path, "consent_events", "customer_id,channel,status,source,occurred_at",
           "C1,email,opted_out,web,2026-06-30T12:03:00Z\n")
    report = _load(con, tmp_path, entity="consent_events")
    assert (report.loaded, report.quarantined) == (1, {})
    assert _loaded(con, "consent_events", "customer_id, channel, status, occurred_at::VARCHAR") \
        == [("C1", "email", "opted_out", STAMP, STAMP, "future_timestamp:occurred_at")]
    assert _load(con, tmp_path, entity="consent_events").skipped_already_loaded


def test_an_unreadable_consent_status_is_an_opt_out_and_an_unreadable_channel_means_every_channel(
    con, tmp_path
):
    _write(tmp_path, "consent_events", "customer_id,channel,status,source,occurred_at", "\n".join([
        "C1,email,unsubscribed,web,2026-06-01T00:00:00Z",   # status outside the list
        "C2,e-mail,opted_out,web,2026-06-01T00:00:00Z",     # channel outside the list
        "C3,,,web,",                                        # only the customer is readable
        " ,email,opted_out,web,2026-06-01T00:00:00Z",       # identifies nobody
    ]) + "\n")
    report = _load(con, tmp_path, entity="consent_events")
    assert (report.loaded, report.quarantined) == (3, {"missing_required:customer_id": 1})
    assert _loaded(con, "consent_events", "customer_id, channel, status, occurred_at::VARCHAR") \
        == [
        ("C1", "email", "opted_out", "2026-06-01 00:00:00+00", STAMP, "invalid_value:status"),
        ("C2", None, "opted_out", "2026-06-01 00:00:00+00", STAMP, "invalid_value:channel"),
        ("C3", None, "opted_out", STAMP, STAMP,
         "missing_required:channel;missing_required:status;missing_required:occurred_at"),
    ]


def test_a_flawed_opt_in_grants_nothing_and_stays_quarantined(con, tmp_path):
    _write(tmp_path, "consent_events", "customer_id,channel,status,source,occurred_at", "\n".join([
        "C1,email,opted_in,web,2026-06-30T12:03:00Z",      # future
        "C2,fax,opted_in,web,2026-06-01T00:00:00Z",         # channel outside the list
        "C3,email,opted_in,web,not a date",
        "C4,email,Opted_In ,web,2026-06-01T00:00:00Z",      # clean (case and spaces)
    ]) + "\n")
    report = _load(con, tmp_path, entity="consent_events")
    assert report.loaded_with_defects == 0
    assert report.quarantined == {"future_timestamp:occurred_at": 1,
                                  "invalid_value:channel": 1, "bad_timestamp:occurred_at": 1}
    assert _loaded(con, "consent_events", "customer_id, status") == [
        ("C4", "opted_in", STAMP, None)]


def test_a_flawed_erasure_request_still_erases_the_customer(con, tmp_path):
    """Regression: an unparseable requested_at sent the erasure request to quarantine."""
    _write(tmp_path, "erasure_requests", "customer_id,requested_at",
           "C1,31/12/2026 noon\nC2,\nC3,2027-01-01T00:00:00Z\n,2026-01-01T00:00:00Z\n")
    report = _load(con, tmp_path, entity="erasure_requests")
    assert (report.loaded, report.quarantined) == (3, {"missing_required:customer_id": 1})
    assert _loaded(con, "erasure_requests", "customer_id, requested_at::VARCHAR") == [
        ("C1", STAMP, STAMP, "bad_timestamp:requested_at"),
        ("C2", STAMP, STAMP, "missing_required:requested_at"),
        ("C3", STAMP, STAMP, "future_timestamp:requested_at"),
    ]


def test_flawed_do_not_contact_rows_never_count_towards_the_reject_limit(con, tmp_path):
    _write(tmp_path, "suppressions", "email,reason,occurred_at",
           "".join(f"u{i}@example.com,bounced,\n" for i in range(20)))
    report = _load(con, tmp_path, entity="suppressions", max_reject_share=0.05)
    assert (report.loaded, report.loaded_with_defects) == (20, 20)


def test_a_raw_do_not_contact_table_from_before_defects_gains_the_columns(con, tmp_path):
    con.execute("CREATE SCHEMA raw")
    con.execute(
        "CREATE TABLE raw.erasure_requests (customer_id VARCHAR, requested_at TIMESTAMPTZ, "
        "_source_file VARCHAR NOT NULL, _source_row BIGINT NOT NULL, "
        "_loaded_at TIMESTAMPTZ NOT NULL)"
    )
    con.execute("INSERT INTO raw.erasure_requests VALUES ('C0', NULL, 'old.csv', 1, now())")
    _load(con, tmp_path, entity="erasure_requests")  # absent folder: the ledger is created
    _write(tmp_path, "erasure_requests", "customer_id,requested_at", "C1,garbage\n")
    _load(con, tmp_path, entity="erasure_requests")
    assert con.execute(
        "SELECT customer_id, _defects FROM raw.erasure_requests ORDER BY customer_id"
    ).fetchall() == [("C1", "bad_timestamp:requested_at")]


def test_parquet_columns_load_in_their_stored_types_exactly_as_the_same_values_as_text(
        con, tmp_path):
    """Native Parquet types (timestamps, doubles, decimals, integers) skip the text round trip
    and give the same stored rows as the same values written as text, including a double with
    three decimals (rounded as written: 1310.715 -> 1310.72) and a naive timestamp in the
    source time zone."""
    from orchestration.lib.landing import parquet_native_columns

    values = ("SELECT * FROM (VALUES "
              "('O1', 'C1', TIMESTAMPTZ '2024-03-01 09:00:00+00', TIMESTAMP '2024-07-01 11:00:00', "
              "'paid', 'GBP', 1310.715::DOUBLE, 10.5::DECIMAL(9, 3), 3::INTEGER), "
              "('O2', 'C2', TIMESTAMPTZ '2024-03-02 10:30:00.123+00', NULL, "
              "'PAID', 'gbp', 5.0::DOUBLE, NULL, NULL)) "
              "v(order_id, customer_id, ordered_at, updated_at, status, currency, amount, "
              "unit_price, line_no)")
    typed = tmp_path / "typed"
    text = tmp_path / "text"
    for root, cast in ((typed, ""), (text, "::VARCHAR")):
        (root / "orders").mkdir(parents=True)
        con.execute(
            f"COPY (SELECT order_id, customer_id, ordered_at{cast} AS ordered_at, status, "
            f"currency, amount{cast} AS amount, updated_at{cast} AS updated_at FROM ({values})) "
            f"TO '{root / 'orders' / 'o.parquet'}' (FORMAT parquet)")
    assert parquet_native_columns(con, typed / "orders" / "o.parquet", CONTRACTS["orders"]) == {
        "ordered_at": "TIMESTAMP WITH TIME ZONE", "amount": "DOUBLE", "updated_at": "TIMESTAMP"}
    stored = []
    for root in (typed, text):
        con.execute("DROP SCHEMA IF EXISTS raw CASCADE")
        report = _load(con, root, source_tz="Europe/London")
        assert (report.rows_read, report.loaded) == (2, 2)
        stored.append(con.execute(
            "SELECT order_id, ordered_at::VARCHAR, updated_at::VARCHAR, status, currency, "
            "amount::VARCHAR FROM raw.orders ORDER BY order_id").fetchall())
    assert stored[0] == stored[1]
    assert stored[0][0] == ("O1", "2024-03-01 09:00:00+00", "2024-07-01 10:00:00+00", "paid",
                            "GBP", "1310.72")
    assert stored[0][1][1] == "2024-03-02 10:30:00.123+00"


def test_native_parquet_values_that_break_the_contract_are_quarantined_as_delivered(
        con, tmp_path):
    (tmp_path / "orders").mkdir()
    con.execute(
        "COPY (SELECT * FROM (VALUES "
        "('O1', 'C1', TIMESTAMPTZ '2024-03-01 09:00:00+00', 'paid', 'GBP', 1e30::DOUBLE), "
        "('O2', 'C1', NULL, 'paid', 'GBP', 1::DOUBLE), "
        "('O3', 'C1', TIMESTAMPTZ '2099-01-01 00:00:00+00', 'paid', 'GBP', 1::DOUBLE), "
        "('O4', 'C1', TIMESTAMPTZ '2024-03-01 09:00:00+00', 'paid', 'GBP', 'nan'::DOUBLE), "
        "('O5', 'C1', TIMESTAMPTZ '2024-03-01 09:00:00+00', 'paid', 'GBP', 2.5::DOUBLE)) "
        "v(order_id, customer_id, ordered_at, status, currency, amount)) "
        f"TO '{tmp_path / 'orders' / 'o.parquet'}' (FORMAT parquet)")
    report = _load(con, tmp_path)
    assert (report.rows_read, report.loaded) == (5, 1)
    rows = con.execute("SELECT source_row, reason, raw_record FROM raw.quarantine "
                       "ORDER BY source_row").fetchall()
    assert [(r[0], r[1]) for r in rows] == [
        (1, "bad_decimal:amount"), (2, "missing_required:ordered_at"),
        (3, "future_timestamp:ordered_at"), (4, "bad_decimal:amount")]
    assert json.loads(rows[0][2])["amount"] == "1e+30"  # the delivered value, as text
    assert json.loads(rows[2][2])["ordered_at"] == "2099-01-01 00:00:00+00"


def test_a_native_parquet_opt_out_with_a_missing_timestamp_still_blocks_from_its_load_time(
        con, tmp_path):
    (tmp_path / "suppressions").mkdir()
    con.execute(
        "COPY (SELECT 'a@example.com' AS email, 'unsubscribe' AS reason, "
        "NULL::TIMESTAMPTZ AS occurred_at) "
        f"TO '{tmp_path / 'suppressions' / 's.parquet'}' (FORMAT parquet)")
    report = _load(con, tmp_path, entity="suppressions")
    assert (report.loaded, report.loaded_with_defects) == (1, 1)
    assert con.execute("SELECT occurred_at, _defects FROM raw.suppressions").fetchone() == (
        LOADED_AT, "missing_required:occurred_at")

"""Behaviour of the demo-data generator (orchestration.demo)."""

from __future__ import annotations

import collections
import csv
import datetime as dt
import hashlib
import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestration import cli, demo
from orchestration.lib.contracts import CONTRACTS

END = dt.date(2025, 6, 30)
CUSTOMERS = 500
ORDERS = 5000
ORDER_COLUMNS = 7
AMOUNT = re.compile(r"\d+\.\d{2}")
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})")

CSV_LAYOUT = {
    "customers": ["customers/customers.csv"],
    "suppressions": ["suppressions/suppressions.csv"],
    "erasure_requests": ["erasure_requests/erasure_requests.csv"],
}


def _generate(out: Path, seed: int = 42) -> dict[str, int]:
    return demo.generate(
        out, customers=CUSTOMERS, orders=ORDERS, seed=seed, end_date=END, years=3
    )


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("landing")
    return out, _generate(out)


def _digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _csv_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        return next(reader), list(reader)


def _order_rows(root: Path) -> list[list[str]]:
    rows: list[list[str]] = []
    for path in sorted((root / "orders").glob("orders_*.csv")):
        rows.extend(_csv_rows(path)[1])
    return rows


def _parse(ts: str) -> dt.datetime | None:
    if not TIMESTAMP.fullmatch(ts):
        return None
    try:
        return dt.datetime.fromisoformat(ts)
    except ValueError:
        return None


def _valid_orders(root: Path) -> list[list[str]]:
    """Order rows a strict loader would accept (ignoring the deliberate future-dated ones)."""
    return [
        r
        for r in _order_rows(root)
        if len(r) == ORDER_COLUMNS and r[0] and AMOUNT.fullmatch(r[5]) and _parse(r[2]) is not None
    ]


def _latest_orders(root: Path) -> dict[str, list[str]]:
    """The last export per order_id (re-exports carry a later updated_at)."""
    latest: dict[str, list[str]] = {}
    for row in _valid_orders(root):
        if row[0] not in latest or row[6] > latest[row[0]][6]:
            latest[row[0]] = row
    return latest


def _end_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.max, tzinfo=dt.UTC)


# ---- determinism ---------------------------------------------------------------------------


def test_the_same_arguments_produce_byte_identical_files(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    assert _generate(first) == _generate(second)
    digests = _digests(first)
    assert len(digests) >= 8
    assert digests == _digests(second)


def test_a_different_seed_produces_different_data(tmp_path: Path, landing) -> None:
    root, _ = landing
    other = tmp_path / "other"
    _generate(other, seed=7)
    same, different = _digests(root), _digests(other)
    assert same.keys() == different.keys()
    changed = [name for name in same if same[name] != different[name]]
    assert "customers/customers.csv" in changed
    assert any(name.startswith("orders/") for name in changed)


# ---- layout and formats --------------------------------------------------------------------


def test_every_entity_folder_exists_with_the_contract_headers(landing) -> None:
    root, _ = landing
    assert set(demo.ENTITY_COLUMNS) == set(CONTRACTS)
    for entity in demo.ENTITY_COLUMNS:
        assert (root / entity).is_dir(), entity
    expected = {entity: contract.column_names for entity, contract in CONTRACTS.items()}
    for entity, files in CSV_LAYOUT.items():
        for name in files:
            header, _ = _csv_rows(root / name)
            assert tuple(header) == expected[entity]
    years = range(END.year - 3, END.year + 1)
    for entity in ("orders", "order_items"):
        names = sorted(p.name for p in (root / entity).glob("*.csv"))
        assert names == [f"{entity}_{y}.csv" for y in years]
        for name in names:
            assert tuple(_csv_rows(root / entity / name)[0]) == expected[entity]
    for line in (
        (root / "consent_events" / "consent_events.jsonl").read_text(encoding="utf-8").splitlines()
    ):
        assert tuple(json.loads(line)) == expected["consent_events"]
    tickets = pq.read_schema(root / "support_tickets" / "support_tickets.parquet")
    assert tuple(tickets.names) == expected["support_tickets"]
    assert all(
        tickets.field(c).type == pa.string()
        for c in expected["support_tickets"]
        if c != "satisfaction"
    )
    assert pa.types.is_integer(tickets.field("satisfaction").type)
    ledger = pq.read_schema(root / "loyalty_ledger" / "loyalty_ledger.parquet")
    assert tuple(ledger.names) == expected["loyalty_ledger"]
    assert pa.types.is_integer(ledger.field("points").type)
    assert ledger.field("occurred_at").type == ledger.field("expires_at").type == pa.string()


def test_files_are_utf8_without_bom_with_lf_line_endings(landing) -> None:
    root, _ = landing
    for path in sorted(root.rglob("*.csv")) + sorted(root.rglob("*.jsonl")):
        data = path.read_bytes()
        assert not data.startswith(b"\xef\xbb\xbf"), path
        assert b"\r\n" not in data, path
        data.decode("utf-8")
        assert data.endswith(b"\n"), path


def test_returned_counts_are_the_data_rows_on_disk(landing) -> None:
    root, counts = landing
    assert list(counts) == list(demo.ENTITY_COLUMNS)
    assert counts["orders"] == len(_order_rows(root))
    items = sum(len(_csv_rows(p)[1]) for p in (root / "order_items").glob("*.csv"))
    assert counts["order_items"] == items
    for entity, files in CSV_LAYOUT.items():
        assert counts[entity] == sum(len(_csv_rows(root / f)[1]) for f in files)
    lines = (
        (root / "consent_events" / "consent_events.jsonl").read_text(encoding="utf-8").splitlines()
    )
    assert counts["consent_events"] == len(lines)
    assert (
        counts["support_tickets"]
        == pq.read_metadata(root / "support_tickets" / "support_tickets.parquet").num_rows
    )
    assert (
        counts["loyalty_ledger"]
        == pq.read_metadata(root / "loyalty_ledger" / "loyalty_ledger.parquet").num_rows
    )


def test_valid_rows_use_the_documented_value_formats(landing) -> None:
    root, _ = landing
    _, customers = _csv_rows(root / "customers" / "customers.csv")
    assert [r[0] for r in customers] == [f"C{i:07d}" for i in range(1, CUSTOMERS + 1)]
    assert {r[5] for r in customers} <= {
        "GB",
        "US",
        "DE",
        "FR",
        "NL",
        "IE",
        "ES",
        "IT",
        "BE",
        "AT",
        "PT",
        "FI",
    }
    for r in customers:
        assert _parse(r[7]) and _parse(r[8]) and _parse(r[7]) <= _parse(r[8]) <= _end_of(END)
    orders = _valid_orders(root)
    assert all(re.fullmatch(r"O\d{8}", r[0]) and re.fullmatch(r"C\d{7}", r[1]) for r in orders)
    assert {r[3] for r in orders} == set(demo.ORDER_STATUSES)
    assert {r[4] for r in orders} == {"GBP", "EUR", "USD"}
    offsets = collections.Counter(TIMESTAMP.fullmatch(r[2]).group(1) for r in orders)
    assert offsets.most_common(1)[0][0] == "+00:00"
    assert {"Z", "+01:00", "-05:00"} <= set(offsets)
    latest = _latest_orders(root).values()
    statuses = collections.Counter(r[3] for r in latest)
    assert 0.03 < statuses["cancelled"] / len(latest) < 0.07
    assert 0.015 < statuses["refunded"] / len(latest) < 0.045
    assert any(r[5] == "0.00" for r in latest)
    _, items = _csv_rows(next((root / "order_items").glob("*.csv")))
    assert {int(r[1]) for r in items} <= {1, 2, 3, 4}
    assert {r[3] for r in items} <= set(demo.CATEGORIES)
    assert all(AMOUNT.fullmatch(r[5]) and int(r[4]) >= 1 for r in items)
    tickets = pq.read_table(root / "support_tickets" / "support_tickets.parquet").to_pylist()
    assert all(re.fullmatch(r"T\d{6}", t["ticket_id"]) for t in tickets)
    assert {t["satisfaction"] for t in tickets} - {None} <= {1, 2, 3, 4, 5}
    assert any(t["closed_at"] is None for t in tickets) and any(
        t["satisfaction"] is None for t in tickets
    )


# ---- behaviour -----------------------------------------------------------------------------


def test_the_number_of_distinct_orders_is_within_ten_percent_of_the_request(landing) -> None:
    root, _ = landing
    distinct = {r[0] for r in _order_rows(root) if r and r[0]}
    assert abs(len(distinct) - ORDERS) <= 0.1 * ORDERS


def test_no_valid_order_is_dated_after_end_date_except_the_deliberate_future_rows(landing) -> None:
    root, _ = landing
    rows = _valid_orders(root)
    future = [r for r in rows if _parse(r[2]) > _end_of(END)]
    assert 1 <= len(future) <= 0.002 * len(rows)
    for r in future:  # the deliberate ones are far enough ahead to be unmistakable
        assert _parse(r[2]).date() > END
    for r in rows:
        if r not in future:
            assert _parse(r[2]).date() <= END
            assert _parse(r[6]) is not None and _parse(r[2]) <= _parse(r[6]) <= _end_of(END)


def test_there_are_prospects_one_time_buyers_and_heavy_buyers(landing) -> None:
    root, _ = landing
    _, customers = _csv_rows(root / "customers" / "customers.csv")
    per_customer = collections.Counter(r[1] for r in _latest_orders(root).values())
    prospects = [r[0] for r in customers if r[0] not in per_customer]
    assert 0.08 < len(prospects) / CUSTOMERS < 0.25
    buyers = [n for cid, n in per_customer.items() if int(cid[1:]) <= CUSTOMERS]
    one_time = sum(n == 1 for n in buyers)
    heavy = sum(n >= 10 for n in buyers)
    assert one_time / len(buyers) > 0.15
    assert heavy >= 10
    assert max(buyers) >= 5 * sorted(buyers)[len(buyers) // 2]  # a long tail


def test_some_customers_lapsed_long_ago_and_some_bought_recently(landing) -> None:
    root, _ = landing
    last: dict[str, dt.datetime] = {}
    for r in _latest_orders(root).values():
        t = _parse(r[2])
        if t <= _end_of(END):
            last[r[1]] = max(last.get(r[1], t), t)
    end = _end_of(END)
    lapsed = sum((end - t).days > 180 for t in last.values())
    recent = sum((end - t).days < 30 for t in last.values())
    assert lapsed / len(last) > 0.2
    assert recent / len(last) > 0.1


def test_customers_join_throughout_the_window(landing) -> None:
    root, _ = landing
    _, customers = _csv_rows(root / "customers" / "customers.csv")
    years = collections.Counter(_parse(r[7]).year for r in customers)
    assert len(years) == 4 and min(years.values()) > 0


def test_some_customers_order_several_times_on_the_same_day(landing) -> None:
    root, _ = landing
    days = collections.Counter((r[1], _parse(r[2]).date()) for r in _latest_orders(root).values())
    assert any(n >= 2 for n in days.values())


def test_a_few_orders_are_re_exported_with_a_later_status(landing) -> None:
    root, _ = landing
    by_id: dict[str, list[list[str]]] = collections.defaultdict(list)
    for r in _valid_orders(root):
        by_id[r[0]].append(r)
    twice = [rows for rows in by_id.values() if len(rows) == 2]
    assert 0.01 < len(twice) / len(by_id) < 0.03
    for first, second in twice:
        assert first[3] != second[3]
        assert _parse(first[6]) < _parse(second[6])


def test_a_few_orders_reference_customers_that_do_not_exist(landing) -> None:
    root, _ = landing
    orphans = [r for r in _valid_orders(root) if int(r[1][1:]) > CUSTOMERS]
    assert 1 <= len(orphans) <= 0.005 * ORDERS


def test_malformed_order_rows_exist_but_stay_under_one_percent(landing) -> None:
    root, _ = landing
    rows = _order_rows(root)
    missing_column = [r for r in rows if len(r) != ORDER_COLUMNS]
    complete = [r for r in rows if len(r) == ORDER_COLUMNS]
    empty_id = [r for r in complete if not r[0]]
    bad_amount = [r for r in complete if not AMOUNT.fullmatch(r[5])]
    bad_time = [r for r in complete if _parse(r[2]) is None]
    future = [r for r in complete if _parse(r[2]) and _parse(r[2]) > _end_of(END)]
    kinds = [missing_column, empty_id, bad_amount, bad_time, future]
    assert all(kinds)
    assert sum(map(len, kinds)) < 0.01 * len(rows)


def test_every_kind_of_dirty_email_is_present(landing) -> None:
    root, _ = landing
    header, customers = _csv_rows(root / "customers" / "customers.csv")
    emails = [r[header.index("email")] for r in customers]
    present = [e for e in emails if e]
    checks = {
        "missing @": [e for e in present if "@" not in e],
        "double dot": [e for e in present if ".." in e],
        "inner space": [e for e in present if " " in e.strip()],
        "trailing dot": [e for e in present if e.strip().endswith(".")],
        "padded": [e for e in present if e != e.strip()],
        "mixed case": [e for e in present if e != e.lower()],
        "role": [
            e
            for e in present
            if e.strip().lower().split("@")[0] in ("info", "noreply", "sales", "admin", "office")
        ],
        "disposable": [
            e for e in present if e.strip().lower().endswith(demo.DISPOSABLE_DOMAINS)
        ],
        "formula": [e for e in present if e[0] in "=+-@"],
        "empty": [e for e in emails if not e],
    }
    assert {k: bool(v) for k, v in checks.items()} == dict.fromkeys(checks, True)
    invalid = {
        e for k in ("missing @", "double dot", "inner space", "trailing dot") for e in checks[k]
    }
    assert 0.015 < len(invalid) / len(customers) < 0.06
    shared = collections.Counter(e.strip().lower() for e in present)
    assert 0.01 < sum(n for n in shared.values() if n > 1) / len(customers) < 0.05
    first_names = [r[header.index("first_name")] for r in customers]
    assert any(f[:1] in ("=", "+", "-", "@") for f in first_names if f)


def test_suppressions_match_some_customer_emails_only_after_normalising(landing) -> None:
    root, _ = landing
    _, customers = _csv_rows(root / "customers" / "customers.csv")
    _, suppressions = _csv_rows(root / "suppressions" / "suppressions.csv")
    raw = {r[3] for r in customers}
    normalised = {r[3].strip().lower() for r in customers}
    assert {r[1] for r in suppressions} <= {
        "hard_bounce",
        "spam_complaint",
        "unsubscribe",
        "manual",
    }
    exact = [r for r in suppressions if r[0] in raw]
    loose = [r for r in suppressions if r[0] not in raw and r[0].strip().lower() in normalised]
    assert exact and loose


def test_consent_events_are_mostly_email_opt_ins_at_signup(landing) -> None:
    root, _ = landing
    events = [
        json.loads(x)
        for x in (root / "consent_events" / "consent_events.jsonl").read_text("utf-8").splitlines()
    ]
    kinds = collections.Counter((e["channel"], e["status"]) for e in events)
    assert kinds[("email", "opted_in")] > kinds[("email", "opted_out")] > 0
    assert kinds[("sms", "opted_in")] > 0
    with_email_event = {e["customer_id"] for e in events if e["channel"] == "email"}
    assert 0.7 < len(with_email_event) / CUSTOMERS < 0.98
    assert all(_parse(e["occurred_at"]) <= _end_of(END) for e in events)


def test_the_loyalty_ledger_has_earnings_that_expire_and_unexpiring_redemptions(landing) -> None:
    root, _ = landing
    rows = pq.read_table(root / "loyalty_ledger" / "loyalty_ledger.parquet").to_pylist()
    earned = [r for r in rows if r["points"] > 0]
    spent = [r for r in rows if r["points"] < 0]
    assert earned and spent
    for r in earned:
        assert _parse(r["expires_at"]) - _parse(r["occurred_at"]) == dt.timedelta(days=365)
    assert all(r["expires_at"] is None for r in spent)


def test_winback_demo_prints_one_line_per_entity_and_writes_the_years_asked_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli"
    args = [
        "demo",
        "--out",
        str(out),
        "--customers",
        "60",
        "--orders",
        "300",
        "--seed",
        "3",
        "--end-date",
        "2024-02-29",
        "--years",
        "2",
    ]
    assert cli.main(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(demo.ENTITY_COLUMNS)
    assert all(str(out) in line for line in lines)
    assert (out / "orders" / "orders_2022.csv").exists()
    assert not (out / "orders" / "orders_2021.csv").exists()


def test_a_campaign_makes_eligible_treated_customers_buy_in_the_window_and_not_the_holdout(
    tmp_path: Path,
) -> None:
    from orchestration.lib.audiences import assign_group

    campaign = demo.Campaign(audience="aud", holdout_seed="s", holdout_share=0.3, effect=1.0)
    base = demo.generate(tmp_path / "base", customers=CUSTOMERS, orders=ORDERS, seed=42,
                         end_date=END, years=3)
    counts = demo.generate(tmp_path / "c", customers=CUSTOMERS, orders=ORDERS, seed=42,
                           end_date=END, years=3, campaign=campaign)
    assert counts["orders"] > base["orders"]
    known = {row[0] for row in _csv_rows(tmp_path / "c" / "customers" / "customers.csv")[1]}
    send = campaign.send_date(END)
    days: dict[str, list[dt.date]] = {}
    for row in _order_rows(tmp_path / "c"):
        when = _parse(row[2])
        if when is not None and row[1] in known:  # skip malformed rows and unknown customers
            days.setdefault(row[1], []).append(when.astimezone(dt.UTC).date())
    in_window = {c for c, ds in days.items()
                 if any(send < d <= send + dt.timedelta(days=30) for d in ds)}
    quiet_from = send - dt.timedelta(days=campaign.quiet_days - 1)
    eligible = {c for c, ds in days.items()
                if any(d < quiet_from for d in ds) and not any(quiet_from <= d <= send for d in ds)}
    treated = {c for c in eligible if assign_group("s", "aud", c, 0.3) == "treatment"}
    holdout = eligible - treated
    assert len(treated) > 50 and len(holdout) > 20
    # Effect 1.0: every treated customer buys (a rare order re-labelled to an unknown customer
    # aside); the holdout only at its own, much lower, rate.
    assert len(treated - in_window) <= len(treated) // 50
    assert len(holdout & in_window) < len(holdout) / 3

"""Contact hygiene and consent gates on the whole graph, with the dirty contacts of
tests/contacts_fixture.py added to the base fixture. Expectations are computed by hand."""

import csv
import datetime as dt
import json
import re
import shutil

import dagster as dg
import duckdb
import pytest
from contacts_fixture import PERSONAL_VALUES, append_consent, write_contacts_landing
from daily_run import run_daily
from landing_fixture import AS_OF, write_csv_file
from metadata_tables import table_counts

pytestmark = [pytest.mark.integration, pytest.mark.pipeline_runs(4)]
EXPORT_DIR = "winback_inactive_email/generic_csv"
EXPORT_KEY = dg.AssetKey(["exports", "winback_inactive_email_generic_csv"])


def _run(tmp_path, as_of=AS_OF, asset_selection=None):
    return run_daily(tmp_path, as_of, asset_selection=asset_selection, expect_success=False)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("contacts")
    write_contacts_landing(tmp_path / "landing")
    result = _run(tmp_path)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    return tmp_path, result


def _query(tmp_path, sql):
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def _export(tmp_path, as_of=AS_OF, name="winback_inactive_email.csv"):
    with (tmp_path / "exports" / EXPORT_DIR / as_of / name).open(encoding="utf-8",
                                                                  newline="") as handle:
        return list(csv.DictReader(handle))


def _copy(pipeline_dir, tmp_path):
    for name in ("landing", "exports"):
        shutil.copytree(pipeline_dir / name, tmp_path / name)
    shutil.copy(pipeline_dir / "warehouse.duckdb", tmp_path / "warehouse.duckdb")
    return tmp_path


def _personal_values_in(text):
    return [v for v in PERSONAL_VALUES if re.search(rf"(?<!\w){re.escape(v)}(?!\w)", text)]


def test_every_customer_gets_one_verdict_per_channel_with_the_first_blocking_reason(pipeline):
    tmp_path, _ = pipeline
    rows = _query(tmp_path, "SELECT customer_id, email_not_contactable_reason, "
                            "sms_not_contactable_reason FROM contacts.contact_hygiene")
    verdicts = {c: (e or "contactable", s or "contactable") for c, e, s in rows}
    no_phone = "missing_phone"
    assert verdicts == {
        "C01": ("contactable", no_phone),
        "C02": ("contactable", no_phone),      # owns the address C22 shares (created first)
        "C03": ("no_consent", no_phone),       # no consent event at all
        "C04": ("contactable", no_phone),
        "C05": ("opted_out", no_phone),        # latest event opted_out
        "C06": ("contactable", no_phone),
        "C08": ("suppressed", no_phone),       # " SUE@example.com" on the suppression list
        "C09": ("invalid_email", no_phone),
        "C10": ("formula_prefix", no_phone),   # "=cmd@...": never altered, never contacted
        "C11": ("no_consent", no_phone),
        "C12": ("contactable", no_phone),      # open complaint: kept out by the audience instead
        "C13": ("contactable", no_phone),
        "C20": ("role_address", "contactable"),
        "C21": ("disposable_domain", "contactable"),
        "C22": ("duplicate_email", "duplicate_phone"),
        "C23": ("contactable", "not_mobile"),  # IDN domain; German landline
        "C24": ("no_consent", "invalid_phone"),
        "C25": ("contactable", "opted_out"),   # SMS STOP after opting in
    }  # C07 is erased: absent.


def test_emails_and_phones_are_normalised_with_the_extension_kept_apart(pipeline):
    tmp_path, _ = pipeline
    rows = _query(tmp_path, "SELECT customer_id, email_normalized, is_role_address, "
                            "is_disposable_domain, is_email_duplicate, phone_e164, "
                            "phone_extension, phone_type, phone_invalid_reason "
                            "FROM contacts.contact_hygiene WHERE customer_id >= 'C20'")
    assert {r[0]: r[1:] for r in rows} == {
        "C20": ("info@shop-example.org", True, False, False, "+447911123456", None, "mobile",
                None),
        "C21": ("quenby@mailinator.com", False, True, False, "+447911123457", "77", "mobile",
                None),
        "C22": ("zoe.old@example.com", False, False, True, "+447911123456", None, "mobile",
                None),
        "C23": ("user@bücher.de", False, False, False, "+49301234567", None, "fixed_line", None),
        "C24": ("wilhelmina@example.net", False, False, False, None, None, None,
                "invalid_number"),
        "C25": ("peregrine@example.net", False, False, False, "+12025550143", "99",
                "fixed_line_or_mobile", None),
    }


def test_the_export_keeps_only_contactable_owners_of_their_address(pipeline):
    tmp_path, _ = pipeline
    rows = _export(tmp_path)
    # C20 role, C21 disposable, C22 duplicate of C02, C24 no consent: all inactive, none exported.
    assert [(r["customer_id"], r["email"]) for r in rows] == [
        ("C02", "zoe.old@example.com"), ("C13", "ivy@example.com"),
        ("C23", "user@bücher.de"), ("C25", "peregrine@example.net")]
    assert rows[2]["last_name"] == "山田"


def test_the_summary_counts_customers_by_reason_in_a_mart_and_in_check_metadata(pipeline):
    tmp_path, result = pipeline
    summary = {(ch, cat, code): (n, share) for ch, cat, code, n, share in _query(
        tmp_path, "SELECT channel, category, code, customers, share_of_customers "
                  "FROM contacts.contact_hygiene_summary")}
    assert summary[("email", "verdict", "contactable")] == (8, pytest.approx(8 / 18))
    assert summary[("email", "verdict", "no_consent")][0] == 3
    assert summary[("sms", "verdict", "missing_phone")][0] == 12
    assert summary[("email", "flag", "duplicate_email")][0] == 2   # C02 and C22
    assert summary[("sms", "flag", "phone_extension")][0] == 2
    assert summary[("all", "flag", "erased")] == (1, None)
    sms_verdicts = [n for (ch, cat, _), (n, _) in summary.items()
                    if (ch, cat) == ("sms", "verdict")]
    assert sum(sms_verdicts) == 18

    [check] = [
        c for c in result.get_asset_check_evaluations()
        if c.asset_key == dg.AssetKey(["contacts", "contact_hygiene_summary"])
        and c.check_name == "contact_hygiene_counts"
    ]
    assert check.passed
    metadata = check.metadata
    assert metadata["email_contactable"].value == 8
    assert metadata["email_share_contactable"].value == pytest.approx(0.4444)
    assert metadata["sms_share_contactable"].value == pytest.approx(0.1111)
    assert table_counts(metadata["email_not_contactable_by_reason"]) == {
        "disposable_domain": 1, "duplicate_email": 1, "formula_prefix": 1, "invalid_email": 1,
        "no_consent": 3, "opted_out": 1, "role_address": 1, "suppressed": 1}
    assert metadata["erased_customers"].value == 1


def test_the_hygiene_assets_record_the_disposable_list_version_and_counts(pipeline):
    import importlib.metadata

    _, result = pipeline
    email = result.asset_materializations_for_node("hygiene__email_checks")[0].metadata
    phone = result.asset_materializations_for_node("hygiene__phone_checks")[0].metadata
    assert email["disposable_email_domains_version"].value == importlib.metadata.version(
        "disposable-email-domains")
    assert email["role_addresses"].value == 1
    assert email["disposable_domains"].value == 1
    assert table_counts(phone["invalid_by_reason"]) == {"invalid_number": 1}


def test_consent_and_quality_gates_ran_as_passing_asset_checks(pipeline):
    _, result = pipeline
    checks = {e.asset_check_key.name: e.passed for e in result.get_asset_check_evaluations()}
    for name in ("gx_contact_hygiene", "gx_sync_audience_members",
                 "assert_sync_members_have_email_consent", "assert_sync_members_are_not_suppressed",
                 "assert_sync_members_are_not_erased",
                 "assert_sync_members_have_valid_owned_emails",
                 "assert_contactable_customers_meet_every_rule"):
        assert checks[name] is True, name


def test_an_unsubscribe_arriving_after_the_audience_was_built_is_not_in_the_file(
    pipeline, tmp_path
):
    _copy(pipeline[0], tmp_path)
    landing = tmp_path / "landing"
    # After the audience was built (and after its as-of date), before the file is written:
    (landing / "suppressions" / "late.csv").write_text(
        "email,reason,occurred_at\n Ivy@Example.com ,unsubscribe,2026-07-02T00:00:00Z\n")
    append_consent(landing, "late.jsonl",
                   [("C23", "email", "opted_out", "preference_centre", "2026-07-01T09:00:00Z")])
    (landing / "erasure_requests" / "late.csv").write_text(
        "customer_id,requested_at\nC25,2026-07-03T00:00:00Z\n")

    result = _run(tmp_path, asset_selection=[EXPORT_KEY])

    assert result.success
    assert [r["customer_id"] for r in _export(tmp_path)] == ["C02"]
    [export] = [m for m in result.get_asset_materialization_events() if m.asset_key == EXPORT_KEY]
    metadata = export.materialization.metadata
    assert metadata["dropped_at_write"].value == 3
    assert table_counts(metadata["dropped_at_write_by_reason"]) == {
        "erased": 1, "opted_out": 1, "suppressed": 1}


def test_a_dirty_hygiene_table_fails_the_blocking_gate_and_no_file_is_written(
    pipeline, tmp_path
):
    """A normaliser regression, as the hygiene step would store it: valid phones kept as their
    raw string instead of E.164. contact_hygiene is rebuilt from it on the module's warehouse
    (the steps before it would only rebuild what is there), then the gate and the exports."""
    from orchestration.lib.asset_keys import export_key
    from orchestration.lib.audiences import audiences_for
    from orchestration.lib.settings import load_settings

    shutil.copytree(pipeline[0] / "landing", tmp_path / "landing")
    shutil.copy(pipeline[0] / "warehouse.duckdb", tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        con.execute("UPDATE hygiene.phone_checks SET phone_e164 = phone_raw WHERE is_valid")
    config = audiences_for(load_settings())
    keys = [dg.AssetKey(["contacts", "contact_hygiene"])]
    keys += [export_key(a.name, p) for a in config.audiences for p in a.platforms]
    keys += [export_key("do_not_contact", p) for p in config.suppression_audience.platforms]
    result = _run(tmp_path, asset_selection=keys)

    assert not result.success
    [gate] = [e for e in result.get_asset_check_evaluations()
              if e.asset_check_key.name == "gx_contact_hygiene"]
    assert not gate.passed
    failed = gate.metadata["failed"].value
    assert [(f["column"], f["unexpected_count"]) for f in failed] == [("phone_e164", 5)]
    assert sorted(failed[0]["sample_customer_ids"]) == ["C20", "C21", "C22", "C23", "C25"]
    assert _personal_values_in(json.dumps(failed)) == []
    assert not (tmp_path / "exports").exists()
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "blocking" in failure.message or "gx_contact_hygiene" in str(
        failure.event_specific_data)


def test_data_docs_build_as_static_html_without_personal_data(pipeline, tmp_path):
    from orchestration.defs.quality.gx import build_data_docs

    index = build_data_docs(pipeline[0] / "warehouse.duckdb", tmp_path / "docs")
    pages = [p for p in (tmp_path / "docs").rglob("*") if p.suffix in {".html", ".json", ".js"}]
    assert index.is_file()
    names = {p.name for p in pages}
    assert {"contact_hygiene.html", "sync_audience_members.html"} <= names
    text = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in pages)
    assert "expect_column_pair_values_to_be_in_set" in text or "value pairs" in text.lower()
    assert _personal_values_in(text) == []


def test_a_next_run_lists_removals_with_a_reason_checks_only_new_contacts_and_equals_a_rebuild(
    pipeline, tmp_path, capfd
):
    """The next day: C26 joins, C02 opts out, C13 and C23 are erased. The export lists who left
    and why; the hygiene checks validate only the new address and number and drop the erased
    customers'; the GX gate validates only the changed rows; no personal value is in anything
    the run logged or printed; and the marts equal those of a rebuild from every file."""
    incremental = _copy(pipeline[0], tmp_path / "incremental")
    landing = incremental / "landing"
    (landing / "customers" / "next_day.csv").write_text(
        "customer_id,first_name,last_name,email,phone,country,postal_code,created_at,updated_at\n"
        "C26,Nova,Newcomer,nova@example.net,07700 900123,GB,,2026-06-30T10:00:00Z,\n")
    append_consent(landing, "next_day.jsonl", [
        ("C26", "email", "opted_in", "checkout", "2026-06-30T10:00:00Z"),
        ("C02", "email", "opted_out", "preference_centre", "2026-07-01T08:00:00Z")])
    (landing / "erasure_requests" / "next_day.csv").write_text(
        "customer_id,requested_at\nC13,2026-07-01T00:00:00Z\nC23,2026-07-01T00:00:00Z\n")

    result = _run(incremental, as_of="2026-07-01")

    assert result.success, [e.message for e in result.all_events if e.is_failure]
    assert [r["customer_id"] for r in _export(incremental, "2026-07-01")] == ["C25"]
    removals = _export(incremental, "2026-07-01", "winback_inactive_email_removes.csv")
    assert removals == [
        {"customer_id": "C02", "email": "zoe.old@example.com", "removal_reason": "not_contactable"},
        {"customer_id": "C13", "email": "ivy@example.com", "removal_reason": "erased"},
        {"customer_id": "C23", "email": "user@bücher.de", "removal_reason": "erased"},
    ]
    manifest = json.loads(
        (incremental / "exports" / EXPORT_DIR / "2026-07-01" / "manifest.json").read_text())
    assert manifest["previous_export_as_of"] == AS_OF
    assert manifest["removes"]["by_reason"] == {"erased": 2, "not_contactable": 1}
    for table in ("contacts.contact_hygiene", "activity.customer_activity",
                  "inactivity.customer_inactivity_status"):
        assert _query(incremental, f"SELECT * FROM {table} "
                                   "WHERE customer_id IN ('C13', 'C23')") == [], table

    # C26's address and number are new; C13's address and C23's address and number are dropped.
    for node, pruned in (("hygiene__email_checks", 2), ("hygiene__phone_checks", 1)):
        metadata = result.asset_materializations_for_node(node)[0].metadata
        assert (metadata["values_checked"].value, metadata["values_pruned"].value,
                metadata["rebuilt_for_new_rules"].value) == (1, pruned, False), node
    [gate] = [e for e in result.get_asset_check_evaluations()
              if e.asset_check_key.name == "gx_contact_hygiene"]
    assert gate.passed and gate.metadata["full_validation"].value is False
    assert gate.metadata["rows_validated"].value < gate.metadata["rows_skipped_unchanged"].value
    assert (gate.metadata["rows_pending"].value, gate.metadata["max_rows_per_run"].value) == (
        0, 50_000)

    # Logs, event metadata and check results of the whole run, and everything it printed.
    captured = capfd.readouterr()
    texts = [captured.out, captured.err]
    for event in result.all_events:
        texts += [event.message or "", repr(event.event_specific_data)]
    assert _personal_values_in("\n".join(texts)) == []

    rebuilt = _copy(incremental, tmp_path / "rebuilt")
    with duckdb.connect(str(rebuilt / "warehouse.duckdb")) as con:
        con.execute("DROP SCHEMA hygiene CASCADE")
        con.execute("DROP SCHEMA quality CASCADE")
    result = _run(rebuilt, as_of="2026-07-01")
    assert result.success

    for table in ("contacts.contact_hygiene", "contacts.contact_hygiene_summary",
                  "activation.sync_audience_members", "hygiene.email_checks",
                  "hygiene.phone_checks"):
        sql = f"SELECT * FROM {table} ORDER BY ALL"
        assert _query(incremental, sql) == _query(rebuilt, sql), table


NEXT_DAY, DAY_AFTER = "2026-07-01", "2026-07-02"
HYGIENE_KEY = dg.AssetKey(["contacts", "contact_hygiene"])


def _write_next_day_files(landing):
    """As of NEXT_DAY: C27, created before C02, joins C02's address (and takes it over); C20,
    owner of the number C22 shares, is erased; C13 opts out and C01's address is suppressed.
    Dated DAY_AFTER, already delivered: C12 opts out and C04's address is suppressed."""
    write_csv_file(landing / "customers" / "next_day.csv",
                   ["customer_id", "first_name", "last_name", "email", "phone", "country",
                    "postal_code", "created_at", "updated_at"],
                   [("C27", "Zed", "Earlier", "zoe.old@EXAMPLE.com", "", "GB", "",
                     "2024-06-01T00:00:00Z", "")])
    write_csv_file(landing / "erasure_requests" / "next_day.csv",
                   ["customer_id", "requested_at"], [("C20", "2026-07-01T00:00:00Z")])
    append_consent(landing, "next_day.jsonl", [
        ("C13", "email", "opted_out", "preference_centre", "2026-07-01T08:00:00Z"),
        ("C12", "email", "opted_out", "preference_centre", "2026-07-02T06:00:00Z")])
    write_csv_file(landing / "suppressions" / "next_day.csv", ["email", "reason", "occurred_at"],
                   [("ann@example.com", "hard_bounce", "2026-07-01T09:00:00Z"),
                    ("MO@example.com", "unsubscribe", "2026-07-02T05:00:00Z")])


def _hygiene_assets():
    """contact_hygiene and what it is built from (the file loads and checks included)."""
    from orchestration.definitions import defs

    return sorted(dg.AssetSelection.assets(HYGIENE_KEY).upstream()
                  .required_multi_asset_neighbors().resolve(defs.resolve_asset_graph()))


def _hygiene_build(root):
    """contact_hygiene's build record: whether it updated the previous build."""
    [(based_on,)] = _query(root, "SELECT based_on FROM meta.incremental_as_of_builds "
                                 "WHERE model_name = 'contact_hygiene'")
    return based_on is not None


@pytest.fixture(scope="module")
def next_days(pipeline, tmp_path_factory):
    """The fixture's warehouse after NEXT_DAY and DAY_AFTER, contact_hygiene's builds each
    recorded as updating the previous one."""
    root = _copy(pipeline[0], tmp_path_factory.mktemp("next_days"))
    _write_next_day_files(root / "landing")
    builds = []
    for day in (NEXT_DAY, DAY_AFTER):
        result = _run(root, as_of=day, asset_selection=_hygiene_assets())
        assert result.success, [e.message for e in result.all_events if e.is_failure]
        builds.append(_hygiene_build(root))
    return root, builds


def test_next_days_recompute_the_customers_that_changed_and_equal_a_fresh_build(
    next_days, tmp_path
):
    """The days after the fixture's update contact_hygiene for the customers whose row can
    change (macros/contact_hygiene.sql) and end equal to a warehouse built from every file at
    once: an ownership taken over by a new customer and one passed on by an erasure, consent and
    suppressions that arrive, and those delivered early that take effect as the days pass."""
    incremental, builds = next_days
    assert builds == [True, True]
    fresh = tmp_path / "fresh"
    write_contacts_landing(fresh / "landing")
    _write_next_day_files(fresh / "landing")
    assert _run(fresh, as_of=DAY_AFTER, asset_selection=_hygiene_assets()).success
    assert not _hygiene_build(fresh)

    for table in ("contacts.contact_hygiene", "intermediate.int_customer_consent_as_of"):
        sql = f"SELECT * FROM {table} ORDER BY ALL"
        assert _query(incremental, sql) == _query(fresh, sql), table
    verdicts = {c: (reason, phone_owner) for c, reason, phone_owner in _query(
        incremental, "SELECT customer_id, email_not_contactable_reason, is_phone_owner "
                     "FROM contacts.contact_hygiene")}
    assert {c: verdicts[c][0] for c in ("C01", "C04", "C12", "C13", "C02", "C27")} == {
        "C01": "suppressed", "C04": "suppressed", "C12": "opted_out", "C13": "opted_out",
        "C02": "duplicate_email", "C27": "no_consent"}
    assert "C20" not in verdicts and verdicts["C22"][1] is True
    assert {d for (d,) in _query(incremental, "SELECT DISTINCT as_of_date "
                                              "FROM contacts.contact_hygiene")} == {
        dt.date.fromisoformat(DAY_AFTER)}


def test_new_checking_rules_rebuild_every_row(next_days, tmp_path):
    """A row the new rules would judge otherwise is not among the changed customers: when the
    rules' fingerprint changes (the check tables are rebuilt), contact_hygiene is rebuilt."""
    root = _copy(next_days[0], tmp_path / "rules")
    with duckdb.connect(str(root / "warehouse.duckdb")) as con:
        # As if the checks and contact_hygiene had been built under older rules, with a verdict
        # the rules in the code no longer give: the check assets rebuild their tables.
        con.execute("UPDATE contacts.contact_hygiene SET is_email_valid = false "
                    "WHERE customer_id = 'C01'")
        con.execute("UPDATE hygiene.rules SET fingerprint = 'older rules'")
        con.execute("UPDATE meta.contact_hygiene_rules SET fingerprint = 'older rules'")

    assert _run(root, as_of=DAY_AFTER, asset_selection=_hygiene_assets()).success

    assert not _hygiene_build(root)
    assert _query(root, "SELECT is_email_valid FROM contacts.contact_hygiene "
                        "WHERE customer_id = 'C01'") == [(True,)]

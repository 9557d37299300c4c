"""The whole graph on a temporary DuckDB against hand-computed figures
(tests/landing_fixture.py)."""

import csv
import datetime as dt
import json
import re
import subprocess
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from daily_run import run_daily
from landing_fixture import AS_OF, write_landing
from metadata_tables import table_counts, table_rows
from parse_state import seeded_target

from orchestration.definitions import defs
from orchestration.defs.dbt.args import dbt_config_vars_args, dbt_launcher
from orchestration.defs.dbt.assets import DBT_ASSETS
from orchestration.defs.dbt.project import winback_project
from orchestration.lib.audiences import audiences_for
from orchestration.lib.contracts import CONTRACTS
from orchestration.lib.policies import load_policies, policies_for
from orchestration.lib.settings import REPO_ROOT, load_settings

AUDIENCES_FILE = REPO_ROOT / "config" / "audiences.yml"

pytestmark = [pytest.mark.integration, pytest.mark.pipeline_runs(5)]
EXPORT = "winback_inactive_email/generic_csv/" + AS_OF


def _run(tmp_path, as_of=AS_OF, expect_success=True, definitions=None):
    return run_daily(tmp_path, as_of, expect_success=expect_success, definitions=definitions)


@pytest.fixture(scope="module")
def pipeline(fixture_run):
    """The fixture run as of AS_OF, shared with other modules (tests/fixture_run.py): read."""
    return fixture_run.root, fixture_run.result


def _rows(tmp_path, sql):
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}


def test_statuses_match_the_hand_computed_values(pipeline):
    tmp_path, _ = pipeline
    status = _rows(tmp_path, "SELECT * FROM inactivity.customer_inactivity_status")
    assert {c: s["status"] for c, s in status.items()} == {
        "C01": "active",       # bought 10 days ago
        "C02": "inactive",     # 200 days ago
        "C03": "prospect",     # never bought
        "C04": "active",       # three orders on one day, 60 days ago; later cancelled order ignored
        "C05": "inactive",
        "C06": "lapsed",       # 400 days >= 2 x 180
        "C08": "inactive",
        "C09": "inactive",
        "C10": "inactive",
        "C11": "reactivated",  # came back after a 525-day gap, 20 days ago
        "C12": "inactive",
        "C13": "inactive",
    }
    c02 = status["C02"]
    assert c02["inactive_since"] == dt.date(2026, 6, 10)
    # The version recorded is the policy file's (config/inactivity_policies.yml).
    version = load_policies(REPO_ROOT / "config" / "inactivity_policies.yml").version
    assert (c02["rule_id"], c02["rule_version"], c02["threshold_days"]) == (
        "fixed_threshold", version, 180)
    assert c02["days_since_last_order"] == 200
    assert status["C06"]["inactive_since"] == dt.date(2025, 11, 22)
    assert status["C01"]["inactive_since"] is None


def test_status_rows_carry_churn_signals_rfm_segments_and_the_model_view(pipeline):
    tmp_path, _ = pipeline
    status = _rows(tmp_path, "SELECT * FROM inactivity.customer_inactivity_status")
    # C12's complaint (opened 2026-06-01, satisfaction 2) is open and recent.
    assert status["C12"]["has_churn_signal"] is True
    assert status["C12"]["churn_signal_reasons"] == "complaint,low_satisfaction"
    assert status["C02"]["has_churn_signal"] is False
    assert status["C03"]["rfm_segment"] is None  # prospect
    assert status["C01"]["rfm_segment"] is not None
    # Eleven buyers, two of them repeat buyers: too few to fit BG/NBD, so no model view.
    assert all(s["p_alive"] is None and s["model_disagreement"] is None for s in status.values())
    bgnbd = _rows(tmp_path, "SELECT * FROM predictions.customer_bgnbd")
    assert set(bgnbd) == {c for c, s in status.items() if s["status"] != "prospect"}


def test_one_run_builds_dbt_then_bgnbd_then_the_dbt_models_that_read_it(pipeline):
    _, result = pipeline
    order = [e.step_key for e in result.all_events if e.is_step_success]
    assert order.index("winback_dbt_models") < order.index("predictions__customer_bgnbd")
    assert order.index("predictions__customer_bgnbd") < order.index(
        "winback_dbt_models_after_statistics")
    fit = result.asset_materializations_for_node("predictions__customer_bgnbd")[0].metadata
    assert fit["fitted"].value is False


def test_erased_customers_are_absent_from_every_mart(pipeline):
    tmp_path, _ = pipeline
    for table in ("activity.customer_activity", "inactivity.customer_inactivity_status",
                  "inactivity.customer_status_changes", "inactivity.customer_status_history",
                  "predictions.customer_bgnbd",
                  "activation.sync_audience_members", "activation.audience_membership_daily",
                  "activation.audience_membership_history", "intermediate.int_orders_as_of",
                  "intermediate.int_customers_as_of"):
        assert _rows(tmp_path, f"SELECT customer_id FROM {table} WHERE customer_id = 'C07'") == {}


def test_activity_figures_match_the_hand_computed_values(pipeline):
    tmp_path, _ = pipeline
    activity = _rows(tmp_path, "SELECT * FROM activity.customer_activity")
    c01, c04, c02 = activity["C01"], activity["C04"], activity["C02"]
    # C01: the order after the as-of date does not count.
    assert (c01["orders_count"], c01["order_days_count"]) == (2, 2)
    assert (c01["first_order_date"], c01["last_order_date"]) == (
        dt.date(2026, 1, 10), dt.date(2026, 6, 20))
    assert c01["days_since_last_order"] == 10
    assert c01["avg_days_between_purchases"] == 161
    assert str(c01["revenue_main_currency"]) == "50.00"
    assert c01["last_category"] == "shoes"
    assert (c01["bgnbd_frequency"], c01["bgnbd_recency_days"], c01["bgnbd_age_days"]) == (
        1, 161, 171)
    # C04: three orders (one free, one refunded) on one day are one purchase day; cancelled ignored.
    assert (c04["orders_count"], c04["order_days_count"], c04["bgnbd_frequency"]) == (3, 1, 0)
    assert c04["last_order_date"] == dt.date(2026, 5, 1)
    assert str(c04["revenue_main_currency"]) == "10.00"
    assert c04["main_currency"] == "EUR"
    # C02: the later re-export (refunded) supersedes the first version: activity, no revenue.
    assert c02["orders_count"] == 1
    assert str(c02["revenue_main_currency"]) == "0.00"
    assert c02["last_category"] == "garden"  # highest-value line of the last order
    assert activity["C03"]["orders_count"] == 0


def test_export_holds_only_inactive_contactable_customers_and_is_spreadsheet_safe(pipeline):
    tmp_path, _ = pipeline
    path = tmp_path / "exports" / EXPORT / "winback_inactive_email.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    # Not exported: C05 opted out, C08 suppressed, C09 invalid email, C10 formula email,
    # C12 open complaint, C06 lapsed, C07 erased.
    assert [r["customer_id"] for r in rows] == ["C02", "C13"]
    assert rows[0]["email"] == "zoe.old@example.com"
    assert rows[0]["first_name"] == 'Zoë, "Z"'
    assert rows[0]["inactive_since"] == "2026-06-10"
    assert rows[1]["first_name"] == "'=Ivy"


def test_manifest_describes_the_file_it_sits_beside(pipeline):
    import hashlib

    tmp_path, _ = pipeline
    folder = tmp_path / "exports" / EXPORT
    manifest = json.loads((folder / "manifest.json").read_text())
    data = (folder / "winback_inactive_email.csv").read_bytes()
    assert manifest["rows"] == 2
    assert manifest["as_of_date"] == AS_OF
    assert manifest["files"] == [{"name": "winback_inactive_email.csv", "rows": 2,
                                  "sha256": hashlib.sha256(data).hexdigest(),
                                  "bytes": len(data)}]
    # The first export has no predecessor: everyone is an add, nobody a remove.
    removes = (folder / "winback_inactive_email_removes.csv").read_bytes()
    assert manifest["removes"] == {
        "rows": 0, "by_reason": {},
        "files": [{"name": "winback_inactive_email_removes.csv", "rows": 0,
                   "sha256": hashlib.sha256(removes).hexdigest(), "bytes": len(removes)}]}
    assert manifest["adds"]["rows"] == 2
    assert manifest["previous_export_as_of"] is None
    assert manifest["members"] == {"treatment": 2, "holdout": 0, "capped": 0}
    assert len(manifest["audience_definition_hash"]) == 16
    assert manifest["source_run"]


def test_a_second_run_for_the_same_date_writes_byte_identical_exports(fixture_run, tmp_path):
    fixture_run.copy(tmp_path)
    folder = tmp_path / "exports"
    before = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert len(before) >= 4 * 14  # every audience and platform: file, adds, removes, manifest
    _run(tmp_path)
    after = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert after == before


def test_ingest_metadata_reconciles_rows_read_loaded_and_quarantined(pipeline):
    _, result = pipeline
    orders = result.asset_materializations_for_node("raw__orders")
    metadata = orders[0].metadata
    assert metadata["rows_read"].value == 19
    assert metadata["rows_loaded"].value + metadata["rows_quarantined"].value == 19
    assert metadata["rows_quarantined"].value == 0


def test_dbt_tests_ran_as_asset_checks_and_passed(pipeline):
    _, result = pipeline
    evaluations = result.get_asset_check_evaluations()
    model_checks = {"bgnbd_fit_identified", "bgnbd_holdout_check"}
    assert len(evaluations) >= 20
    assert all(e.passed for e in evaluations if e.asset_check_key.name not in model_checks)
    # The fixture's handful of buyers cannot identify the BG/NBD: its checks warn, never fail
    # the run.
    model = [e for e in evaluations if e.asset_check_key.name in model_checks]
    assert sorted(e.asset_check_key.name for e in model) == sorted(model_checks)
    assert all(not e.passed and e.severity == dg.AssetCheckSeverity.WARN for e in model)


def test_the_warehouse_holds_every_contract_not_null_and_no_data_test_repeats_one(fixture_run):
    """DuckDB refuses a null in a column an enforced contract declares not_null when the model is
    built, so a `not_null` data test on it would be a node (a query and dbt's per-node work, every
    run) that cannot fail; Spark, which cannot hold the constraint, checks it in a post-hook
    (macros/contract_not_null.sql)."""
    manifest = json.loads(winback_project.manifest_path.read_text())
    tested = {(test["attached_node"], test["column_name"]) for test in manifest["nodes"].values()
              if (test.get("test_metadata") or {}).get("name") == "not_null"}
    declared = [(node, column) for node in manifest["nodes"].values()
                if node["resource_type"] == "model" and node["contract"]["enforced"]
                for column, spec in node["columns"].items()
                if any(c["type"] == "not_null" for c in spec.get("constraints", []))]
    assert len(declared) >= 30
    assert [(node["name"], column) for node, column in declared
            if (node["unique_id"], column) in tested] == []
    with duckdb.connect(str(fixture_run.warehouse), read_only=True) as con:
        for node, column in declared:
            nullable = con.execute(
                "select is_nullable from information_schema.columns "
                "where table_schema = ? and table_name = ? and column_name = ?",
                [node["schema"], node["alias"], column]).fetchall()
            assert nullable == [("NO",)], (node["name"], column)


def _dbt_step_folders(run) -> dict[str, Path]:
    """The invocation folder of each dbt step of the fixture run (dagster-dbt names them
    <step>-<run id>-<hash>), as copied when the run ended."""
    return {step: folder for step in ("winback_dbt_models", "winback_dbt_models_after_statistics")
            for folder in run.dbt_steps.glob(f"{step}-{run.result.run_id[:7]}-*")}


def test_production_dbt_steps_run_no_unit_tests_and_the_second_step_reuses_the_parse(
        fixture_run):
    folders = _dbt_step_folders(fixture_run)
    assert len(folders) == 2
    finished = [result["unique_id"] for folder in folders.values()
                for result in json.loads((folder / "run_results.json").read_text())["results"]]
    assert finished and not [node for node in finished if node.startswith("unit_test.")]
    # A step's folder keeps what it ran, not a copy of the manifest (fork_server.py,
    # without_manifest_artifacts): dbt writes that twice per step.
    for folder in folders.values():
        assert (folder / "dbt.log").exists() and list((folder / "run").rglob("*.sql"))
        assert not (folder / "manifest.json").exists()
    # Regression: every step parsed the whole project; the first one's parse state is kept.
    # dbt.log is at info level in production (dbt_file_log_args), where dbt says why it cannot
    # use a parse state (none found, other vars, another profile) and nothing when it can.
    second = [json.loads(line) for line in
              (folders["winback_dbt_models_after_statistics"] / "dbt.log").read_text().splitlines()]
    names = {event["info"]["name"] for event in second}
    assert "MainReportVersion" in names and "UnableToPartialParse" not in names
    assert {event["info"]["level"] for event in second} <= {"info", "warn", "error"}


def test_dbt_unit_tests_pass_in_the_test_suite(fixture_run, tmp_path):
    # The production steps' vars (the as-of date is the fixture run's, in meta.run_context) and
    # their parse state: the unit tests run without parsing the project again.
    settings = fixture_run.copy_settings(tmp_path / "run")
    done = subprocess.run(
        [dbt_launcher(), "test", "--select", "test_type:unit",
         *dbt_config_vars_args(settings, policies_for(settings), audiences_for(settings)),
         "--project-dir", str(winback_project.project_dir),
         "--profiles-dir", str(winback_project.project_dir),
         "--target-path", str(seeded_target(tmp_path / "target")),
         "--log-path", str(tmp_path / "logs")],
        capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert int(re.search(r"PASS=(\d+)", done.stdout).group(1)) > 0


def test_every_dbt_model_shows_its_row_count_and_columns_and_exports_show_tables(pipeline):
    tmp_path, result = pipeline
    materializations = {e.asset_key: e.materialization.metadata
                        for e in result.get_asset_materialization_events()}
    dbt_keys = [key for step in DBT_ASSETS for key in step.keys]
    assert dbt_keys and all("dagster/row_count" in materializations[k] for k in dbt_keys)
    status = materializations[dg.AssetKey(["inactivity", "customer_inactivity_status"])]
    assert status["dagster/row_count"].value == 12
    columns = {c.name: c for c in status["dagster/column_schema"].schema.columns}
    assert columns["status"].type == "varchar" and columns["status"].description
    export = materializations[dg.AssetKey(["exports", "winback_inactive_email_generic_csv"])]
    size = table_counts(export["audience_size"])
    assert size["exported"] == export["rows"].value and set(size) == {
        "treatment", "holdout", "capped", "exported", "dropped_at_write"}
    assert [(r["change"], r["customers"]) for r in table_rows(export["adds_and_removes"])] == [
        ("add", export["adds"].value), ("remove", export["removes"].value)]
    freshness = [e for e in result.get_asset_check_evaluations()
                 if e.check_name == "source_freshness"]
    assert len(freshness) == len(CONTRACTS) and all(e.passed for e in freshness)


def test_the_graph_connects_every_landing_entity_to_the_export():
    graph = defs.resolve_asset_graph()
    export = dg.AssetKey(["exports", "winback_inactive_email_generic_csv"])
    upstream: set[dg.AssetKey] = set()
    frontier = {export}
    while frontier:
        parents = {p for key in frontier for p in graph.get(key).parent_keys}
        frontier = parents - upstream
        upstream |= parents

    for entity in CONTRACTS:
        assert dg.AssetKey(["raw", entity]) in upstream, entity
    assert dg.AssetKey(["predictions", "customer_bgnbd"]) in upstream


def test_every_model_is_built_by_exactly_one_dbt_step_in_its_folder_group():
    from orchestration.defs.dbt.assets import DBT_ASSETS

    first, second = (set(step.keys) for step in DBT_ASSETS)
    assert not first & second
    assert dg.AssetKey(["inactivity", "customer_inactivity_status"]) in second
    assert dg.AssetKey(["inactivity", "customer_status_history"]) in second
    assert dg.AssetKey(["activity", "customer_activity"]) in first
    graph = defs.resolve_asset_graph()
    for key in first | second:
        assert graph.get(key).group_name == key.path[0]


def test_a_failing_blocking_quality_check_stops_the_export(pipeline, tmp_path, monkeypatch):
    """On the fixture run's warehouse, the two gated tables rebuilt with their checks, then the
    exports (a part of the graph: the steps before them do not change what is tested)."""
    import shutil

    import orchestration.defs.quality.gx as gx_validation
    from orchestration.lib.asset_keys import export_key

    # The real suites, with the audience's replaced by one no audience can pass.
    suites = tmp_path / "expectations"
    shutil.copytree(gx_validation.EXPECTATIONS_DIR, suites)
    (suites / "sync_audience_members.json").write_text(json.dumps({
        "name": "sync_audience_members",
        "expectations": [{"type": "expect_table_row_count_to_equal", "kwargs": {"value": 0}}],
    }))
    monkeypatch.setattr(gx_validation, "EXPECTATIONS_DIR", suites)
    source, _ = pipeline
    shutil.copytree(source / "landing", tmp_path / "landing")
    shutil.copyfile(source / "warehouse.duckdb", tmp_path / "warehouse.duckdb")
    config = audiences_for(load_settings())
    keys = [dg.AssetKey(["contacts", "contact_hygiene"]),
            dg.AssetKey(["activation", "sync_audience_members"])]
    keys += [export_key(a.name, p) for a in config.audiences for p in a.platforms]
    keys += [export_key("do_not_contact", p) for p in config.suppression_audience.platforms]
    result = run_daily(tmp_path, AS_OF, asset_selection=keys, expect_success=False)
    assert not result.success
    assert {e.asset_check_key.name for e in result.get_asset_check_evaluations()} >= {
        "gx_sync_audience_members", "gx_contact_hygiene"}
    gx = [e for e in result.get_asset_check_evaluations()
          if e.asset_check_key.name == "gx_sync_audience_members"]
    assert [e.passed for e in gx] == [False]
    assert all(e.passed for e in result.get_asset_check_evaluations()
               if e.asset_check_key.name == "gx_contact_hygiene")
    # No audience file; the suppression audience does not read the failed table and only ever
    # keeps people out of paid reach, so it is still written.
    written = {p.name for p in (tmp_path / "exports").iterdir()} - {".staging"}
    assert written == {"do_not_contact"}


def test_audience_membership_matches_the_hand_computed_audiences(pipeline):
    tmp_path, _ = pipeline
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(
            "SELECT audience, customer_id, holdout_group, spell_started_on, is_capped, is_exported "
            "FROM activation.audience_membership_daily ORDER BY 1, 2").fetchall()
    day = dt.date(2026, 6, 30)
    # C02 (inactive 20 days) and C13 (31 days) are the contactable inactive customers without
    # an open complaint; C12 (inactive, open complaint) is only on the service list. Nobody is
    # at risk, C06 (lapsed) spent 25 EUR < 200, and there is no loyalty ledger.
    assert rows == [
        ("feedback_request_inactive", "C02", "treatment", day, False, True),
        ("feedback_request_inactive", "C13", "treatment", day, False, True),
        ("service_open_complaint", "C12", "treatment", day, False, True),
        ("winback_inactive_email", "C02", "treatment", day, False, True),
        ("winback_inactive_email", "C13", "treatment", day, False, True),
        ("winback_newly_inactive", "C02", "treatment", day, False, True),
        ("winback_newly_inactive", "C13", "treatment", day, False, True),
    ]


def test_the_summary_warns_only_of_overlaps_the_config_does_not_declare(pipeline):
    import yaml

    from orchestration.lib.audiences import parse_audiences
    from orchestration.summary import overlap_warning_lines

    tmp_path, _ = pipeline
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        pair = con.execute(
            "SELECT members_a, members_b, overlap_customers, share_of_a, same_exclusion_group "
            "FROM activation.audience_overlap WHERE audience_a = 'feedback_request_inactive' "
            "AND audience_b = 'winback_newly_inactive'").fetchall()
        config = audiences_for(load_settings())
        shipped = overlap_warning_lines(con, dt.date(2026, 6, 30), config)
        data = yaml.safe_load(AUDIENCES_FILE.read_text())
        del data["intended_overlaps"]
        undeclared = overlap_warning_lines(con, dt.date(2026, 6, 30), parse_audiences(data))
    # C02 and C13 are in both (winback_newly_inactive is outside the exclusion group).
    assert pair == [(2, 2, 2, 1.0, False)]
    # The shipped file declares that overlap intended; without the declaration it is warned.
    assert shipped == []
    assert any("feedback_request_inactive and winback_newly_inactive overlap: 2 customers"
               in line for line in undeclared)


def test_the_suppression_audience_holds_the_hashed_opted_out_and_suppressed(pipeline):
    import hashlib

    tmp_path, _ = pipeline

    def sha(value):
        return hashlib.sha256(value.encode()).hexdigest()

    # C05 opted out, C08's address is suppressed (spelled " SUE@example.com"); C07 is erased.
    for platform in ("google_customer_match", "meta"):
        folder = tmp_path / "exports" / "do_not_contact" / platform / AS_OF
        rows = (folder / "do_not_contact.csv").read_text().splitlines()[1:]
        assert [row.split(",")[0] for row in rows] == [sha("otto@example.com"),
                                                       sha("sue@example.com")], platform
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["members_by_reason"] == {"opted_out": 1, "suppressed": 1}
        assert manifest["hashed"] is True
        # Emails only: each matches at the platform's email rate (config/platforms.yml).
        assert manifest["match"]["rows_with"] == {"email": 2, "phone": 0, "name_postal": 0}
        assert manifest["match"]["estimated_matchable_share"] == pytest.approx(
            manifest["match"]["match_rates"]["email"])


def test_each_export_reports_the_rows_its_platform_can_match(pipeline):
    tmp_path, _ = pipeline

    def match(audience, platform):
        folder = tmp_path / "exports" / audience / platform / AS_OF
        return json.loads((folder / "manifest.json").read_text())["match"]

    # C02 and C13 have a valid email and no phone: an email platform matches both.
    assert match("winback_inactive_email", "generic_csv") == {
        "rows": 2, "rows_with": {"email": 2}, "estimated_matchable_share": 1.0}
    # Nobody lapsed reaches the value floor: nothing to match, no share.
    google = match("high_value_lapsed", "google_customer_match")
    assert (google["rows"], google["estimated_matchable_share"]) == (0, None)


POINTS_AUDIENCE = "points_waiting_e"


@pytest.fixture(scope="module")
def holdout_pipeline(tmp_path_factory):
    """The fixture with a config whose holdout share puts C02 (bucket 0.02) in the holdout of
    winback_inactive_email, and the same run one day later after C13 opted out."""
    import yaml

    tmp_path = tmp_path_factory.mktemp("holdout")
    config = yaml.safe_load((AUDIENCES_FILE).read_text())
    config["audiences"][0]["holdout_share"] = 0.05
    # A/B/n splits on two audiences (test_variants_...).
    for audience in config["audiences"]:
        if audience["name"] in ("winback_newly_inactive", "feedback_request_inactive"):
            audience["variants"] = [{"name": "a", "share": 0.4}, {"name": "b", "share": 0.3},
                                    {"name": "c", "share": 0.3}]
    # The points audience renamed so that its holdout hash puts C02 (bucket 0.009) in the
    # holdout and C13 (0.63) in the treatment, and widened to their crossings 20 and 31 days
    # before the as-of date (test_points_...).
    text = yaml.safe_dump(config).replace("points_waiting_inactive", POINTS_AUDIENCE)
    config = yaml.safe_load(text)
    next(a for a in config["audiences"]
         if a["name"] == POINTS_AUDIENCE)["days_inactive"] = {"max": 40}
    path = tmp_path / "audiences.yml"
    path.write_text(yaml.safe_dump(config))
    write_landing(tmp_path / "landing")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WINBACK_AUDIENCES", str(path))
        # The code location of this config (it names the points audience differently).
        from orchestration.definitions import build_defs

        definitions = build_defs(load_settings())
        _run(tmp_path, definitions=definitions)
        (tmp_path / "landing" / "consent_events" / "later.jsonl").write_text(json.dumps({
            "customer_id": "C13", "channel": "email", "status": "opted_out",
            "source": "preference_centre", "occurred_at": "2026-07-01T08:00:00Z"}) + "\n")
        _run(tmp_path, as_of="2026-07-01", definitions=definitions)
    return tmp_path


def test_holdout_members_are_recorded_but_never_exported(holdout_pipeline):
    from orchestration.lib.audiences import assign_group, load_audiences

    tmp_path = holdout_pipeline
    seed = load_audiences(AUDIENCES_FILE).holdout_seed
    assert assign_group(seed, "winback_inactive_email", "C02", 0.05) == "holdout"
    history = _rows(tmp_path, "SELECT customer_id, holdout_group, was_exported "
                              "FROM activation.audience_membership_history "
                              "WHERE audience = 'winback_inactive_email'")
    assert history["C02"] == {"customer_id": "C02", "holdout_group": "holdout",
                              "was_exported": False}
    folder = tmp_path / "exports" / "winback_inactive_email" / "generic_csv" / AS_OF
    exported = (folder / "winback_inactive_email.csv").read_text()
    assert "C02" not in exported and "C13" in exported
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["members"] == {"treatment": 1, "holdout": 1, "capped": 0}


def test_variants_split_the_treated_members_as_python_assigns_them(holdout_pipeline):
    """The dbt macro and orchestration/lib/audiences.py give every member the same variant;
    the holdout has none; the generic file carries the variant column."""
    from orchestration.lib.audiences import assign_variant, load_audiences

    tmp_path = holdout_pipeline
    config = load_audiences(tmp_path / "audiences.yml")
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(
            "SELECT audience, customer_id, holdout_group, variant, is_exported "
            "FROM activation.audience_membership_daily WHERE as_of_date = ?",
            [dt.date.fromisoformat(AS_OF)]).fetchall()
        history = con.execute(
            "SELECT audience, customer_id, variant FROM activation.audience_membership_history "
            "WHERE exclusion_reason IS NULL AND entered_on = ?",
            [dt.date.fromisoformat(AS_OF)]).fetchall()
    split = [r for r in rows if config.get(r[0]).variants and r[2] == "treatment"]
    # C02 and C13 in feedback_request_inactive (winback_newly_inactive loses them to the
    # points audience here), in two different variants.
    assert len({r[3] for r in split}) >= 2
    for audience, customer, group, variant, _ in rows:
        expected = (assign_variant(config.holdout_seed, config.get(audience), customer)
                    if group == "treatment" else None)
        assert variant == expected, (audience, customer)
    assert {(a, c): v for a, c, v in history} == {(a, c): v for a, c, _, v, _ in rows}
    folder = tmp_path / "exports" / "feedback_request_inactive" / "generic_csv" / AS_OF
    with open(folder / "feedback_request_inactive.csv", newline="") as handle:
        exported = {r["customer_id"]: r["variant"] for r in csv.DictReader(handle)}
    assert exported == {c: v for a, c, _, v, e in rows
                        if a == "feedback_request_inactive" and e}
    assert exported
    manifest = json.loads((folder / "manifest.json").read_text())
    assert sum(manifest["members"]["variants"].values()) == len(exported)


def test_points_go_to_the_treated_crossing_once_and_never_to_the_holdout(holdout_pipeline):
    """C13 (treatment, crossed 2026-05-30) gets one grant on the first date; C02 (holdout)
    none. The next date (C13 opted out, already granted) writes an empty file and no new id."""
    from orchestration.defs.activation.points import grant_id

    tmp_path = holdout_pipeline
    folder = tmp_path / "exports" / POINTS_AUDIENCE / "loyalty_points"
    with open(folder / AS_OF / "points_grants.csv", newline="") as handle:
        grants = list(csv.DictReader(handle))
    assert grants == [{"grant_id": grant_id("C13", dt.date(2026, 5, 30)), "customer_id": "C13",
                       "points": "200", "reason": "inactivity_threshold",
                       "crossed_on": "2026-05-30", "expires_on": "2026-08-29"}]
    with open(folder / "2026-07-01" / "points_grants.csv", newline="") as handle:
        assert list(csv.DictReader(handle)) == []
    manifest = json.loads((folder / AS_OF / "manifest.json").read_text())
    assert manifest["members"] == {"eligible": 1, "issued_before": 0, "granted": 1}
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        issued = con.execute("SELECT customer_id, crossed_on, issued_on "
                             "FROM activation.points_grants_issued").fetchall()
        holdout = con.execute(
            "SELECT holdout_group FROM activation.audience_membership_daily WHERE audience = ? "
            "AND customer_id = 'C02' AND as_of_date = ?",
            [POINTS_AUDIENCE, dt.date.fromisoformat(AS_OF)]).fetchall()
    assert issued == [("C13", dt.date(2026, 5, 30), dt.date(2026, 6, 30))]
    assert holdout == [("holdout",)]
    # The message's file lists C13 (the treated member) only.
    message = (tmp_path / "exports" / POINTS_AUDIENCE / "generic_csv" / AS_OF
               / f"{POINTS_AUDIENCE}.csv").read_text()
    assert "C13" in message and "C02" not in message


def test_one_customer_withdrawing_consent_is_exactly_one_remove_on_the_next_export(
    holdout_pipeline
):
    tmp_path = holdout_pipeline
    folder = tmp_path / "exports" / "winback_inactive_email" / "generic_csv" / "2026-07-01"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["previous_export_as_of"] == AS_OF
    assert (manifest["adds"]["rows"], manifest["removes"]["rows"]) == (0, 1)
    assert manifest["removes"]["by_reason"] == {"not_contactable": 1}
    assert (folder / "winback_inactive_email_removes.csv").read_text().splitlines() == [
        "customer_id,email,removal_reason", "C13,ivy@example.com,not_contactable"]
    # The spell that ended is in the history with the run date it ended on.
    history = _rows(tmp_path, "SELECT customer_id, left_on FROM "
                              "activation.audience_membership_history "
                              "WHERE audience = 'winback_inactive_email'")
    assert history["C13"]["left_on"] == dt.date(2026, 7, 1)
    assert history["C02"]["left_on"] is None


def test_an_ad_list_below_the_platform_minimum_fails_the_step_after_the_other_files(
        pipeline, tmp_path, monkeypatch):
    """With config/platforms.yml's minimum of 100 (the tests run without it), the fixture's
    ad platform lists are too small: those files are not written, every other export is, and
    the step fails with one line per list (counts only)."""
    import shutil

    from platforms_fixture import PLATFORMS_FILE

    from orchestration.lib.asset_keys import export_key

    source, _ = pipeline
    shutil.copytree(source / "landing", tmp_path / "landing")
    shutil.copyfile(source / "warehouse.duckdb", tmp_path / "warehouse.duckdb")
    monkeypatch.setenv("WINBACK_PLATFORMS", str(PLATFORMS_FILE))
    config = audiences_for(load_settings())
    keys = [export_key(a.name, p) for a in config.audiences for p in a.platforms]
    keys += [export_key("do_not_contact", p) for p in config.suppression_audience.platforms]
    result = run_daily(tmp_path, AS_OF, asset_selection=keys, expect_success=False)
    assert not result.success
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    messages = sorted(e.step_failure_data.user_failure_data.description for e in failures)
    assert len(messages) == 2  # the audience exports' step and the suppression step
    assert "high_value_lapsed -> google_customer_match: 0 rows, below the platform's minimum " \
        "audience size of 100" in messages[0] + messages[1]
    assert "do_not_contact -> meta: 2 rows, below the platform's minimum audience size of " \
        "100" in messages[0] + messages[1]
    assert "@" not in "".join(messages)
    exports = tmp_path / "exports"
    for audience, platform in (("high_value_lapsed", "google_customer_match"),
                               ("high_value_lapsed", "meta"),
                               ("do_not_contact", "google_customer_match")):
        assert not (exports / audience / platform).exists()
    assert (exports / "high_value_lapsed" / "generic_csv" / AS_OF / "manifest.json").is_file()
    assert (exports / EXPORT / "winback_inactive_email.csv").is_file()


def test_no_customer_is_in_two_promotions_of_one_exclusion_group_on_a_day(holdout_pipeline):
    from orchestration.lib.audiences import load_audiences

    tmp_path = holdout_pipeline
    config = load_audiences(tmp_path / "audiences.yml")
    group_of = {name: g.name for g in config.exclusion_groups for name in g.audiences}
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT as_of_date, audience, customer_id "
                           "FROM activation.audience_membership_daily").fetchall()
        left_out = con.execute(
            "SELECT audience, customer_id, excluded_by FROM activation.audience_exclusions_daily "
            "WHERE exclusion_reason = 'exclusion_group'").fetchall()
    seen: dict[tuple, str] = {}
    for day, audience, customer in rows:
        if audience in group_of:
            key = (day, group_of[audience], customer)
            assert key not in seen, (key, seen.get(key), audience)
            seen[key] = audience
    # The groups did decide something: C02 and C13 (crossed 20 and 31 days before) qualify for
    # the points audience (widened to 40 days here) and the offer; the points come first.
    assert sorted(left_out) == [("winback_newly_inactive", c, POINTS_AUDIENCE)
                                for c in ("C02", "C02", "C13")]

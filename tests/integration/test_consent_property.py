"""Property: whatever the customers, consent events, suppressions and erasure requests, no row of
any audience's export file is unconsented, suppressed, erased, invalid or not its address's owner.

Each example runs the real code path: landing files -> ingest (lib/ingest) -> hygiene assets ->
every dbt model's SQL (compiled once per session by dbt, then executed in dependency order on a
fresh DuckDB, which takes a fraction of a second instead of a dbt invocation) -> the consent
dbt tests -> the audience export asset with its write-time gate, writing each audience's
generic CSV file (the one with customer ids; the gate acts on the members before any platform's
layout). The oracle is plain Python over the generated inputs, independent of the SQL under test.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
from dataclasses import replace
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from landing_fixture import write_csv_file

from orchestration.defs.activation import assets as activation
from orchestration.defs.dbt.args import dbt_launcher, dbt_vars
from orchestration.defs.hygiene.assets import email_checks, phone_checks
from orchestration.defs.ingest.loader import load_entity
from orchestration.defs.predictions.assets import (
    ACTIVITY,
    SPEND,
    customer_bgnbd,
    customer_bgnbd_holdout,
)
from orchestration.defs.resources import WinbackConfig
from orchestration.lib.audiences import AudienceConfig, audiences_for
from orchestration.lib.contacts import check_email
from orchestration.lib.contracts import CONTRACTS
from orchestration.lib.policies import policies_for
from orchestration.lib.settings import REPO_ROOT, load_settings
from orchestration.lib.warehouse import open_warehouse

pytestmark = [pytest.mark.integration, pytest.mark.pipeline_runs(2)]
AS_OF = dt.date(2026, 6, 30)
DB_NAME = "prop"  # compiled SQL names relations "prop"."<schema>"."<table>"


def _generic_exports(config: AudienceConfig) -> dg.AssetsDefinition:
    """The audience export asset of the generic CSV files alone: they carry the customer ids
    the oracle checks (the other platforms' files are the same members, hashed or renamed, and
    cost two thirds of each example's export step)."""
    audiences = tuple(replace(a, platforms=("generic_csv",))
                      for a in config.audiences if "generic_csv" in a.platforms)
    assert audiences
    return activation.build_audience_exports(replace(config, audiences=audiences))


EXPORT_ASSET = _generic_exports(audiences_for(load_settings()))

# Addresses chosen to collide: case and space variants of one mailbox, role, disposable, IDN,
# formula-prefixed and malformed ones.
EMAILS = [
    "ann@example.com", " ANN@Example.com ", "bob@example.org", "Bob@Example.org",
    "info@example.com", "noreply@example.org", "kim@mailinator.com", "user@bücher.de",
    "=cmd@example.com", "bad at example", "", "lee@example.net", "lee@example.net ",
    "pat@example.com", "sam@example.org", "max@example.net", "joe@example.com",
]


@pytest.fixture(scope="session")
def compiled_nodes(tmp_path_factory):
    """dbt's compiled SQL for every model and consent test, in dependency order."""
    work = tmp_path_factory.mktemp("compile")
    project = REPO_ROOT / "dbt_project"
    run_settings = load_settings(overrides={"WINBACK_AS_OF": AS_OF.isoformat(),
                                            "WINBACK_WAREHOUSE": str(work / f"{DB_NAME}.duckdb")})
    variables = dbt_vars(run_settings, policies_for(run_settings),
                         audiences_for(run_settings))
    subprocess.run(
        [dbt_launcher(), "compile", "--quiet", "--project-dir", str(project),
         "--profiles-dir", str(project), "--target-path", str(work / "target"),
         "--vars", json.dumps(variables)],
        check=True,
    )
    nodes = json.loads((work / "target" / "manifest.json").read_text())["nodes"]
    models = {k: n for k, n in nodes.items() if n["resource_type"] == "model"}
    ordered: list[dict] = []
    done: set[str] = set()

    def visit(unique_id: str) -> None:
        if unique_id in done or unique_id not in models:
            return
        for parent in models[unique_id]["depends_on"]["nodes"]:
            visit(parent)
        done.add(unique_id)
        ordered.append(models[unique_id])

    # Only what the exports need: the audience and contact models, the models the BG/NBD step
    # reads, and their ancestors.
    for model in ("contact_hygiene", "sync_audience_members", ACTIVITY.path[-1], SPEND.path[-1]):
        visit(f"model.winback.{model}")
    consent_tests = [
        n for n in nodes.values()
        if n["resource_type"] == "test" and n["original_file_path"].startswith("tests/consent/")
    ]
    assert len(consent_tests) >= 5
    return ordered, consent_tests


def _days(n: int) -> str:
    return (dt.datetime(2026, 6, 30, 12, tzinfo=dt.UTC) - dt.timedelta(days=n)).isoformat()


@st.composite
def populations(draw):
    n = draw(st.integers(min_value=1, max_value=12))
    ids = [f"P{i:02d}" for i in range(n)]
    customers = [
        (cid, "First", "Last", draw(st.sampled_from(EMAILS)), "", "GB", "",
         _days(draw(st.integers(400, 800))), "")
        for cid in ids
    ]
    # Most customers last bought 190-300 days ago (inactive), some recently (active).
    orders = [(f"O{cid}", cid, _days(draw(st.sampled_from([10, 190, 220, 300]))), "paid", "GBP",
               "10.00", "") for cid in ids]
    # Days before the as-of date; negative = after it (arrived after the audience's date).
    day = st.one_of(st.integers(min_value=-5, max_value=-1),
                    st.integers(min_value=0, max_value=500))
    # Most customers opted in long ago; later events may change that.
    opted_in_long_ago = [
        (cid, "email", "opted_in", 600) for cid in ids
        if draw(st.sampled_from([True, True, True, False]))
    ]
    # Some change their mind after the audience's date, before the file is written.
    late = [
        (cid, "email", draw(st.sampled_from(["opted_out", "opted_in"])),
         draw(st.integers(min_value=-5, max_value=-1)))
        for cid in ids if draw(st.sampled_from([False, False, True]))
    ]
    consent = opted_in_long_ago + late + draw(st.lists(
        st.tuples(st.sampled_from(ids), st.sampled_from(["email", "sms"]),
                  st.sampled_from(["opted_in", "opted_in", "opted_out"]), day),
        max_size=2 * n))
    suppressions = draw(st.lists(
        st.tuples(st.sampled_from(EMAILS[:8] + EMAILS[11:15]),
                  st.sampled_from(["hard_bounce", "spam_complaint", "unsubscribe", "manual"]),
                  day),
        max_size=3))
    erasures = draw(st.lists(st.tuples(st.sampled_from(ids), day), max_size=2))
    return customers, orders, consent, suppressions, erasures


def _write_landing(root: Path, population) -> None:
    customers, orders, consent, suppressions, erasures = population
    write_csv_file(root / "customers" / "c.csv", list(CONTRACTS["customers"].column_names),
                   customers)
    write_csv_file(root / "orders" / "o.csv", list(CONTRACTS["orders"].column_names), orders)
    write_csv_file(root / "consent_events" / "e.csv", ["customer_id", "channel", "status", "source",
                                               "occurred_at"],
           [(c, ch, s, "web", _days(d)) for c, ch, s, d in consent])
    write_csv_file(root / "suppressions" / "s.csv", ["email", "reason", "occurred_at"],
           [(e, r, _days(d)) for e, r, d in suppressions])
    write_csv_file(root / "erasure_requests" / "r.csv", ["customer_id", "requested_at"],
           [(c, _days(d)) for c, d in erasures])


@pytest.fixture(autouse=True)
def _as_of(monkeypatch):
    """Assets called directly run outside a partitioned run: the resource takes the date from
    WINBACK_AS_OF then."""
    monkeypatch.setenv("WINBACK_AS_OF", AS_OF.isoformat())


def _build(root: Path, compiled_nodes, instance: dg.DagsterInstance) -> WinbackConfig:
    """`instance`: the Dagster instance the assets run in (one per test: each new ephemeral
    instance costs ~0.1 s of CPU, several per example)."""
    models, consent_tests = compiled_nodes
    config = WinbackConfig(landing_dir=str(root / "landing"),
                           warehouse=str(root / f"{DB_NAME}.duckdb"),
                           export_dir=str(root / "exports"))
    with open_warehouse(root / f"{DB_NAME}.duckdb") as con:
        for contract in CONTRACTS.values():
            load_entity(con, contract, root / "landing")
    email_checks(dg.build_asset_context(instance=instance), winback=config)
    phone_checks(dg.build_asset_context(instance=instance), winback=config)
    # Models reading the BG/NBD output (dbt source `predictions`) run after that Python asset, as in
    # the Dagster job's second dbt step.
    after_statistics: set[str] = set()
    for node in models:
        parents = node["depends_on"]["nodes"]
        if any(p.startswith("source.winback.predictions.") or p in after_statistics
               for p in parents):
            after_statistics.add(node["unique_id"])
    for step in ("before", "after"):
        if step == "after":
            predicted = dg.materialize([customer_bgnbd, customer_bgnbd_holdout],
                                       resources={"winback": config},
                                       partition_key=AS_OF.isoformat(), instance=instance)
            assert predicted.success
        with open_warehouse(root / f"{DB_NAME}.duckdb") as con:
            for node in models:
                if (node["unique_id"] in after_statistics) != (step == "after"):
                    continue
                kind = "VIEW" if node["config"]["materialized"] == "view" else "TABLE"
                con.execute(f'CREATE SCHEMA IF NOT EXISTS "{node["schema"]}"')
                con.execute(f"CREATE OR REPLACE {kind} {node['relation_name']} AS "
                            f"{node['compiled_code']}")
    with open_warehouse(root / f"{DB_NAME}.duckdb") as con:
        for test in consent_tests:
            failures = con.execute(f"SELECT count(*) FROM ({test['compiled_code']})").fetchone()
            assert failures == (0,), test["name"]
    return config


def _oracle_violations(population, exported: list[dict]) -> list[str]:
    customers, _, consent, suppressions, erasures = population
    raw_email = {c[0]: c[3] for c in customers}
    created = {c[0]: c[7] for c in customers}
    erased = {c for c, _ in erasures}
    suppressed = {check_email(e).email_normalized for e, _, _ in suppressions} | {
        e.strip().lower() for e, _, _ in suppressions}
    problems = []
    emails_seen: set[str] = set()
    for row in exported:
        cid, email = row["customer_id"], row["email"]
        check = check_email(raw_email[cid])
        events = [(d, s) for c, ch, s, d in consent if c == cid and ch == "email"]
        latest_day = min((d for d, _ in events), default=None)  # fewest days before = latest
        latest = {s for d, s in events if d == latest_day}
        if cid in erased:
            problems.append(f"{cid} erased")
        if latest != {"opted_in"}:
            problems.append(f"{cid} without opted-in consent as its latest event")
        if email in suppressed:
            problems.append(f"{cid} suppressed")
        if not check.is_valid or check.is_role_address or check.is_disposable_domain:
            problems.append(f"{cid} invalid, role or disposable address")
        if check.email_normalized != email:
            problems.append(f"{cid} exported address is not its normalised address")
        # Erased customers are gone, so they own nothing.
        sharing = [c for c in raw_email
                   if c not in erased and check_email(raw_email[c]).email_normalized == email]
        if min(sharing, key=lambda c: (created[c], c)) != cid:
            problems.append(f"{cid} is not the owner of a shared address")
        if email in emails_seen:
            problems.append(f"{cid} address exported twice")
        emails_seen.add(email)
    return problems


def test_no_exported_row_is_unconsented_suppressed_erased_or_invalid(compiled_nodes, tmp_path):
    exported_rows: list[int] = []
    counter = iter(range(10_000))
    instance = dg.DagsterInstance.ephemeral()

    @settings(max_examples=25, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow])
    @given(populations())
    def check(population):
        root = tmp_path / f"example{next(counter)}"
        _write_landing(root / "landing", population)
        config = _build(root, compiled_nodes, instance)
        list(EXPORT_ASSET(dg.build_asset_context(instance=instance), winback=config))
        # Removes are not sent.
        for path in sorted((root / "exports").glob("*/generic_csv/*/*.csv")):
            if path.name.endswith("_removes.csv"):
                continue
            with path.open(encoding="utf-8", newline="") as handle:
                rows = list(csv.DictReader(handle))
            assert _oracle_violations(population, rows) == []
            exported_rows.append(len(rows))

    check()
    # The property is not vacuous: some examples did export people.
    assert sum(exported_rows) > 0


def test_the_compiled_models_match_the_dbt_build_on_the_hand_made_fixture(
    compiled_nodes, tmp_path
):
    """Guards the fast path above: executing the compiled SQL gives the same audience as the
    whole Dagster run does on tests/landing_fixture.py (C02 and C13)."""
    from landing_fixture import write_landing

    write_landing(tmp_path / "landing")
    config = _build(tmp_path, compiled_nodes, dg.DagsterInstance.ephemeral())
    with duckdb.connect(config.warehouse, read_only=True) as con:
        members = con.execute(
            "SELECT customer_id FROM activation.sync_audience_members "
            "WHERE audience = 'winback_inactive_email' ORDER BY 1").fetchall()
    assert members == [("C02",), ("C13",)]

"""The serving publication: the marts as Parquet and a DuckDB file readable by DuckDB 1.x, with a
manifest, swapped in as a whole, PII-free unless configured, published after every mart."""

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys

import duckdb
import pytest

from orchestration.defs.serving.assets import SERVING_WAREHOUSE
from orchestration.defs.serving.publish import (
    PERSONAL_NAME,
    STORAGE_VERSION,
    ServingConfigError,
    current_publication,
    publish,
    served_tables,
    stable_database_path,
)
from orchestration.lib.settings import SettingsError, load_settings

AS_OF = dt.date(2026, 6, 30)


def _node(name, schema, columns, personal=(), meta=None):
    return {
        "resource_type": "model", "name": name, "alias": name, "schema": schema,
        "description": f"{name} described", "config": {"meta": meta or {}},
        "columns": {c: {"name": c, "description": f"{c} described",
                        "config": {"meta": {"personal": True} if c in personal else {}}}
                    for c in columns},
    }


MANIFEST = {"nodes": {
    "model.winback.customer_activity": _node(
        "customer_activity", "activity", ["customer_id", "orders_count"], meta={"serving": True}),
    "model.winback.sync_audience_members": _node(
        "sync_audience_members", "activation", ["audience", "customer_id", "email", "first_name"],
        personal=["email", "first_name"], meta={"serving": True, "personal": True}),
    "model.winback.contact_hygiene": _node(
        "contact_hygiene", "contacts", ["customer_id", "email_normalized", "is_contactable_email"],
        personal=["email_normalized"], meta={"serving": True}),
    "model.winback.stg_crm__customers": _node(
        "stg_crm__customers", "staging", ["customer_id", "email"], personal=["email"]),
    "test.winback.not_null": {"resource_type": "test", "name": "not_null"},
}}


def _warehouse(path, customers=3):
    with duckdb.connect(str(path)) as con:
        for schema in ("activity", "activation", "contacts", "staging"):
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        con.execute("CREATE OR REPLACE TABLE activity.customer_activity AS SELECT 'C' || range "
                    "AS customer_id, range AS orders_count FROM range($1)", [customers])
        con.execute("CREATE OR REPLACE TABLE activation.sync_audience_members AS SELECT 'a' AS "
                    "audience, 'C1' AS customer_id, 'c1@example.org' AS email, "
                    "'Ann' AS first_name")
        con.execute("CREATE OR REPLACE TABLE contacts.contact_hygiene AS SELECT 'C1' AS "
                    "customer_id, 'c1@example.org' AS email_normalized, true AS "
                    "is_contactable_email")
        con.execute("CREATE OR REPLACE VIEW staging.stg_crm__customers AS "
                    "SELECT 'C1' AS customer_id, 'c1@example.org' AS email")


def _publish(warehouse, serving, *, personal_data=False, run_id="run00001", second=0):
    return publish(warehouse, serving, served_tables(MANIFEST, personal_data=personal_data),
                   as_of=AS_OF, run_id=run_id, personal_data=personal_data,
                   now=dt.datetime(2026, 7, 1, 6, 0, second, tzinfo=dt.UTC))


def _columns(database):
    with duckdb.connect(str(database), read_only=True) as con:
        return {(s, t, c) for s, t, c in con.execute(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns"
        ).fetchall()}


def test_by_default_only_served_models_without_personal_columns_are_published():
    tables = served_tables(MANIFEST, personal_data=False)
    assert [(t.qualified, [c.name for c in t.columns]) for t in tables] == [
        ("activity.customer_activity", ["customer_id", "orders_count"]),
        ("contacts.contact_hygiene", ["customer_id", "is_contactable_email"]),
    ]


def test_with_personal_data_configured_the_personal_models_and_columns_are_added():
    tables = served_tables(MANIFEST, personal_data=True)
    assert [(t.qualified, [c.name for c in t.columns]) for t in tables] == [
        ("activation.sync_audience_members", ["audience", "customer_id", "email", "first_name"]),
        ("activity.customer_activity", ["customer_id", "orders_count"]),
        ("contacts.contact_hygiene", ["customer_id", "email_normalized", "is_contactable_email"]),
    ]


def test_a_served_column_that_looks_personal_but_is_not_tagged_stops_the_publication():
    manifest = {"nodes": {"model.winback.m": _node(
        "m", "activity", ["customer_id", "phone_e164"], meta={"serving": True})}}
    with pytest.raises(ServingConfigError, match="m: column phone_e164 looks personal"):
        served_tables(manifest, personal_data=False)


def test_the_default_publication_of_the_real_dbt_project_has_no_personal_column():
    """Guards the allow-list declared in the marts' yml (meta serving/personal)."""
    from orchestration.defs.dbt.project import winback_project

    manifest = json.loads(winback_project.manifest_path.read_text())
    personal = {(n["schema"], n["alias"], c["name"])
                for n in manifest["nodes"].values() if n["resource_type"] == "model"
                for c in n["columns"].values() if c.get("config", {}).get("meta", {}).get(
                    "personal") or c.get("meta", {}).get("personal")}
    assert ("activation", "sync_audience_members", "email") in personal
    tables = served_tables(manifest, personal_data=False)
    served = {(t.schema, t.name, c.name) for t in tables for c in t.columns}
    assert {t.name for t in tables} >= {
        "customer_activity", "customer_inactivity_status", "customer_status_history",
        "customer_churn_monthly", "contact_hygiene_summary", "audience_sizes",
        "reactivation_outcomes", "reactivation_outcomes_by_variant",
        "metric_churn_rate_monthly", "metric_reactivation_rate_monthly",
        "metric_lift", "metric_contactable_share", "metric_revenue_at_risk"}
    assert not served & personal
    assert not {c for *_, c in served if PERSONAL_NAME.search(c)}
    assert not {t.schema for t in tables} & {"raw", "staging", "intermediate", "hygiene"}
    with_personal = served_tables(manifest, personal_data=True)
    assert {(t.schema, t.name, c.name) for t in with_personal for c in t.columns} >= personal


def test_a_publication_holds_parquet_a_duckdb_file_and_a_manifest_that_agree(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    _warehouse(warehouse)
    serving = tmp_path / "serving"
    publication = _publish(warehouse, serving)
    assert publication.id == "20260701T060000000000Z-run00001"
    assert (publication.tables, publication.rows, publication.personal_data) == (2, 4, False)
    folder = current_publication(serving)
    assert folder == publication.path
    manifest = json.loads((folder / "manifest.json").read_text())
    assert (manifest["as_of_date"], manifest["run_id"]) == ("2026-06-30", "run00001")
    assert manifest["database"]["storage_version"] == STORAGE_VERSION
    assert manifest["database"]["sha256"] == hashlib.sha256(
        (folder / "winback.duckdb").read_bytes()).hexdigest()
    for table in manifest["tables"]:
        parquet = folder / table["parquet"]["path"]
        assert table["parquet"]["sha256"] == hashlib.sha256(parquet.read_bytes()).hexdigest()
        assert duckdb.sql(f"SELECT count(*) FROM '{parquet}'").fetchall() == [(table["rows"],)]
    activity = manifest["tables"][0]
    assert activity["parquet"]["path"] == "parquet/activity.customer_activity.parquet"
    assert activity["columns"] == [
        {"name": "customer_id", "type": "VARCHAR", "description": "customer_id described"},
        {"name": "orders_count", "type": "BIGINT", "description": "orders_count described"}]
    with duckdb.connect(str(stable_database_path(serving)), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM activity.customer_activity").fetchone() == (3,)
        assert con.execute("SELECT comment FROM duckdb_tables() WHERE table_name = "
                           "'customer_activity'").fetchone() == ("customer_activity described",)
        (tags,) = con.execute("SELECT tags FROM duckdb_databases() WHERE NOT internal "
                              "AND database_name = 'winback'").fetchone()
    assert tags["storage_version"] == STORAGE_VERSION + "+"
    assert sorted(os.listdir(serving)) == ["current", "publications", "winback.duckdb"]


# The oldest DuckDB 1.x release that BI drivers still bundle and that installs from the local
# package cache in a couple of seconds.
DUCKDB_1 = "duckdb==1.1.3"
DUCKDB_1_READS = """
import json, sys, duckdb
serving, manifest = sys.argv[1], json.load(open(sys.argv[1] + "/current/manifest.json"))
con = duckdb.connect(serving + "/winback.duckdb", read_only=True)
for table in manifest["tables"]:
    name = table["schema"] + "." + table["name"]
    parquet = serving + "/current/" + table["parquet"]["path"]
    counts = {con.execute(f"SELECT count(*) FROM {name}").fetchone()[0],
              con.execute("SELECT count(*) FROM read_parquet(?)", [parquet]).fetchone()[0]}
    assert counts == {table["rows"]}, (name, counts)
print(duckdb.__version__)
"""


def test_duckdb_1_opens_the_serving_file_and_reads_the_parquet_files(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    _warehouse(warehouse)
    serving = tmp_path / "serving"
    _publish(warehouse, serving)
    venv = tmp_path / "duckdb1"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
         DUCKDB_1], capture_output=True, text=True)
    if install.returncode != 0:
        pytest.skip(f"{DUCKDB_1} cannot be installed here ({install.stderr.strip()[-200:]}); "
                    "the storage version check of the publication still runs")
    read = subprocess.run([str(python), "-c", DUCKDB_1_READS, str(serving)],
                          capture_output=True, text=True)
    assert read.returncode == 0, read.stderr[-3000:]
    assert read.stdout.strip() == DUCKDB_1.split("==")[1]


def test_no_personal_value_reaches_the_default_publication_and_personal_ones_are_owner_only(
        tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    _warehouse(warehouse)
    serving = tmp_path / "serving"
    _publish(warehouse, serving)
    folder = current_publication(serving)
    assert not [p for p in folder.rglob("*") if p.is_file() and b"c1@example.org" in p.read_bytes()]
    assert ("contacts", "contact_hygiene", "email_normalized") not in _columns(
        folder / "winback.duckdb")
    assert {p.stat().st_mode & 0o777 for p in folder.rglob("*")} == {0o644, 0o755}
    personal = _publish(warehouse, serving, personal_data=True, second=1)
    assert {("activation", "sync_audience_members", "email"),
            ("contacts", "contact_hygiene", "email_normalized")} <= _columns(
        stable_database_path(serving))
    assert {p.stat().st_mode & 0o777 for p in (personal.path, *personal.path.rglob("*"))} == {
        0o600, 0o700}


def test_an_open_reader_keeps_its_publication_and_a_new_reader_sees_the_new_one(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    _warehouse(warehouse, 3)
    serving = tmp_path / "serving"
    _publish(warehouse, serving)
    with duckdb.connect(str(stable_database_path(serving)), read_only=True) as reader:
        _warehouse(warehouse, 5)
        _publish(warehouse, serving, second=1)
        _publish(warehouse, serving, second=2)  # prunes the one the reader opened
        assert reader.execute("SELECT count(*) FROM activity.customer_activity").fetchone() == (3,)
        # Another process (one process shares a database instance per path).
        fresh = subprocess.run(
            [sys.executable, "-c", "import duckdb, sys; print(duckdb.connect(sys.argv[1], "
             "read_only=True).execute('SELECT count(*) FROM activity.customer_activity')"
             ".fetchone()[0])", str(stable_database_path(serving))],
            capture_output=True, text=True, check=True)
        assert fresh.stdout.strip() == "5"


def test_older_publications_are_pruned_but_the_previous_one_is_kept(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    _warehouse(warehouse)
    serving = tmp_path / "serving"
    ids = [_publish(warehouse, serving, second=s).id for s in range(3)]
    assert sorted(os.listdir(serving / "publications")) == ids[1:]
    assert current_publication(serving).name == ids[2]


def test_a_failed_publication_leaves_the_current_one_and_no_temp_folder(tmp_path, monkeypatch):
    warehouse = tmp_path / "warehouse.duckdb"
    _warehouse(warehouse)
    serving = tmp_path / "serving"
    first = _publish(warehouse, serving)

    def full_disk(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "rename", full_disk)
    with pytest.raises(OSError):
        _publish(warehouse, serving, second=1)
    assert os.listdir(serving / "publications") == [first.id]
    assert current_publication(serving) == first.path


def test_a_serving_file_from_before_publications_is_replaced_by_the_stable_link(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    _warehouse(warehouse)
    serving = tmp_path / "serving"
    serving.mkdir()
    (serving / "winback.duckdb").write_bytes(b"an old whole-warehouse copy")
    _publish(warehouse, serving)
    assert os.readlink(serving / "winback.duckdb") == "current/winback.duckdb"


def test_temp_folders_of_killed_writers_are_swept_and_a_live_writers_kept(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    _warehouse(warehouse)
    publications = tmp_path / "serving" / "publications"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (publications / f".tmp-{dead}-20260701T050000000000Z-run0").mkdir(parents=True)
    live = publications / f".tmp-{os.getppid()}-20260701T050000000000Z-run1"
    live.mkdir()
    publication = _publish(warehouse, tmp_path / "serving")
    assert sorted(os.listdir(publications)) == [live.name, publication.id]


@pytest.mark.parametrize(("value", "expected"), [
    (None, False), ("false", False), ("0", False), ("true", True), (" TRUE ", True),
    ("yes", True),
])
def test_personal_data_in_the_serving_copy_is_a_setting_off_by_default(value, expected):
    environ = {} if value is None else {"WINBACK_SERVING_PERSONAL_DATA": value}
    assert load_settings(environ=environ).serving_personal_data is expected


def test_a_malformed_personal_data_setting_is_a_clear_error():
    with pytest.raises(SettingsError, match="WINBACK_SERVING_PERSONAL_DATA must be true or false"):
        load_settings(environ={"WINBACK_SERVING_PERSONAL_DATA": "maybe"})


def test_the_publication_follows_every_mart_and_the_models_it_needs():
    from orchestration.definitions import defs
    from orchestration.defs.dbt.keys import dbt_model_key
    from orchestration.defs.dbt.project import winback_project
    from orchestration.defs.report.assets import REPORT

    graph = defs.resolve_asset_graph()
    upstream = graph.get(SERVING_WAREHOUSE).parent_keys
    ancestors = set()
    frontier = set(upstream)
    while frontier:
        key = frontier.pop()
        ancestors.add(key)
        frontier |= set(graph.get(key).parent_keys) - ancestors
    manifest = json.loads(winback_project.manifest_path.read_text())
    marts = {node["name"] for node in manifest["nodes"].values()
             if node["resource_type"] == "model" and node["fqn"][1] == "marts"}
    assert marts
    assert {m for m in marts if dbt_model_key(m) not in ancestors} == set()
    # Only the report, which reads the publication, comes after it.
    assert graph.get(SERVING_WAREHOUSE).child_keys == {REPORT}

"""The serving copy: readers' DuckDB file, readable by DuckDB 1.x, replaced atomically, and
published only after every mart was rebuilt."""

import json
import os
import subprocess
import sys

import duckdb
import pytest

from orchestration.defs.serving.assets import SERVING_WAREHOUSE
from orchestration.defs.serving.publish import STORAGE_VERSION, publish_serving_copy


def _warehouse(path, orders):
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS raw")
        con.execute("CREATE SCHEMA IF NOT EXISTS staging")
        con.execute("CREATE OR REPLACE TABLE raw.orders AS SELECT range AS id FROM range($1)",
                    [orders])
        con.execute("CREATE OR REPLACE VIEW staging.stg_orders AS SELECT * FROM raw.orders")


def test_the_copy_holds_tables_and_views_in_the_storage_format_duckdb_1_reads(tmp_path):
    warehouse = tmp_path / "wh" / "winback.duckdb"
    warehouse.parent.mkdir()
    _warehouse(warehouse, 3)
    copy = publish_serving_copy(warehouse, tmp_path / "serving")
    assert copy.path == tmp_path / "serving" / "winback.duckdb"
    assert (copy.tables, copy.views) == (1, 1)
    with duckdb.connect(str(copy.path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM staging.stg_orders").fetchone() == (3,)
        (tags,) = con.execute(
            "SELECT tags FROM duckdb_databases() WHERE database_name = 'winback'").fetchone()
    assert tags["storage_version"] == STORAGE_VERSION + "+"
    assert sorted(os.listdir(tmp_path / "serving")) == ["winback.duckdb"]


def test_an_open_reader_keeps_the_complete_old_copy_and_a_new_one_sees_the_new(tmp_path):
    warehouse = tmp_path / "winback.duckdb"
    _warehouse(warehouse, 3)
    copy = publish_serving_copy(warehouse, tmp_path / "serving")
    with duckdb.connect(str(copy.path), read_only=True) as reader:
        _warehouse(warehouse, 5)
        publish_serving_copy(warehouse, tmp_path / "serving")
        assert reader.execute("SELECT count(*) FROM staging.stg_orders").fetchone() == (3,)
        # Another process (one process shares a database instance per path).
        fresh = subprocess.run(
            [sys.executable, "-c", "import duckdb, sys; print(duckdb.connect(sys.argv[1], "
             "read_only=True).execute('SELECT count(*) FROM raw.orders').fetchone()[0])",
             str(copy.path)], capture_output=True, text=True, check=True)
        assert fresh.stdout.strip() == "5"


def test_a_failed_copy_leaves_the_previous_copy_and_no_temp_file(tmp_path, monkeypatch):
    warehouse = tmp_path / "winback.duckdb"
    _warehouse(warehouse, 3)
    serving = tmp_path / "serving"
    publish_serving_copy(warehouse, serving)
    _warehouse(warehouse, 5)

    def full_disk(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError):
        publish_serving_copy(warehouse, serving)
    assert sorted(os.listdir(serving)) == ["winback.duckdb"]
    with duckdb.connect(str(serving / "winback.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw.orders").fetchone() == (3,)


def test_a_temp_copy_left_by_a_killed_writer_is_swept_and_a_live_writers_kept(tmp_path):
    warehouse = tmp_path / "winback.duckdb"
    _warehouse(warehouse, 1)
    serving = tmp_path / "serving"
    serving.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (serving / f".winback.duckdb.{dead}.tmp").write_bytes(b"half a copy")
    live = serving / f".winback.duckdb.{os.getppid()}.tmp"
    live.write_bytes(b"being written")
    publish_serving_copy(warehouse, serving)
    assert sorted(os.listdir(serving)) == [live.name, "winback.duckdb"]


def test_the_copy_is_published_after_every_mart_and_the_models_it_needs():
    from orchestration.definitions import defs
    from orchestration.defs.dbt.keys import dbt_model_key
    from orchestration.defs.dbt.project import winback_project

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
    assert not graph.get(SERVING_WAREHOUSE).child_keys

"""The landing sensor starts the daily job for new complete content, and only then."""

import datetime as dt
import os
import subprocess
import sys
import time

import dagster as dg
import pytest

from orchestration.defs.ingest.loader import load_entity
from orchestration.defs.ingest.sensors import landing_files_sensor
from orchestration.defs.resources import WinbackConfig
from orchestration.lib.contracts import CONTRACTS
from orchestration.lib.run_config import previous_day
from orchestration.lib.warehouse import open_warehouse

ORDERS = "order_id,customer_id,ordered_at,status,currency,amount\nO1,C1,2024-03-01,paid,GBP,1\n"


def _write(path, text, age_seconds=3600):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    past = time.time() - age_seconds
    os.utime(path, (past, past))


def _tick(tmp_path, cursor=None):
    with dg.build_sensor_context(
        cursor=cursor,
        resources={"winback": WinbackConfig(landing_dir=str(tmp_path / "landing"),
                                            warehouse=str(tmp_path / "wh.duckdb"))},
    ) as context:
        return landing_files_sensor(context), context


def _ingest(tmp_path):
    with open_warehouse(tmp_path / "wh.duckdb") as con:
        load_entity(con, CONTRACTS["orders"], tmp_path / "landing")


def test_a_new_complete_file_starts_one_run_and_a_loaded_one_none(tmp_path):
    _write(tmp_path / "landing" / "orders" / "a.csv", ORDERS)
    result, context = _tick(tmp_path)
    assert isinstance(result, dg.SensorResult)
    [request] = result.run_requests
    assert request.partition_key == previous_day(dt.datetime.now(dt.UTC)).isoformat()
    again, _ = _tick(tmp_path, cursor=result.cursor)
    assert again.run_requests[0].run_key == request.run_key  # deduplicated by Dagster
    _ingest(tmp_path)
    after_load, _ = _tick(tmp_path, cursor=result.cursor)
    assert isinstance(after_load, dg.SkipReason)


def test_a_renamed_copy_of_loaded_content_starts_no_run(tmp_path):
    _write(tmp_path / "landing" / "orders" / "a.csv", ORDERS)
    _ingest(tmp_path)
    _write(tmp_path / "landing" / "orders" / "copy-of-a.csv", ORDERS)
    result, _ = _tick(tmp_path)
    assert isinstance(result, dg.SkipReason)
    _write(tmp_path / "landing" / "orders" / "b.csv", ORDERS + "O2,C1,2024-03-02,paid,GBP,1\n")
    result, _ = _tick(tmp_path)
    assert len(result.run_requests) == 1


def test_in_flight_and_just_modified_files_wait_for_a_later_tick(tmp_path):
    _write(tmp_path / "landing" / "orders" / "a.csv.part", ORDERS)
    _write(tmp_path / "landing" / "orders" / "b.csv.tmp", ORDERS)
    _write(tmp_path / "landing" / "orders" / "c.csv", ORDERS, age_seconds=0)
    result, _ = _tick(tmp_path)
    assert isinstance(result, dg.SkipReason)
    assert "1 still being written" in result.skip_message


def test_the_sensor_waits_while_a_run_holds_the_warehouse(tmp_path):
    _write(tmp_path / "landing" / "orders" / "a.csv", ORDERS)
    _ingest(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
         "time.sleep(60)", str(tmp_path / "wh.duckdb")],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        result, _ = _tick(tmp_path)
        assert isinstance(result, dg.SkipReason)
        assert "in use" in result.skip_message
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("name", ["notes.txt", ".hidden.csv"])
def test_files_that_are_not_landing_data_never_start_a_run(tmp_path, name):
    _write(tmp_path / "landing" / "orders" / name, ORDERS)
    result, _ = _tick(tmp_path)
    assert isinstance(result, dg.SkipReason)

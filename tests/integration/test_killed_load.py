"""A load killed with SIGKILL mid-file leaves no partial rows; the rerun gives the same result
as a load that was never interrupted."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import duckdb
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.pipeline_runs(1)]

HEADER = "order_id,customer_id,ordered_at,status,currency,amount,updated_at"
CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import orchestration.defs.ingest.loader as ingest
    from orchestration.lib.contracts import CONTRACTS
    from orchestration.lib.warehouse import open_warehouse

    real_load_file = ingest._load_file

    def announce(con, path, *args, **kwargs):
        print("loading", path.name, flush=True)
        return real_load_file(con, path, *args, **kwargs)

    ingest._load_file = announce
    with open_warehouse(Path(sys.argv[1])) as con:
        ingest.load_entity(con, CONTRACTS["orders"], Path(sys.argv[2]), max_reject_share=0.05)
    print("done", flush=True)
    """
)


def _write_drop(landing, rows):
    folder = landing / "orders"
    folder.mkdir(parents=True)
    (folder / "a_small.csv").write_text(HEADER + "\nS1,C1,2024-01-01,paid,GBP,1.00,\n")
    # Every 1000th row has a bad amount, so the load writes quarantine rows too.
    duckdb.sql(
        f"COPY (SELECT 'O' || i AS order_id, 'C' || (i % 5000) AS customer_id, "
        f"(TIMESTAMP '2024-01-01' + to_minutes(i))::VARCHAR AS ordered_at, 'paid' AS status, "
        f"'GBP' AS currency, CASE WHEN i % 1000 = 0 THEN 'x' ELSE (i % 100)::VARCHAR END "
        f"AS amount, NULL AS updated_at FROM range({rows}) t(i)) "
        f"TO '{folder / 'b_large.csv'}' (HEADER, DELIMITER ',')"
    )


def _load(warehouse, landing):
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(warehouse), str(landing)],
        stdout=subprocess.PIPE, text=True, cwd=os.getcwd(),
    )


TABLES = {"orders": "_loaded_at", "quarantine": "loaded_at", "ingest_ledger": "loaded_at"}


def _counts(warehouse):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {t: con.execute(f"SELECT count(*) FROM raw.{t}").fetchone()[0] for t in TABLES}


def _differences(left, right):
    """Rows (without load timestamps) in one warehouse and not the other, per table."""
    con = duckdb.connect()
    con.execute(f"ATTACH '{left}' AS l (READ_ONLY)")
    con.execute(f"ATTACH '{right}' AS r (READ_ONLY)")
    out = {}
    for table, stamp in TABLES.items():
        a = f"SELECT * EXCLUDE ({stamp}) FROM l.raw.{table}"
        b = f"SELECT * EXCLUDE ({stamp}) FROM r.raw.{table}"
        out[table] = con.execute(
            f"SELECT (SELECT count(*) FROM ({a} EXCEPT ALL {b})) "
            f"+ (SELECT count(*) FROM ({b} EXCEPT ALL {a}))"
        ).fetchone()[0]
    con.close()
    return out


def test_a_load_killed_mid_file_leaves_no_partial_rows_and_the_rerun_matches(tmp_path):
    landing = tmp_path / "landing"
    _write_drop(landing, rows=400_000)
    killed = tmp_path / "killed.duckdb"
    child = _load(killed, landing)
    assert child.stdout.readline().split() == ["loading", "a_small.csv"]
    assert child.stdout.readline().split() == ["loading", "b_large.csv"]
    time.sleep(0.5)
    assert child.poll() is None, "the load finished before the kill: make the file larger"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL

    # The committed small file only: nothing of the large one, in any table.
    assert _counts(killed) == {"orders": 1, "quarantine": 0, "ingest_ledger": 1}

    rerun = _load(killed, landing)
    assert rerun.wait(timeout=300) == 0
    uninterrupted = _load(tmp_path / "clean.duckdb", landing)
    assert uninterrupted.wait(timeout=300) == 0
    assert _counts(killed) == {"orders": 1 + 400_000 - 400, "quarantine": 400, "ingest_ledger": 2}
    assert _differences(killed, tmp_path / "clean.duckdb") == dict.fromkeys(TABLES, 0)

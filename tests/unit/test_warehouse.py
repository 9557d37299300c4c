import duckdb
import pytest

from orchestration.lib.settings import load_duckdb_settings
from orchestration.lib.warehouse import connect

# A hash aggregate over 3 million distinct keys needs far more than 64 MB of memory.
HEAVY = "SELECT count(*) FROM (SELECT i, count(*) FROM range(3000000) t(i) GROUP BY i)"


def _setting(con, name):
    return con.execute("SELECT current_setting(?)", [name]).fetchone()[0]


def test_a_connection_gets_the_memory_limit_threads_and_spill_folder_of_the_environment(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("WINBACK_DUCKDB_MEMORY_LIMIT", "300MB")
    monkeypatch.setenv("WINBACK_DUCKDB_THREADS", "1")
    monkeypatch.delenv("WINBACK_DUCKDB_TEMP_DIR", raising=False)
    con = connect(tmp_path / "wh.duckdb")
    try:
        assert _setting(con, "threads") == 1
        assert _setting(con, "memory_limit") in {"286.1 MiB", "300.0 MB"}
        assert _setting(con, "temp_directory") == str(tmp_path / "wh.duckdb.tmp")
        assert _setting(con, "TimeZone") == "UTC"
    finally:
        con.close()


def test_a_query_over_the_memory_limit_spills_to_the_temp_folder_rather_than_failing(tmp_path):
    limits = load_duckdb_settings({"WINBACK_DUCKDB_MEMORY_LIMIT": "64MB",
                                   "WINBACK_DUCKDB_THREADS": "1",
                                   "WINBACK_DUCKDB_TEMP_DIR": str(tmp_path / "spill")})
    # The same limit with spilling switched off: the limit binds, so the query fails.
    with (
        duckdb.connect(str(tmp_path / "control.duckdb"),
                       config={"memory_limit": "64MB", "threads": 1, "temp_directory": ""}) as con,
        pytest.raises(duckdb.OutOfMemoryException),
    ):
        con.execute(HEAVY).fetchone()
    con = connect(tmp_path / "wh.duckdb", limits=limits)
    try:
        assert con.execute(HEAVY).fetchone() == (3000000,)
        assert any((tmp_path / "spill").iterdir())  # it spilled where configured
    finally:
        con.close()


def test_a_second_connection_after_a_spill_opens_and_spills_again(tmp_path):
    """A run opens the warehouse many times in one process (ingest, hygiene, GX, exports); once a
    query has spilled, DuckDB refuses to SET the spill folder again, even to the same folder."""
    limits = load_duckdb_settings({"WINBACK_DUCKDB_MEMORY_LIMIT": "64MB",
                                   "WINBACK_DUCKDB_THREADS": "1"})
    first = connect(tmp_path / "wh.duckdb", limits=limits)
    try:
        assert first.execute(HEAVY).fetchone() == (3000000,)
        assert any((tmp_path / "wh.duckdb.tmp").iterdir())
        second = connect(tmp_path / "wh.duckdb", limits=limits)
        try:
            assert second.sql(HEAVY).to_arrow_table().num_rows == 1
        finally:
            second.close()
    finally:
        first.close()


def _opened_by_another_process(path) -> bool:
    import subprocess
    import sys
    probe = (f"import duckdb; duckdb.connect({str(path)!r}, read_only=True).close()")
    return subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0


def test_during_a_run_connections_share_one_open_warehouse_released_for_other_processes(
    tmp_path, duckdb_databases_started
):
    """`winback run` keeps the warehouse open between its steps (a new DuckDB database costs
    ~20 ms of CPU; a run opened ~25), and closes it where dbt's process must open the file."""
    from orchestration.lib.warehouse import kept_open, open_warehouse, release

    path = tmp_path / "wh.duckdb"
    with open_warehouse(path) as con:
        con.execute("CREATE TABLE t AS SELECT 1 AS i")
    started = duckdb_databases_started
    started.clear()  # the table above is set-up, not the run
    with kept_open(path):
        for read_only in (False, True, False):
            with open_warehouse(path, read_only=read_only) as con:
                con.execute("INSERT INTO t VALUES (2)")
                assert _setting(con, "TimeZone") == "UTC"
        assert started == [str(path)]  # one database for three connections
        assert not _opened_by_another_process(path)  # held between the steps
        release(path)
        assert _opened_by_another_process(path)  # as dbt's process does
        with open_warehouse(path, read_only=True) as con:
            assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 4
        assert started == [str(path)] * 2
    assert _opened_by_another_process(path)  # closed when the run ends
    with open_warehouse(path, read_only=True) as con:  # outside a run: a connection each
        assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 4
    assert started == [str(path)] * 3

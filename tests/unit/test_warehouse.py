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

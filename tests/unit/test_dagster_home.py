"""The project's Dagster instance: runs recorded through the pooled event log storage are what a
second process (the UI) reads, and an operator's own dagster.yaml is never overwritten."""

from __future__ import annotations

import dagster as dg
import pytest

from orchestration.lib.dagster_home import (
    OPEN_RUN_SHARDS,
    PooledSqliteEventLogStorage,
    ensure_dagster_yaml,
)


@dg.asset(check_specs=[dg.AssetCheckSpec("rows_positive", asset="counted")])
def counted():
    yield dg.Output(3, metadata={"dagster/row_count": 3})
    yield dg.AssetCheckResult(passed=True, check_name="rows_positive")


@pytest.fixture
def home(tmp_path, monkeypatch):
    ensure_dagster_yaml(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    return tmp_path


def test_the_instance_yaml_selects_the_pooled_storage_and_one_run_at_a_time(home):
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        # what the daemon that dequeues runs reads: a UI backfill runs its dates one by one
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1
        assert not instance.telemetry_enabled
        assert not instance.nux_enabled  # no sign-up dialog over the UI on first visit


def test_runs_written_through_the_pooled_storage_are_read_by_another_instance(home):
    with dg.DagsterInstance.get() as writer:
        for _ in range(3):  # more runs than the storage keeps open
            assert dg.materialize([counted], instance=writer).success
        run_ids = [r.run_id for r in writer.get_runs()]
        assert len(writer.event_log_storage._engines) <= OPEN_RUN_SHARDS + 1
        with dg.DagsterInstance.from_ref(writer.get_ref()) as reader:  # as the UI would
            latest = reader.get_latest_materialization_event(dg.AssetKey("counted"))
            assert latest.asset_materialization.metadata["dagster/row_count"].value == 3
            assert {r.run_id for r in reader.get_runs()} == set(run_ids)
            for run_id in run_ids:
                kinds = {e.dagster_event_type for e in reader.all_logs(run_id)}
                assert dg.DagsterEventType.ASSET_MATERIALIZATION in kinds
                assert dg.DagsterEventType.ASSET_CHECK_EVALUATION in kinds
                assert dg.DagsterEventType.RUN_SUCCESS in kinds
            check = reader.event_log_storage.get_latest_asset_check_execution_by_key(
                [dg.AssetCheckKey(dg.AssetKey("counted"), "rows_positive")])
            assert check[dg.AssetCheckKey(dg.AssetKey("counted"), "rows_positive")].status.value \
                == "SUCCEEDED"


def test_an_existing_dagster_yaml_is_left_as_the_operator_wrote_it(tmp_path):
    own = "telemetry:\n  enabled: true\n"
    (tmp_path / "dagster.yaml").write_text(own)
    ensure_dagster_yaml(tmp_path)
    assert (tmp_path / "dagster.yaml").read_text() == own


def test_the_pooled_storage_commits_without_an_fsync_per_event_in_wal_mode(home):
    with dg.DagsterInstance.get() as instance:
        assert dg.materialize([counted], instance=instance).success
        storage = instance.event_log_storage
        with storage.index_connection() as conn:
            journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
            synchronous = conn.exec_driver_sql("PRAGMA synchronous").scalar()
    assert (journal, synchronous) == ("wal", 1)  # 1 = NORMAL (SQLite's default, FULL, is 2)


@dg.asset(check_specs=[dg.AssetCheckSpec(f"check_{i}", asset="checked") for i in range(5)])
def checked():
    yield dg.Output(1)
    for i in range(5):
        yield dg.AssetCheckResult(passed=True, check_name=f"check_{i}")


def test_asset_check_events_do_not_open_the_index_database_each(home, monkeypatch):
    """Dagster asks `has_table` before storing every asset check event (two per dbt test) and
    its SQLite storage answers with a new engine and connection each time; the pooled storage
    asks the file once per table."""
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

    asked: list[str] = []
    file_answer = SqliteEventLogStorage.has_table

    def counting(self, table_name):
        asked.append(table_name)
        return file_answer(self, table_name)

    monkeypatch.setattr(SqliteEventLogStorage, "has_table", counting)
    with dg.DagsterInstance.get() as instance:
        for _ in range(2):
            assert dg.materialize([checked], instance=instance).success
        executions = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey("checked"), f"check_{i}") for i in range(5)])
    assert {e.status.value for e in executions.values()} == {"SUCCEEDED"}
    assert len(executions) == 5
    assert asked.count("asset_check_executions") == 1  # 20 check events stored

"""The Dagster instance that `winback` and `make ui` keep runs in: its dagster.yaml, and an
event log storage that keeps its SQLite connections open.

Dagster's SQLite event log creates an engine and a new connection for every event it stores and
closes it after one insert. Closing the last connection to a WAL database checkpoints it (an
fsync), so each event cost ~10 ms of CPU and 20-100 ms of wall time on a shared 2-core machine;
a daily run stores ~670 events (one planned and one stored event per dbt model and test), which
made the event log about a third of a warm run on tiny data. `PooledSqliteEventLogStorage`
stores the same rows in the same files (the UI and `dagster` read them as before) through one
engine per database file whose connection stays open, so the WAL is checkpointed as it fills,
not after every event, and commits without an fsync each (`synchronous=NORMAL`, safe in WAL
mode against a crash of the process).

Every asset check event (two per dbt data test, ~290 per daily run) also asks whether the index
database has the asset check table (`supports_asset_checks`), and Dagster's SQLite storage
answers with a new SQLAlchemy engine and a new connection each time (~3 ms of CPU idle, 17 ms
wall at load 9). Here a table once seen is remembered (the first question per table still goes
to the file): migrations add tables, and only `wipe` removes them.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as db
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from sqlalchemy.engine import Connection, Engine

INDEX_SHARD = "index"
# Run databases kept open besides the index: a backfill in one process writes one run at a time.
OPEN_RUN_SHARDS = 2


def _wal_without_fsync_per_commit(dbapi_connection, _record) -> None:
    # In WAL mode, NORMAL syncs at checkpoints rather than at every commit: a crash of the
    # process loses nothing and the database stays consistent; only a power cut can lose the
    # last events written. FULL (SQLite's default) spent ~8 ms per stored event in fsync.
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage (one database per run plus the index) with one engine per file,
    kept open. Engines made before a fork are never used by the child (SQLite connections must
    not cross a fork); the least recently used run databases are closed beyond a few."""

    def __init__(self, base_dir: str, inst_data=None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_pid = os.getpid()
        self._tables_seen: set[str] = set()
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> PooledSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        if self._engines_pid != os.getpid():
            self._engines = OrderedDict()  # the parent's connections stay the parent's
            self._engines_pid = os.getpid()
        engine = self._engines.get(shard)
        if engine is not None:
            self._engines.move_to_end(shard)
            return engine
        engine = db.create_engine(
            self.conn_string_for_shard(shard), pool_size=1, max_overflow=4,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
        )
        db.event.listen(engine, "connect", _wal_without_fsync_per_commit)
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        self._engines[shard] = engine
        runs = [name for name in self._engines if name != INDEX_SHARD]
        for stale in runs[:-OPEN_RUN_SHARDS]:
            self._engines.pop(stale).dispose()
        return engine

    @contextlib.contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock, self._engine(shard).connect() as conn, conn.begin():
            yield conn

    def has_table(self, table_name: str) -> bool:
        if table_name in self._tables_seen:
            return True
        present = super().has_table(table_name)
        if present:
            self._tables_seen.add(table_name)
        return present

    def _close_engines(self) -> None:
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()

    def wipe(self) -> None:
        self._close_engines()
        self._tables_seen.clear()
        super().wipe()

    def dispose(self) -> None:
        self._close_engines()
        super().dispose()


INSTANCE_YAML = """\
telemetry:
  enabled: false
# No first-visit "Join the Dagster community" sign-up dialog over the UI: it loads a form from
# dagster.io (unreachable where the pipeline usually runs) and covers the page a second after
# it opens.
nux:
  enabled: false
# One run in progress at a time: a backfill from the UI then runs its dates in the order it
# queued them, instead of several runs waiting on the warehouse's run lock at once.
concurrency:
  runs:
    max_concurrent_runs: 1
# Dagster's SQLite event log with its connections kept open (orchestration/lib/dagster_home.py):
# the same files, without a connection and a WAL checkpoint per stored event.
event_log_storage:
  module: orchestration.lib.dagster_home
  class: PooledSqliteEventLogStorage
  config:
    base_dir: {base_dir}
"""


def ensure_dagster_yaml(home: Path) -> Path:
    """Write `home`/dagster.yaml for the project's instance unless one exists (an operator's own
    configuration wins); returns its path."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / "dagster.yaml"
    if not path.exists():
        # Where Dagster's default SQLite storage keeps the event log, so runs recorded before
        # this configuration stay visible.
        base_dir = (home / "history" / "runs").resolve()
        path.write_text(INSTANCE_YAML.format(base_dir=json.dumps(str(base_dir))),
                        encoding="utf-8")
    return path

"""Landing files are hashed once, not on every run: the loader and the consent gate take a file's
SHA-256 from `raw.landing_file_hashes` while the file system says it is the same version, and
read it again when anything could have changed it (orchestration/lib/landing.py)."""

from __future__ import annotations

import hashlib
import os

import duckdb
import pytest
from landing_fixture import write_landing

from orchestration.lib import landing
from orchestration.lib.contracts import CONTRACTS
from orchestration.lib.landing import HASH_CACHE, landing_sha256s, read_unloaded_rows


@pytest.fixture
def reads(monkeypatch):
    """The files landing.py reads to hash them, in order."""
    read = []
    real = landing.file_sha256

    def counting(path):
        read.append(path.name)
        return real(path)

    monkeypatch.setattr(landing, "file_sha256", counting)
    return read


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_unchanged_file_is_read_once_and_a_rewrite_keeping_size_and_times_is_read_again(
        tmp_path, reads, monkeypatch):
    monkeypatch.setattr(landing, "RACY_NS", 0)  # the files here were written just now
    old, new = tmp_path / "a.csv", tmp_path / "b.csv"
    old.write_text("customer_id\nC01\n")
    new.write_text("customer_id\nC02\n")
    con = duckdb.connect()
    first = landing_sha256s(con, [old, new])
    assert [sha for sha, _ in first] == [_sha(old), _sha(new)] and reads == ["a.csv", "b.csv"]
    assert first[0][1] == landing.FileStamp.of(old)
    assert [sha for sha, _ in landing_sha256s(con, [old, new])] == [_sha(old), _sha(new)]
    assert reads == ["a.csv", "b.csv"]  # both from the cache

    # The same size and modification time, other content: the change time moved.
    stat = old.stat()
    old.write_text("customer_id\nC09\n")
    os.utime(old, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert old.stat().st_size == stat.st_size and old.stat().st_mtime_ns == stat.st_mtime_ns
    assert landing_sha256s(con, [old])[0][0] == _sha(old) != first[0][0]
    assert reads == ["a.csv", "b.csv", "a.csv"]
    # Replaced by another file under the same name (a new inode).
    (tmp_path / "c.tmp").write_text("customer_id\nC02\n")
    os.replace(tmp_path / "c.tmp", new)
    assert landing_sha256s(con, [new])[0][0] == _sha(new)
    assert reads[-1] == "b.csv"


def test_a_hash_taken_within_the_clock_tick_of_the_last_write_is_not_trusted(tmp_path, reads):
    path = tmp_path / "a.csv"
    path.write_text("customer_id\nC01\n")
    con = duckdb.connect()
    landing_sha256s(con, [path])
    landing_sha256s(con, [path])
    assert reads == ["a.csv", "a.csv"]
    (hashed_at, changed), = con.execute(
        f"SELECT hashed_at_ns, greatest(mtime_ns, ctime_ns) FROM {HASH_CACHE}").fetchall()
    assert hashed_at < changed + landing.RACY_NS


def test_the_consent_gate_reads_the_cache_of_a_read_only_warehouse_or_hashes_without_one(
        tmp_path, reads, monkeypatch):
    monkeypatch.setattr(landing, "RACY_NS", 0)
    write_landing(tmp_path / "landing")
    contract = CONTRACTS["consent_events"]
    files = landing.landing_files(tmp_path / "landing" / contract.entity)[0]
    assert files
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE SCHEMA raw")
    gate = duckdb.connect()
    gate.execute(f"ATTACH '{warehouse}' AS wh (READ_ONLY)")
    rows = read_unloaded_rows(gate, contract, tmp_path / "landing", "t", set(),
                              hash_cache=f"wh.{HASH_CACHE}")
    assert rows > 0 and len(reads) == len(files)  # no cache yet: every file read
    gate.close()
    with duckdb.connect(str(warehouse)) as con:
        landing_sha256s(con, files)  # what the ingest step records
    del reads[:]
    gate = duckdb.connect()
    gate.execute(f"ATTACH '{warehouse}' AS wh (READ_ONLY)")
    assert read_unloaded_rows(gate, contract, tmp_path / "landing", "t", set(),
                              hash_cache=f"wh.{HASH_CACHE}") == rows
    assert reads == []

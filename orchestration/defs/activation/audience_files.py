"""One audience's files for one platform and as-of date: the import file (split at the
platform's limits), the adds and removes since the previous export, and the manifest.

Layout: <export_dir>/<audience>/<platform>/<as_of>/
    <audience>.csv | <audience>-001.csv ...         who is in the audience (treatment only)
    <audience>_adds.csv                              rows not in the previous export
    <audience>_removes.csv                           identifier values of rows that left
    manifest.json                                    rows and sha256 per part, definition, run

The folder is built in <export_dir>/.staging and published whole in one atomic step.

Deltas come from the warehouse, never from earlier files: `activation.exports` records every
export date (an empty one too) and `activation.export_member_spells`, in the same run and
transaction, the identifier values each export wrote (as written, so hashed where the platform
hashes) as spells: a member row (customer id and identifier values) holds every recorded export
of its audience and platform from `valid_from` up to, not including, `valid_to` (open while it
is in the newest). A daily export therefore writes only the rows that joined or left, not every
member again; the view `activation.export_members` lists each recorded export's rows. The
previous export is the newest recorded date before this one, so a rerun of a date compares with
the same predecessor and is byte-identical. The transaction commits only after the folder is
published: a crash in between leaves the date unrecorded, and the next export repeats the adds
and removes against the older date (harmless for the platforms) rather than miss them.

Only the deltas read these lists, so they are kept for a bounded history
(WINBACK_EXPORT_HISTORY_DAYS before the newest export of each audience and platform, see
prune_history): spells that end before it are deleted, so the statements that scan the lists
(forget_erased) do not cost more with every day run.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from orchestration.defs.activation.atomic_files import (
    BATCH_ROWS,
    CsvParts,
    WrittenFile,
    batches,
    publish_folder,
    staged_in_transaction,
    write_manifest,
)
from orchestration.defs.activation.platforms import Columns, Limits, Platform
from orchestration.lib.collector import collections_paused

MANIFEST_NAME = "manifest.json"
STAGING_DIR = ".staging"
EXPORT_MEMBERS = "activation.export_members"
MEMBER_SPELLS = "activation.export_member_spells"
EXPORTS = "activation.exports"


@dataclass(frozen=True)
class ExportResult:
    folder: Path
    files: list[WrittenFile]
    adds: list[WrittenFile]
    removes: list[WrittenFile]
    previous_as_of: str | None
    manifest: dict[str, Any] = field(repr=False)

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def added(self) -> int:
        return sum(f.rows for f in self.adds)

    @property
    def removed(self) -> int:
        return sum(f.rows for f in self.removes)


def ensure_export_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS activation")
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {EXPORTS} (audience VARCHAR NOT NULL, platform VARCHAR "
        "NOT NULL, as_of_date DATE NOT NULL, rows BIGINT NOT NULL, "
        "PRIMARY KEY (audience, platform, as_of_date))"
    )
    # The catalog functions, not information_schema (half the time; called twice an export).
    named = ("WHERE database_name = current_database() AND schema_name = 'activation' AND "
             "{}_name = 'export_members'")
    if con.execute(f"SELECT count(*) FROM duckdb_views() {named.format('view')}").fetchone()[0]:
        return
    (old_lists,) = con.execute(
        f"SELECT count(*) FROM duckdb_tables() {named.format('table')}").fetchone()
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {MEMBER_SPELLS} (audience VARCHAR NOT NULL, "
        "platform VARCHAR NOT NULL, customer_id VARCHAR NOT NULL, identifiers VARCHAR[] NOT NULL, "
        "valid_from DATE NOT NULL, valid_to DATE)"
    )
    create_view = (
        f"CREATE VIEW {EXPORT_MEMBERS} AS SELECT e.audience, e.platform, e.as_of_date, "
        f"s.customer_id, s.identifiers FROM {EXPORTS} AS e JOIN {MEMBER_SPELLS} AS s "
        "ON s.audience = e.audience AND s.platform = e.platform "
        "AND s.valid_from <= e.as_of_date AND (s.valid_to IS NULL OR e.as_of_date < s.valid_to)"
    )
    if not old_lists:
        con.execute(create_view)
        return
    # The lists become spells in one transaction (the caller's, if it opened one): a crash
    # midway leaves the table of lists as it was, to be carried over by the next export.
    try:
        con.begin()
        own = True
    except duckdb.TransactionException:
        own = False
    try:
        _spells_from_member_lists(con)
        con.execute(create_view)
    except BaseException:
        if own:
            con.rollback()
        raise
    if own:
        con.commit()


def _spells_from_member_lists(con: duckdb.DuckDBPyConnection) -> None:
    """A warehouse from before the spells recorded every member of every export as a row of the
    table `activation.export_members`: each member row's runs of consecutive recorded exports
    become its spells, and the table gives way to the view of the same name."""
    con.execute(
        f"INSERT INTO {MEMBER_SPELLS} WITH dated AS (SELECT audience, platform, as_of_date, "
        "row_number() OVER (PARTITION BY audience, platform ORDER BY as_of_date) AS n, "
        "lead(as_of_date) OVER (PARTITION BY audience, platform ORDER BY as_of_date) AS next_date "
        f"FROM {EXPORTS}), "
        "listed AS (SELECT DISTINCT m.audience, m.platform, m.customer_id, m.identifiers, d.n "
        f"FROM {EXPORT_MEMBERS} AS m JOIN dated AS d USING (audience, platform, as_of_date)), "
        "runs AS (SELECT audience, platform, customer_id, identifiers, min(n) AS first_n, "
        "max(n) AS last_n FROM (SELECT *, n - row_number() OVER (PARTITION BY audience, platform, "
        "customer_id, identifiers ORDER BY n) AS run FROM listed) "
        "GROUP BY audience, platform, customer_id, identifiers, run) "
        "SELECT r.audience, r.platform, r.customer_id, r.identifiers, f.as_of_date, l.next_date "
        "FROM runs AS r JOIN dated AS f ON f.audience = r.audience AND f.platform = r.platform "
        "AND f.n = r.first_n JOIN dated AS l ON l.audience = r.audience "
        "AND l.platform = r.platform AND l.n = r.last_n ORDER BY r.audience, r.platform")
    con.execute(f"DROP TABLE {EXPORT_MEMBERS}")


def _covering(alias: str) -> str:
    """The spells (table `alias`) of one audience and platform that hold the export of one date;
    parameters: audience, platform, date, date."""
    return (f"{alias}.audience = ? AND {alias}.platform = ? AND {alias}.valid_from <= ? "
            f"AND ({alias}.valid_to IS NULL OR ? < {alias}.valid_to)")


def previous_export(con: duckdb.DuckDBPyConnection, audience: str, platform: str,
                    as_of: dt.date) -> dt.date | None:
    """The newest export of this audience and platform recorded before `as_of`."""
    ensure_export_tables(con)
    return con.execute(
        f"SELECT max(as_of_date) FROM {EXPORTS} WHERE audience = ? AND platform = ? "
        "AND as_of_date < ?", [audience, platform, as_of]).fetchone()[0]


def forget_erased(con: duckdb.DuckDBPyConnection, as_of: dt.date, audiences: Sequence[str],
                  erased_sql: str) -> int:
    """Forget the recorded identifiers of erased customers (`erased_sql` selects their ids)
    in the exports of `audiences` (every platform) older than each one's newest export
    before `as_of`: that one is kept, so a rerun of `as_of` still lists the erased person's
    removal. Their spells that end before it are deleted, the others start at it; returns how
    many spells changed. One statement of each for all of them: a statement per audience and
    platform scanned the records once each (23 exports at a million customers: ~1 s of CPU a
    day)."""
    if not audiences:
        return 0
    ensure_export_tables(con)  # a step whose every list was below a platform's minimum
    names = ", ".join("?" for _ in audiences)
    kept = (f"(SELECT audience, platform, max(as_of_date) AS kept FROM {EXPORTS} "
            f"WHERE as_of_date < ? AND audience IN ({names}) GROUP BY audience, platform) AS p")
    matched = ("s.audience = p.audience AND s.platform = p.platform "
               f"AND s.customer_id IN ({erased_sql})")
    (deleted,) = con.execute(
        f"DELETE FROM {MEMBER_SPELLS} AS s USING {kept} WHERE {matched} AND s.valid_to <= p.kept",
        [as_of, *audiences]).fetchone()
    (moved,) = con.execute(
        f"UPDATE {MEMBER_SPELLS} AS s SET valid_from = p.kept FROM {kept} WHERE {matched} "
        "AND s.valid_from < p.kept", [as_of, *audiences]).fetchone()
    return deleted + moved


def prune_history(con: duckdb.DuckDBPyConnection, audience: str, platform: str,
                  written: dt.date, previous: dt.date | None, history_days: int) -> None:
    """Delete the export dates of this audience and platform that no delta can need, and the
    spells that hold none of the others: those more than `history_days` before its newest
    export, except the export just `written` and its predecessor `previous` (when `written` is
    the newest, that is the newest export's predecessor). So a rerun of the newest date
    compares with the same export as the first time, and so does each date of a backfill going
    forward from any date on; a rerun of a date whose predecessor is gone compares with the
    newest export kept before it (none: every row is an add, nothing is removed)."""
    (newest,) = con.execute(
        f"SELECT max(as_of_date) FROM {EXPORTS} WHERE audience = ? AND platform = ?",
        [audience, platform]).fetchone()
    keep_from = min(newest - dt.timedelta(days=history_days), previous or written)
    con.execute(f"DELETE FROM {MEMBER_SPELLS} WHERE audience = ? AND platform = ? "
                "AND valid_to <= ?", [audience, platform, keep_from])
    con.execute(f"DELETE FROM {EXPORTS} WHERE audience = ? AND platform = ? AND as_of_date < ?",
                [audience, platform, keep_from])


def record_members(con: duckdb.DuckDBPyConnection, audience: str, platform: str,
                   as_of: dt.date) -> None:
    """Make the export of `as_of` hold exactly the rows of the temp table `export_current`
    (customer_id, identifiers), every other recorded export of the audience and platform as it
    was: the spells of rows that left are cut at `as_of` (a part before it and, when a later
    export is recorded, a part from that one on stay), and rows that joined start a spell that
    ends at the next recorded export. Writes only the rows that joined or left.

    Rows are matched on their customer id and a 64-bit hash of their identifier values:
    joining on the value lists took five times the CPU (~0.08 s for 67,000 members a join). Two
    identifier tuples of one customer with the same hash would keep a spell one export too long
    (the next export's removes list the row again)."""
    (following,) = con.execute(
        f"SELECT min(as_of_date) FROM {EXPORTS} WHERE audience = ? AND platform = ? "
        "AND as_of_date > ?", [audience, platform, as_of]).fetchone()
    key = [audience, platform]
    # rowid names the same spell until the transaction commits (no checkpoint in between).
    con.execute("CREATE OR REPLACE TEMP TABLE export_held AS SELECT rowid AS spell, customer_id, "
                f"hash(identifiers) AS h FROM {MEMBER_SPELLS} AS s WHERE {_covering('s')}",
                [*key, as_of, as_of])
    (leavers,) = con.execute(
        "CREATE OR REPLACE TEMP TABLE export_left AS SELECT spell FROM export_held AS s "
        "ANTI JOIN export_current AS c ON s.customer_id = c.customer_id "
        "AND s.h = hash(c.identifiers)").fetchone()
    # The spells of rows that left, cut at `as_of`. Ends and starts move by updates in place:
    # the rows stay among their list's rows (each export's rows are written together), so the
    # scans above, by audience and platform, skip the other lists' row groups. The part from
    # the next recorded export on needs a row of its own (only when an older date is written
    # again). The audience and platform as well as the rowids, for the same reason.
    left = ("WHERE audience = ? AND platform = ? AND rowid IN (SELECT spell FROM export_left) "
            "AND valid_from")
    if leavers:
        if following is not None:
            con.execute(f"INSERT INTO {MEMBER_SPELLS} SELECT ?, ?, customer_id, identifiers, ?, "
                        f"valid_to FROM {MEMBER_SPELLS} {left} < ? "
                        "AND (valid_to IS NULL OR valid_to > ?)",
                        [*key, following, *key, as_of, following])
            con.execute(f"UPDATE {MEMBER_SPELLS} SET valid_from = ? {left} = ? "
                        "AND (valid_to IS NULL OR valid_to > ?)",
                        [following, *key, as_of, following])
        con.execute(f"DELETE FROM {MEMBER_SPELLS} {left} = ?", [*key, as_of])
        con.execute(f"UPDATE {MEMBER_SPELLS} SET valid_to = ? {left} < ?", [as_of, *key, as_of])
    # Rows that joined, against the spells held before the cut (export_held).
    con.execute(f"INSERT INTO {MEMBER_SPELLS} SELECT DISTINCT ?, ?, c.customer_id, "
                "c.identifiers, ?, ?::DATE FROM export_current AS c ANTI JOIN export_held AS s "
                "ON s.customer_id = c.customer_id AND s.h = hash(c.identifiers)",
                [*key, as_of, following])
    con.execute("DROP TABLE export_held")
    con.execute("DROP TABLE export_left")


def query_batches(con: duckdb.DuckDBPyConnection, sql: str,
                  params: Sequence[Any] = ()) -> Iterator[dict[str, list[Any]]]:
    """The rows of `sql`, in its order, as batches of columns for export_audience, read on a
    cursor of its own (so the caller's connection stays free for the writes) and closed at
    the end. The rows come as Arrow batches whose columns become Python values a column at a
    time: fetching them as row tuples and transposing those took over twice the CPU (186,000
    members of seven columns: 0.32 against 0.14 s)."""
    cursor = con.cursor()
    try:
        reader = cursor.sql(sql, params=list(params)).to_arrow_reader(BATCH_ROWS)
        for batch in reader:
            if batch.num_rows:
                yield {name: column.to_pylist()
                       for name, column in zip(batch.schema.names, batch.columns, strict=True)}
    finally:
        cursor.close()


def member_batches(members: Iterable[Mapping[str, Any]],
                   size: int = BATCH_ROWS) -> Iterator[dict[str, list[Any]]]:
    """Members held as one mapping each, as batches of columns for export_audience (a field
    a member lacks is None)."""
    for rows in batches(members, size):
        names = dict.fromkeys(name for row in rows for name in row)
        yield {name: [row.get(name) for row in rows] for name in names}


def _stream(con: duckdb.DuckDBPyConnection, sql: str) -> Iterator[tuple]:
    con.execute(sql)
    while batch := con.fetchmany(10_000):
        yield from batch


def _removes_sql(width: int, removal_reason_sql: str | None) -> str:
    """Rows of the previous export whose identifier tuple is not in this one, with every value
    a current member still has blanked (no value in a removes file may match a current member:
    issue 9). A still-member's stale value (an old phone) is therefore removed on its own: left
    in the platform it could match whoever holds that number now, and the member's current
    values come back in the adds file (platforms apply removes, then adds). Rows left with no
    value are dropped."""
    blanked = ", ".join(
        f"CASE WHEN o.identifiers[{i}] IN (SELECT identifiers[{i}] FROM export_current) "
        f"THEN '' ELSE o.identifiers[{i}] END AS v{i}" for i in range(1, width + 1))
    values = ", ".join(f"v{i}" for i in range(1, width + 1))
    reason = f", {removal_reason_sql} AS removal_reason" if removal_reason_sql else ""
    order = values + (", removal_reason" if removal_reason_sql else "")
    kept = " OR ".join(f"v{i} <> ''" for i in range(1, width + 1))
    return (
        f"SELECT * FROM (SELECT DISTINCT {blanked}{reason} FROM export_previous AS o "
        "WHERE NOT EXISTS (SELECT 1 FROM export_current AS n "
        f"WHERE n.identifiers = o.identifiers)) WHERE {kept} ORDER BY {order}"
    )


def export_audience(
    export_dir: Path,
    *,
    con: duckdb.DuckDBPyConnection,
    audience: str,
    platform: Platform,
    limits: Limits,
    as_of: dt.date,
    members: Iterable[Columns],
    definition: Mapping[str, Any],
    source_run: str,
    extra: Mapping[str, Any] | None = None,
    history_days: int,
    removal_reason_sql: str | None = None,
) -> ExportResult:
    """Write the import file, deltas and manifest for one audience and platform, publish the
    folder, and record what it holds in the warehouse (`con`, opened for writing).

    `members` are batches of columns (each with `customer_id` and the fields the platform
    reads; `query_batches` or `member_batches` make them), in the sync model's order so files
    are deterministic; they are read once. `definition` (e.g. the audience definition hash and
    config version) and `extra` (counts with no personal data) go into the manifest as they
    are. `source_run` is the run that first wrote these exact files: a rerun that writes
    identical files keeps the earlier id, so the manifest stays byte-identical. With
    `removal_reason_sql`, an SQL expression over the previous export's row `o`
    (`o.customer_id`) evaluated on `con`, the removes file gets a `removal_reason` column and
    the manifest counts by reason. The recorded member lists older than `history_days` before
    the newest export are deleted in the same transaction (prune_history)."""
    folder = export_dir / audience / platform.name / as_of.isoformat()
    staging = export_dir / STAGING_DIR
    ensure_export_tables(con)
    with staged_in_transaction(con, staging) as staged:
        # The rows are tuples the collector tracks and reference counting frees: without
        # collections while they stream (a million customers: ~0.8 s of CPU a run walking them).
        with collections_paused():
            body, files, adds, removes = _write_folder(
                con, staged, audience=audience, platform=platform, limits=limits, as_of=as_of,
                members=members, definition=definition, extra=extra,
                removal_reason_sql=removal_reason_sql)
        previous = body["previous_export_as_of"]
        prune_history(con, audience, platform.name, as_of,
                      dt.date.fromisoformat(previous) if previous else None, history_days)
        body["source_run"] = _source_run(folder / MANIFEST_NAME, body, source_run)
        write_manifest(staged / MANIFEST_NAME, body)
        publish_folder(staged, folder)

    def published(group: list[WrittenFile]) -> list[WrittenFile]:
        return [replace(f, path=folder / f.path.name) for f in group]

    return ExportResult(folder, published(files), published(adds), published(removes),
                        body["previous_export_as_of"], body)


def _write_folder(
    con: duckdb.DuckDBPyConnection,
    staged: Path,
    *,
    audience: str,
    platform: Platform,
    limits: Limits,
    as_of: dt.date,
    members: Iterable[Columns],
    definition: Mapping[str, Any],
    extra: Mapping[str, Any] | None,
    removal_reason_sql: str | None,
) -> tuple[dict[str, Any], list[WrittenFile], list[WrittenFile], list[WrittenFile]]:
    """Inside the caller's transaction: the parts, adds and removes in `staged`, this date's
    rows in the warehouse, and the manifest body."""
    key = [audience, platform.name, as_of]
    previous = previous_export(con, audience, platform.name, as_of)
    con.execute("CREATE OR REPLACE TEMP TABLE export_previous AS SELECT customer_id, "
                f"identifiers FROM {MEMBER_SPELLS} AS s WHERE {_covering('s')}",
                [audience, platform.name, previous, previous])
    con.execute("CREATE OR REPLACE TEMP TABLE export_current (position BIGINT, "
                "customer_id VARCHAR, identifiers VARCHAR[])")
    split = {"max_rows": limits.max_rows, "max_bytes": limits.max_bytes}
    columns = [platform.header.index(c) for c in platform.identifiers]
    main = CsvParts(staged, audience, platform.header, **split)
    added = CsvParts(staged, f"{audience}_adds", platform.header, **split)
    removes_header = tuple(platform.identifiers)
    if removal_reason_sql:
        removes_header += ("removal_reason",)
    removed = CsvParts(staged, f"{audience}_removes", removes_header, **split)
    reasons: Counter[str] = Counter()
    position = 0
    try:
        for batch in members:
            ids = batch["customer_id"]
            cells = platform.cells(batch, len(ids))
            rows = list(zip(*cells, strict=True))
            main.write(rows)
            con.register("export_batch", pa.table({
                "position": pa.array(range(position, position + len(rows)), pa.int64()),
                "customer_id": pa.array([str(c) for c in ids], pa.string()),
                "identifiers": pa.array(list(zip(*(cells[i] for i in columns), strict=True)),
                                        pa.list_(pa.string())),
            }))
            con.execute("INSERT INTO export_current SELECT * FROM export_batch")
            new = con.execute(
                "SELECT position FROM export_batch AS b WHERE NOT EXISTS (SELECT 1 FROM "
                "export_previous AS o WHERE o.identifiers = b.identifiers) ORDER BY position"
            ).fetchall()
            con.unregister("export_batch")
            added.write([rows[p - position] for (p,) in new])
            position += len(rows)
        for row in batches(_stream(con, _removes_sql(len(columns), removal_reason_sql))):
            if removal_reason_sql:
                reasons.update(r[-1] for r in row)
            removed.write(row)
        files, adds, removes = main.close(), added.close(), removed.close()
    except BaseException:
        for parts in (main, added, removed):
            parts.discard()
        raise
    record_members(con, audience, platform.name, as_of)
    con.execute(f"INSERT OR REPLACE INTO {EXPORTS} VALUES (?, ?, ?, ?)", [*key, position])
    con.execute("DROP TABLE export_previous")
    con.execute("DROP TABLE export_current")

    body: dict[str, Any] = {
        "audience": audience,
        "platform": platform.name,
        "as_of_date": as_of.isoformat(),
        **dict(definition),
        "columns": list(platform.header),
        "identifier_columns": list(platform.identifiers),
        "hashed": platform.hashed,
        "limits": limits.as_manifest(),
        "rows": position,
        "files": [f.as_manifest() for f in files],
        "previous_export_as_of": previous.isoformat() if previous else None,
        "adds": {"rows": sum(f.rows for f in adds), "files": [f.as_manifest() for f in adds]},
        "removes": {"rows": sum(f.rows for f in removes),
                    "files": [f.as_manifest() for f in removes],
                    **({"by_reason": dict(sorted(reasons.items()))} if removal_reason_sql
                       else {})},
        **dict(extra or {}),
    }
    return body, files, adds, removes


def _source_run(manifest_path: Path, body: Mapping[str, Any], run_id: str) -> str:
    if manifest_path.is_file():
        try:
            old = json.loads(manifest_path.read_text(encoding="utf-8"))
        except ValueError:
            return run_id
        if {k: v for k, v in old.items() if k != "source_run"} == body:
            return old.get("source_run", run_id)
    return run_id

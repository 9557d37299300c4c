"""The last consent gate, run right before an audience file is written.

An audience is built from the data as of its date; an unsubscribe, opt-out or erasure request
can arrive after that and before the file is written. The gate re-reads what is known *now*:
the warehouse's raw tables plus the landing files whose content is not in the ingest ledger yet
(typed into an in-memory DuckDB by the same shared rules as ingestion, so a file dropped after
ingest counts too, and a flawed do-not-contact row blocks from now), and blocks a member when
  - the latest email consent event known now, whatever its date, is not opted_in (an event whose
    channel could not be read counts on every channel);
  - their address (normalised like the hygiene checks) has ever been suppressed;
  - they have an erasure request.
It fails closed: a landing file that cannot be read stops the export with the ingest error.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import pyarrow as pa

from orchestration.lib.contacts import check_email, email_rules_fingerprint
from orchestration.lib.contracts import CONTRACTS
from orchestration.lib.landing import HASH_CACHE, literal, read_unloaded_rows
from orchestration.lib.settings import Settings
from orchestration.lib.warehouse import lock_errors_named, release

GATE_ENTITIES = ("consent_events", "suppressions", "erasure_requests")
BATCH_ROWS = 50_000


@contextmanager
def open_gate(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB holding `gate_consent`, `gate_suppressed` and `gate_erased` (current
    knowledge), with the warehouse attached read-only as `wh`."""
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        warehouse = settings.warehouse
        release(warehouse)  # a run's kept connection would hold the file (warehouse.py)
        with lock_errors_named(warehouse):
            con.execute(f"ATTACH {literal(str(warehouse))} AS wh (READ_ONLY)")
        for entity in GATE_ENTITIES:
            loaded = {
                sha for (sha,) in con.execute(
                    "SELECT sha256 FROM wh.raw.ingest_ledger WHERE entity = ?", [entity]
                ).fetchall()
            }
            # Every row that would load counts, however dirty the rest of its file.
            read_unloaded_rows(con, CONTRACTS[entity], settings.landing_dir, f"landing_{entity}",
                               loaded, source_tz=settings.source_timezone,
                               encoding=settings.file_encoding(entity),
                               hash_cache=f"wh.{HASH_CACHE}")
        con.execute(
            """
            CREATE TABLE gate_consent AS
            WITH events AS (
                SELECT customer_id, status, occurred_at FROM landing_consent_events
                WHERE channel = 'email' OR channel IS NULL
                UNION ALL
                SELECT customer_id, status, occurred_at FROM wh.raw.consent_events
                WHERE channel = 'email' OR channel IS NULL
            )
            SELECT customer_id,
                   -- On a tie, opted_out wins: the gate errs on the side of not contacting.
                   arg_max(status, (occurred_at, status = 'opted_out')) AS consent_status
            FROM events GROUP BY customer_id
            """
        )
        con.execute(
            "CREATE TABLE gate_erased AS SELECT customer_id FROM landing_erasure_requests "
            "UNION SELECT customer_id FROM wh.raw.erasure_requests"
        )
        con.execute("CREATE TABLE gate_suppressed (email_normalized VARCHAR)")
        reader = con.cursor()
        reader.execute(_suppressed_emails_sql(con))
        while rows := reader.fetchmany(BATCH_ROWS):
            values = []
            for raw, checked, normalised in rows:
                if not checked:
                    normalised = check_email(raw).email_normalized
                values += [v for v in {normalised, (raw or "").strip().lower() or None} if v]
            batch = pa.table({"email_normalized": pa.array(values, pa.string())})
            con.register("gate_batch", batch)
            con.execute("INSERT INTO gate_suppressed SELECT * FROM gate_batch")
            con.unregister("gate_batch")
        reader.close()
        yield con
    finally:
        con.close()


def _suppressed_emails_sql(con: duckdb.DuckDBPyConnection) -> str:
    """Every suppressed address known now, with check_email's normalised form where the
    warehouse holds it: hygiene.email_checks keeps check_email's result per raw value (a
    suppression loaded into the warehouse was checked by the run's hygiene step), and is used
    only when hygiene.rules says it was built under today's rules. Other values (a file dropped
    after ingest, or rules changed since) are checked here. Validating every suppressed address
    cost 5.8 s of CPU per opening with 194,000 of them (benchmarks/gate_suppressions.py), and a
    run opens the gate three times (audience, suppression and points exports)."""
    suppressed = ("SELECT email FROM landing_suppressions "
                  "UNION SELECT email FROM wh.raw.suppressions")
    stored = []
    if con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = 'wh' AND "
                   "schema_name = 'hygiene' AND table_name IN ('rules', 'email_checks')"
                   ).fetchall() == [(2,)]:
        stored = con.execute("SELECT fingerprint FROM wh.hygiene.rules "
                             "WHERE table_name = 'email_checks'").fetchall()
    if stored != [(email_rules_fingerprint(),)]:
        return f"SELECT email, false, NULL FROM ({suppressed}) AS suppressed"
    return (f"SELECT suppressed.email, checks.email_raw IS NOT NULL, checks.email_normalized "
            f"FROM ({suppressed}) AS suppressed LEFT JOIN wh.hygiene.email_checks AS checks "
            "ON checks.email_raw = suppressed.email")


def blocked_members(
    con: duckdb.DuckDBPyConnection, members_table: str, key: str = "customer_id",
    email: str = "email",
) -> Counter[str]:
    """Create table `gate_blocked(customer_id, reason)` for the members of `members_table`
    (a table in the attached warehouse, e.g. 'wh.activation.sync_x') the gate blocks, and
    return the counts by reason (erased, opted_out, no_consent, suppressed)."""
    con.execute(
        f"""
        CREATE OR REPLACE TABLE gate_blocked AS
        SELECT m.{key} AS customer_id,
            CASE
                WHEN e.customer_id IS NOT NULL THEN 'erased'
                WHEN c.consent_status IS NULL THEN 'no_consent'
                WHEN c.consent_status <> 'opted_in' THEN 'opted_out'
                ELSE 'suppressed'
            END AS reason
        FROM {members_table} AS m
        LEFT JOIN gate_erased AS e ON m.{key} = e.customer_id
        LEFT JOIN gate_consent AS c ON m.{key} = c.customer_id
        WHERE e.customer_id IS NOT NULL
           OR c.consent_status IS NULL OR c.consent_status <> 'opted_in'
           OR m.{email} IN (SELECT email_normalized FROM gate_suppressed)
        """
    )
    return Counter(
        dict(con.execute("SELECT reason, count(*) FROM gate_blocked GROUP BY 1").fetchall())
    )

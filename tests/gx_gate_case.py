"""The case on which the Great Expectations gate of another engine (PostgreSQL, Spark) must
decide as the DuckDB gate does (tests/integration/test_gx_gate_on_*.py).

The fixture run's warehouse is copied and its gate state cleared, so both sides start from a
first run; two contactable customers are picked, and `dirty()` then breaks their rows in the two
ways the contact_hygiene suite must catch: an address with a no-break space in it, and an
invalid address marked contactable. `failures(outcome)` is what a dirty run's outcome says
about them."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from orchestration.defs.quality.bounded import BoundedOutcome, validate_changed_rows
from orchestration.defs.quality.gx import SuiteOutcome, load_suite
from orchestration.lib.warehouse import open_warehouse

TABLE = "contacts.contact_hygiene"
KEY = "customer_id"
SUITE = load_suite("contact_hygiene")


@dataclass(frozen=True)
class GateCase:
    warehouse: Path  # a copy of the fixture run's warehouse, its gate state cleared
    first: str  # a contactable customer whose address `dirty()` gives a no-break space
    second: str  # a contactable customer whose address `dirty()` marks invalid

    def dirty(self) -> list[str]:
        """The two changes, as SQL both DuckDB and PostgreSQL run."""
        return [
            # A no-break space: Python's \\s matches it, Java's (Spark's rlike) does not, so the
            # suite spells the Unicode spaces out and every engine must reject this address.
            f"update {TABLE} set email_normalized = 'a' || chr(160) || 'b@example.com' "
            f"where {KEY} = '{self.first}'",
            f"update {TABLE} set is_email_valid = false where {KEY} = '{self.second}'",
        ]

    def on_duckdb(self) -> BoundedOutcome:
        """The DuckDB gate (GX on pandas batches) on the copied warehouse."""
        with open_warehouse(self.warehouse) as con:
            return validate_changed_rows(con, SUITE, TABLE, KEY, max_rows=10_000)

    def expected_failures(self) -> dict[tuple[str, str | None], tuple[int, list[str]]]:
        """(expectation, column) -> (unexpected count, failing keys) after `dirty()`."""
        return {
            ("expect_column_values_to_match_regex", "email_normalized"): (1, [self.first]),
            ("expect_column_pair_values_to_be_in_set", "is_contactable_email,is_email_valid"):
                (1, [self.second]),
        }


def failures(outcome: SuiteOutcome) -> dict[tuple[str, str | None], tuple[int, list[str]]]:
    """(expectation, column) -> (unexpected count, failing keys) of an outcome's failures."""
    return {(f.expectation, f.column): (f.unexpected_count, f.unexpected_keys)
            for f in outcome.failed}


def gate_case(fixture_run, tmp_path: Path) -> GateCase:
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(fixture_run.warehouse, warehouse)
    with open_warehouse(warehouse) as con:
        con.execute("delete from quality.gx_suites")
        first, second = (row[0] for row in con.execute(
            f"select {KEY} from {TABLE} where is_contactable_email "
            f"order by {KEY} limit 2").fetchall())
    return GateCase(warehouse, first, second)

"""What the Great Expectations gate on Spark (orchestration/defs/quality/in_spark.py) checks
before its child process starts a JVM, and what comes back from the child: the whole outcome
(verdicts, counts, failing keys), through JSON. The validation itself, in Spark, is
tests/integration/test_gx_gate_on_spark.py."""

from __future__ import annotations

import copy
import json

import pytest

from orchestration.defs.quality.bounded import BoundedOutcome
from orchestration.defs.quality.gx import ExpectationOutcome, SuiteOutcome, load_suite
from orchestration.defs.quality.in_spark import (
    _from_json,
    _to_json,
    validate_changed_rows_in_spark_child,
)
from orchestration.lib.settings import SparkSettings


@pytest.mark.parametrize("where", ["table", "column", "key", "suite"])
def test_a_name_that_is_not_a_plain_identifier_is_refused_before_a_jvm_starts(tmp_path, where):
    """Names are written into Spark SQL statements: a quote or a semicolon in the suite file's
    names never reaches Spark, and no Spark warehouse is created."""
    suite = copy.deepcopy(load_suite("contact_hygiene"))
    table, key = "contacts.contact_hygiene", "customer_id"
    bad = "x`; drop table raw.orders; --"
    if where == "table":
        table = f"contacts.{bad}"
    elif where == "column":
        suite["expectations"][2]["kwargs"]["column"] = bad
    elif where == "key":
        key = bad
    else:
        suite["name"] = bad
    with pytest.raises(ValueError, match="not a plain identifier"):
        validate_changed_rows_in_spark_child(SparkSettings(tmp_path / "spark"), suite, table,
                                             key, max_rows=10)
    assert not (tmp_path / "spark").exists()


def test_the_childs_outcome_comes_back_whole_through_json():
    outcome = BoundedOutcome(
        SuiteOutcome("contact_hygiene", False, 7, [
            ExpectationOutcome("expect_column_values_to_not_be_null", "customer_id", True, 0),
            ExpectationOutcome("expect_column_pair_values_to_be_in_set",
                               "is_contactable_email,is_email_valid", False, 2, ["c1", "c9"]),
        ]),
        rows_skipped_unchanged=90, rows_pending=3, batches=1, full_validation=False,
        datasource="spark")
    assert _from_json(json.loads(json.dumps(_to_json(outcome)))) == outcome

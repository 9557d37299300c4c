"""Status history under backfills, reruns and erasure, on the hand-computed landing fixture.

The whole pipeline runs once (so the raw tables and the BG/NBD output exist); then dbt builds the
status and history models for each as-of date, as a backfill of that range would. The tests run
in file order on one warehouse; the erasure test comes last.
As of 2026-06-05..14 with the 180-day threshold: C01 (last purchase 2026-01-10) turns at_risk
on 06-09; C02 (2025-12-12) turns inactive on 06-10; C11 buys on 06-10 after 525 days and goes
from lapsed to reactivated. The backfill builds six of those ten days, out of order: the first
and last, 06-07 and 06-08 (the late-order test changes the one and reads the other) and the two
transition days; the days left out change nobody, and the gaps they leave are what a backfill
with `--every` leaves.
Every build after the pipeline's updates the history from the dates written since the last
(macros/status_history.sql); the last test compares it with one rebuilt from every change.
"""

import datetime as dt
import json
import shutil
import subprocess

import duckdb
import pytest
from landing_fixture import write_landing
from test_pipeline import _run

from orchestration.defs.dbt.args import dbt_config_vars, dbt_launcher
from orchestration.defs.dbt.state import write_run_context
from orchestration.lib.audiences import audiences_for
from orchestration.lib.policies import policies_for
from orchestration.lib.settings import REPO_ROOT, load_settings

pytestmark = [pytest.mark.integration, pytest.mark.pipeline_runs(3)]
DBT_DIR = REPO_ROOT / "dbt_project"
DAYS = [dt.date(2026, 6, 5) + dt.timedelta(days=i) for i in range(10)]
BACKFILLED = [DAYS[9], DAYS[0], DAYS[5], DAYS[2], DAYS[4], DAYS[3]]
HISTORY_SQL = """
    SELECT customer_id, status, valid_from, valid_to, previous_status, rule_id, threshold_days,
           inactive_since
    FROM inactivity.customer_status_history ORDER BY customer_id, valid_from
"""


def _dbt_for_day(warehouse, day: dt.date) -> None:
    settings = load_settings(
        environ={},
        overrides={"WINBACK_AS_OF": day.isoformat(), "WINBACK_WAREHOUSE": str(warehouse)},
    )
    # The date reaches dbt as in the pipeline's dbt step: in meta.run_context, with the same vars
    # every day, so dbt parses the project once for the whole backfill, not once per date.
    write_run_context(settings, f"test-{day}")
    # A separate process, as in the pipeline (dbt-duckdb keeps its connection open in-process).
    result = subprocess.run([
        dbt_launcher(), "run", "--select", "+customer_status_history +customer_churn_monthly",
        "--vars", json.dumps(dbt_config_vars(settings, policies_for(settings),
                                             audiences_for(settings))),
        "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR), "--quiet",
    ], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-2000:]


def _query(warehouse, sql):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("history")
    write_landing(tmp_path / "landing")
    _run(tmp_path, as_of=DAYS[-1].isoformat())
    warehouse = tmp_path / "warehouse.duckdb"
    # Out of order, as a backfill with retries would run: the history must not depend on it.
    for day in BACKFILLED:
        _dbt_for_day(warehouse, day)
    return warehouse


def _intervals(rows, customer):
    return [(r[1], r[2], r[3]) for r in rows if r[0] == customer]


def test_a_backfill_in_any_order_gives_the_hand_computed_intervals(backfilled):
    rows = _query(backfilled, HISTORY_SQL)
    d = dt.date
    assert _intervals(rows, "C01") == [
        ("active", d(2026, 6, 5), d(2026, 6, 9)), ("at_risk", d(2026, 6, 9), None)]
    assert _intervals(rows, "C02") == [
        ("at_risk", d(2026, 6, 5), d(2026, 6, 10)), ("inactive", d(2026, 6, 10), None)]
    assert _intervals(rows, "C11") == [
        ("lapsed", d(2026, 6, 5), d(2026, 6, 10)), ("reactivated", d(2026, 6, 10), None)]
    assert _intervals(rows, "C06") == [("lapsed", d(2026, 6, 5), None)]
    c02_inactive = next(r for r in rows if r[0] == "C02" and r[1] == "inactive")
    assert c02_inactive[4:] == ("at_risk", "fixed_threshold", 180, d(2026, 6, 10))
    # Only changes are stored: each customer's first status plus the three transitions.
    assert _query(backfilled, "SELECT count(*) FROM inactivity.customer_status_changes") == [
        (12 + 3,)]


def test_transitions_per_day_answer_who_became_inactive(backfilled):
    rows = _query(backfilled, """
        SELECT transition_date, customer_id, from_status, to_status
        FROM inactivity.customer_status_transitions ORDER BY transition_date, customer_id""")
    d = dt.date
    assert rows == [
        (d(2026, 6, 9), "C01", "active", "at_risk"),
        (d(2026, 6, 10), "C02", "at_risk", "inactive"),
        (d(2026, 6, 10), "C11", "lapsed", "reactivated"),
    ]


def test_a_backfill_followed_by_a_rerun_of_day_5_leaves_the_history_unchanged(backfilled):
    before = _query(backfilled, HISTORY_SQL)
    changes_before = _query(
        backfilled, "SELECT * FROM inactivity.customer_status_changes ORDER BY ALL")
    _dbt_for_day(backfilled, DAYS[4])
    assert _query(backfilled, HISTORY_SQL) == before
    assert _query(
        backfilled, "SELECT * FROM inactivity.customer_status_changes ORDER BY ALL"
    ) == changes_before


def test_rerunning_a_day_after_a_late_order_rewrites_that_day_and_undoing_it_restores_all(
    backfilled,
):
    before = _query(backfilled, HISTORY_SQL)
    late_order = (
        "INSERT INTO raw.orders VALUES ('O99', 'C02', TIMESTAMPTZ '2026-06-07 10:00:00+00', "
        "'paid', 'GBP', 10.00, NULL, 'late.csv', 1, now())"
    )
    with duckdb.connect(str(backfilled)) as con:
        con.execute(late_order)
    _dbt_for_day(backfilled, DAYS[2])  # only 06-07 is recomputed; 06-08 keeps what it recorded
    d = dt.date
    assert _intervals(_query(backfilled, HISTORY_SQL), "C02") == [
        ("at_risk", d(2026, 6, 5), d(2026, 6, 7)),
        ("active", d(2026, 6, 7), d(2026, 6, 8)),
        ("at_risk", d(2026, 6, 8), d(2026, 6, 10)),
        ("inactive", d(2026, 6, 10), None),
    ]
    with duckdb.connect(str(backfilled)) as con:
        con.execute("DELETE FROM raw.orders WHERE order_id = 'O99'")
    _dbt_for_day(backfilled, DAYS[2])
    assert _query(backfilled, HISTORY_SQL) == before


def test_monthly_churn_counts_customers_lost_from_a_retained_status(backfilled):
    rows = _query(backfilled, """
        SELECT month_start, active_at_start, lost, retained, reactivated, is_complete_month
        FROM inactivity.customer_churn_monthly""")
    # Only June is recorded and the history starts on 06-05, so nobody is counted at the start.
    assert rows == [(dt.date(2026, 6, 1), 0, 0, 0, 1, False)]


def test_an_erased_customer_vanishes_from_every_day_of_the_history(backfilled):
    # C02 changed status on 06-10, a date the run of 06-09 rewrites; C06 has been lapsed since
    # 06-05 and has no change on a date the run writes: only the erasure takes C06's intervals
    # out of an updated history.
    with duckdb.connect(str(backfilled)) as con:
        con.execute(
            "INSERT INTO raw.erasure_requests "
            "(customer_id, requested_at, _source_file, _source_row, _loaded_at) VALUES "
            "('C02', TIMESTAMPTZ '2026-06-20 00:00:00+00', 'late.csv', 1, now()), "
            "('C06', TIMESTAMPTZ '2026-06-20 00:00:00+00', 'late.csv', 2, now())"
        )
    _dbt_for_day(backfilled, DAYS[4])
    for table in ("customer_status_changes", "customer_status_history",
                  "customer_status_transitions"):
        assert _query(
            backfilled,
            f"SELECT count(*) FROM inactivity.{table} WHERE customer_id IN ('C02', 'C06')"
        ) == [(0,)], table


def test_the_history_updated_from_the_written_dates_equals_one_rebuilt_from_every_change(
    backfilled, tmp_path
):
    """After the out-of-order backfill, the reruns, the late order undone (which removes C02's
    changes on 06-07 and 06-08: only the intervals that started there say C02 moved) and the
    erasure, each build having updated the history from the dates written since the one before,
    the history equals the one dbt rebuilds from every change once its state is gone."""
    state_sql = "SELECT build FROM meta.customer_status_history_state"
    assert _query(backfilled, state_sql) == [("incremental",)]
    updated = _query(backfilled, HISTORY_SQL)
    rebuilt = tmp_path / "warehouse.duckdb"
    shutil.copyfile(backfilled, rebuilt)
    with duckdb.connect(str(rebuilt)) as con:
        con.execute("DELETE FROM meta.customer_status_history_state")
    _dbt_for_day(rebuilt, DAYS[4])
    assert _query(rebuilt, state_sql) == [("rebuild",)]
    assert _query(rebuilt, HISTORY_SQL) == updated

"""audience_membership_history built day by day from its last build (macros/membership_history.sql)
equals the table rebuilt from every daily row, and it rebuilds whenever that would not hold.

dbt builds only the history here, over daily tables the test writes as the daily marts do (a
date's rows replaced, one write logged per table in meta.audience_daily_writes): hand-made spells
that continue, end, restart, change variant or definition within a spell, are capped, and
exclusion spells that go on and change reason. The pipeline's own daily marts and their log are
test_backfill.py's.
"""

import datetime as dt
import shutil
import subprocess

import duckdb
import pytest

from orchestration.defs.dbt.args import dbt_config_vars_args, dbt_launcher
from orchestration.defs.dbt.state import write_run_context
from orchestration.lib.audiences import audiences_for
from orchestration.lib.policies import policies_for
from orchestration.lib.settings import REPO_ROOT, load_settings

pytestmark = [pytest.mark.integration, pytest.mark.pipeline_runs(1)]
DBT_DIR = REPO_ROOT / "dbt_project"
D = [dt.date(2026, 6, 1), dt.date(2026, 6, 2), dt.date(2026, 6, 4), dt.date(2026, 6, 5),
     dt.date(2026, 6, 6), dt.date(2026, 6, 8), dt.date(2026, 6, 9)]

# (audience, customer_id, holdout_group, variant, definition_hash, spell_started_on, is_capped)
MEMBERS = {
    D[0]: [("a", "c1", "treatment", None, "h1", D[0], False),
           ("a", "c2", "holdout", None, "h1", D[0], False)],
    D[1]: [("a", "c1", "treatment", None, "h1", D[0], False),
           ("a", "c2", "holdout", None, "h1", D[0], False)],
    D[2]: [("a", "c2", "holdout", None, "h1", D[0], False),
           ("b", "c3", "treatment", "v1", "h1", D[2], True)],
    D[3]: [("a", "c1", "treatment", "v1", "h1", D[3], False),
           ("a", "c2", "holdout", None, "h1", D[0], False),
           ("b", "c3", "treatment", "v1", "h1", D[2], True)],
    D[4]: [("a", "c1", "treatment", "v2", "h1", D[3], False),
           ("a", "c2", "holdout", None, "h2", D[0], False)],
}
# (audience, customer_id, exclusion_reason, excluded_by)
EXCLUDED = {
    D[1]: [("b", "c4", "global_exclusion", "staff")],
    D[2]: [("a", "c1", "exclusion_group", "b"), ("b", "c4", "global_exclusion", "staff")],
    D[3]: [("b", "c4", "exclusion_group", "a")],
}


def _warehouse(root):
    path = root / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA activation; CREATE SCHEMA intermediate; CREATE SCHEMA meta")
        con.execute("CREATE TABLE activation.audience_membership_daily (as_of_date date, "
                    "audience varchar, customer_id varchar, holdout_group varchar, variant "
                    "varchar, definition_hash varchar, spell_started_on date, is_capped boolean, "
                    "is_exported boolean)")
        con.execute("CREATE TABLE activation.audience_exclusions_daily (as_of_date date, "
                    "audience varchar, customer_id varchar, exclusion_reason varchar, "
                    "excluded_by varchar, exclusion_group varchar)")
        con.execute("CREATE TABLE intermediate.int_customers_erased (customer_id varchar)")
        con.execute("CREATE TABLE meta.audience_daily_writes (model_name varchar, as_of_date "
                    "date, seq bigint, written_at timestamp)")
    return path


def _write_day(path, day, members, excluded):
    """What the two daily marts do for `day`: replace its rows, log each table's write."""
    with duckdb.connect(str(path)) as con:
        for table, rows in (("audience_membership_daily", members),
                            ("audience_exclusions_daily", excluded)):
            con.execute(f"DELETE FROM activation.{table} WHERE as_of_date = ?", [day])
            for row in rows:
                if table == "audience_membership_daily":
                    con.execute(f"INSERT INTO activation.{table} VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
                                "? = 'treatment' AND NOT ?)", [day, *row, row[2], row[6]])
                else:
                    con.execute(f"INSERT INTO activation.{table} VALUES (?, ?, ?, ?, ?, NULL)",
                                [day, *row])
            con.execute("INSERT INTO meta.audience_daily_writes SELECT ?, ?, "
                        "coalesce(max(seq), 0) + 1, now() FROM meta.audience_daily_writes",
                        [table, day])


def _build(path, day):
    """dbt builds the history as of `day`: its rows and how it was built."""
    settings = load_settings(environ={}, overrides={"WINBACK_WAREHOUSE": str(path),
                                                    "WINBACK_AS_OF": day.isoformat()})
    write_run_context(settings, f"test-{day}")
    done = subprocess.run([
        dbt_launcher(), "run", "--select", "audience_membership_history",
        *dbt_config_vars_args(settings, policies_for(settings), audiences_for(settings)),
        "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR), "--quiet",
    ], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:]
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute("SELECT * FROM activation.audience_membership_history "
                           "ORDER BY ALL").fetchall()
        (build,) = con.execute(
            "SELECT build FROM meta.audience_membership_history_state").fetchone()
    return rows, build


def _rebuilt(path, day, tmp_path):
    """The history of a copy of the warehouse, rebuilt from every daily row."""
    copy = tmp_path / f"rebuilt-{day}"
    copy.mkdir()
    shutil.copyfile(path, copy / path.name)
    with duckdb.connect(str(copy / path.name)) as con:
        con.execute("DELETE FROM meta.audience_membership_history_state")
    rows, build = _build(copy / path.name, day)
    assert build == "rebuild"
    return rows


@pytest.fixture(scope="module")
def day_by_day(tmp_path_factory):
    """The history built after each of five dates: the warehouse and each date's build."""
    path = _warehouse(tmp_path_factory.mktemp("membership"))
    builds = []
    for day in D[:5]:
        _write_day(path, day, MEMBERS.get(day, []), EXCLUDED.get(day, []))
        builds.append(_build(path, day))
    return path, builds


def test_a_history_updated_day_by_day_equals_the_one_rebuilt_from_every_row(day_by_day, tmp_path):
    path, builds = day_by_day
    assert [build for _, build in builds] == ["rebuild"] + ["incremental"] * 4
    rows = builds[-1][0]
    assert rows == _rebuilt(path, D[4], tmp_path)
    # (audience, customer, group, variant, entered_on, left_on, last_member_on, is_capped,
    #  was_exported, definition_hash, exclusion_reason, excluded_by)
    assert ("a", "c1", "treatment", None, D[0], D[2], D[1], False, True, "h1", None, None) in rows
    assert ("a", "c1", "treatment", "v2", D[3], None, D[4], False, True, "h1", None, None) in rows
    assert ("a", "c2", "holdout", None, D[0], None, D[4], False, False, "h2", None, None) in rows
    assert ("b", "c3", "treatment", "v1", D[2], D[4], D[3], True, False, "h1", None, None) in rows
    assert ("b", "c4", None, None, D[1], D[3], D[2], False, False, None, "global_exclusion",
            "staff") in rows
    assert ("b", "c4", None, None, D[3], D[4], D[3], False, False, None, "exclusion_group",
            "a") in rows


def test_an_earlier_date_written_again_since_the_last_build_makes_the_next_a_rebuild(
    day_by_day, tmp_path
):
    """The daily marts rewrote D2 (c2 under another audience definition that day) in a run that
    did not build the history; the next date's build must see it, which only a rebuild does."""
    path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(day_by_day[0], path)
    _write_day(path, D[1], [MEMBERS[D[1]][0], ("a", "c2", "holdout", None, "h9", D[0], False)],
               EXCLUDED[D[1]])
    _write_day(path, D[5], MEMBERS[D[4]], [])
    rows, build = _build(path, D[5])
    assert build == "rebuild"
    assert rows == _rebuilt(path, D[5], tmp_path)
    assert [r[9] for r in rows if r[:2] == ("a", "c2")] == ["h9"]


def test_an_erasure_that_empties_a_date_makes_the_next_build_a_rebuild(day_by_day, tmp_path):
    """D6 holds one member, c9, erased after D6's build: D6 is no longer a run date, so spells
    that ended on D5 leave on D7, not D6."""
    path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(day_by_day[0], path)
    _write_day(path, D[5], [("a", "c9", "treatment", None, "h1", D[5], False)], [])
    _, build = _build(path, D[5])
    assert build == "incremental"
    with duckdb.connect(str(path)) as con:  # what the erasure does to the daily marts
        con.execute("INSERT INTO intermediate.int_customers_erased VALUES ('c9')")
        for table in ("audience_membership_daily", "audience_exclusions_daily"):
            con.execute(f"DELETE FROM activation.{table} WHERE customer_id = 'c9'")
    _write_day(path, D[6], [("a", "c1", "treatment", "v2", "h1", D[6], False)], [])
    rows, build = _build(path, D[6])
    assert build == "rebuild"
    assert rows == _rebuilt(path, D[6], tmp_path)
    assert not [r for r in rows if r[1] == "c9"]
    assert ("a", "c2", "holdout", None, D[0], D[6], D[4], False, False, "h2", None, None) in rows

"""The outcomes mart recovers a known campaign effect from generated data.

The demo generator simulates a win-back send: treated members of one audience (by the
pipeline's own seeded hash) buy again within 30 days with probability EFFECT, the holdout does
not. The pipeline runs on the send date (recording membership and groups) and again after the
conversion window; reactivation_outcomes must then show a lift whose 95 % interval holds the
simulated one and excludes zero, while an audience the campaign did not target shows none.
Both runs build what the outcomes mart is computed from (membership and its groups, orders,
statuses), without the export files, serving publication and report it does not read.
"""

import datetime as dt

import dagster as dg
import duckdb
import pytest
from daily_run import run_daily

from orchestration import demo
from orchestration.definitions import defs
from orchestration.defs.dbt.keys import dbt_model_key
from orchestration.lib.audiences import load_audiences
from orchestration.lib.settings import REPO_ROOT

AUDIENCES_FILE = REPO_ROOT / "config" / "audiences.yml"

pytestmark = [pytest.mark.integration, pytest.mark.pipeline_runs(2)]
END = dt.date(2026, 6, 30)
TARGET, CONTROL = "feedback_request_inactive", "winback_newly_inactive"
EFFECT = 0.3


def _run(tmp_path, as_of):
    outcomes = dg.AssetSelection.assets(dbt_model_key("reactivation_outcomes"))
    run_daily(tmp_path, as_of, asset_selection=sorted(
        outcomes.upstream().required_multi_asset_neighbors().resolve(defs.resolve_asset_graph())))


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("lift")
    campaign = demo.Campaign.for_audience(load_audiences(AUDIENCES_FILE), TARGET, effect=EFFECT)
    demo.generate(tmp_path / "landing", customers=3000, orders=30_000, seed=7,
                  end_date=END, campaign=campaign)
    send = campaign.send_date(END)
    _run(tmp_path, send)
    _run(tmp_path, send + dt.timedelta(days=campaign.window_days + 1))
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        cursor = con.execute("SELECT * FROM activation.reactivation_outcomes WHERE send_date = ?",
                             [send])
        names = [d[0] for d in cursor.description]
        return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}


def test_the_lift_interval_holds_the_simulated_effect_and_excludes_zero(outcomes):
    row = outcomes[TARGET]
    assert row["is_window_complete"]
    assert row["treated_customers"] >= 100 and row["holdout_customers"] >= 10
    # Treated buy with the baseline chance b or, failing that, with EFFECT: b + EFFECT (1 - b).
    # The holdout's rate estimates b.
    simulated = EFFECT * (1 - row["holdout_conversion_rate"])
    assert row["lift_ci_low"] <= simulated <= row["lift_ci_high"]
    assert row["lift_ci_low"] > 0
    assert row["absolute_lift"] == pytest.approx(
        row["treated_conversion_rate"] - row["holdout_conversion_rate"])


def test_an_audience_the_campaign_did_not_target_shows_no_lift(outcomes):
    row = outcomes[CONTROL]
    assert row["holdout_customers"] > 0
    assert row["lift_ci_low"] <= 0 <= row["lift_ci_high"]

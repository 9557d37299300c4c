"""The as-of date has one path: a run's daily partition -> the `winback` resource's Settings."""

import datetime as dt

import dagster as dg
import pytest

from orchestration.definitions import defs
from orchestration.defs.resources import WinbackConfig
from orchestration.defs.schedules import winback_daily_schedule
from orchestration.lib.run_config import daily_partitions, daily_run, run_as_of
from orchestration.lib.settings import SettingsError


def test_the_schedule_requests_the_previous_days_partition():
    moment = dt.datetime(2026, 6, 10, 6, 0, tzinfo=dt.UTC)
    with dg.build_schedule_context(scheduled_execution_time=moment) as context:
        request = winback_daily_schedule(context)
    assert request.partition_key == "2026-06-09"
    assert request.run_key == "2026-06-09"
    assert not request.run_config


def test_a_schedule_tick_just_after_midnight_in_another_zone_still_asks_for_the_utc_day():
    moment = dt.datetime(2026, 6, 10, 1, 30, tzinfo=dt.timezone(dt.timedelta(hours=5)))
    with dg.build_schedule_context(scheduled_execution_time=moment) as context:
        assert winback_daily_schedule(context).partition_key == "2026-06-08"


def test_a_daily_run_carries_the_date_only_as_its_partition_key():
    run = daily_run(dt.date(2026, 6, 9), warehouse="/w.duckdb")
    assert run.partition_key == "2026-06-09"
    assert run.run_config == {"resources": {"winback": {"config": {"warehouse": "/w.duckdb"}}}}
    assert daily_run(dt.date(2026, 6, 9)).run_config == {}


@pytest.mark.parametrize("days_after_today", [-365 * 30, 1])
def test_an_as_of_date_outside_the_partitions_is_refused_with_their_range(days_after_today):
    as_of = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=days_after_today)
    with pytest.raises(SettingsError, match="from 2020-01-01 through today"):
        daily_run(as_of)


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"dagster/partition": "2026-06-09"}, dt.date(2026, 6, 9)),
        ({"dagster/asset_partition_range_start": "2026-06-09",
          "dagster/asset_partition_range_end": "2026-06-09"}, dt.date(2026, 6, 9)),
        ({}, None),
    ],
)
def test_the_as_of_date_of_a_run_is_its_partition(tags, expected):
    assert run_as_of(tags) == expected


def test_a_run_over_a_range_of_dates_is_refused():
    with pytest.raises(SettingsError, match="one run per date"):
        run_as_of({"dagster/asset_partition_range_start": "2026-06-01",
                   "dagster/asset_partition_range_end": "2026-06-07"})


def test_today_is_a_partition_so_winback_run_can_compute_it():
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert daily_partitions.get_last_partition_key() == today


def test_the_resource_takes_the_as_of_date_from_the_partition_not_the_environment(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("WINBACK_AS_OF", "2026-01-01")
    seen = []

    @dg.asset(partitions_def=daily_partitions)
    def probe(winback: WinbackConfig) -> None:
        seen.append(winback.settings().as_of)

    result = dg.materialize(
        [probe], partition_key="2026-06-09",
        resources={"winback": WinbackConfig(warehouse=str(tmp_path / "w.duckdb"))},
    )
    assert result.success
    assert seen == [dt.date(2026, 6, 9)]


def test_every_date_keyed_asset_is_daily_partitioned_and_file_loads_are_not():
    graph = defs.resolve_asset_graph()
    by_group = {}
    for key in graph.materializable_asset_keys:
        node = graph.get(key)
        by_group.setdefault(node.group_name, set()).add(node.partitions_def)
    assert by_group.pop("ingest") == {None}
    assert by_group.pop("hygiene") == {None}
    assert set(by_group) >= {"staging", "intermediate", "activity", "inactivity", "predictions",
                             "activation", "serving"}
    assert all(defs_ == {daily_partitions} for defs_ in by_group.values()), by_group


def test_a_backfill_of_the_daily_job_runs_one_date_per_run():
    job = defs.resolve_job_def("winback_daily")
    assert job.partitions_def == daily_partitions
    assert job.backfill_policy == dg.BackfillPolicy.multi_run(1)

"""The report asset after a real daily run on the landing fixture: it is written, its metadata
names the path and the chart count, and no contact data of the fixture reaches it."""

from __future__ import annotations

import datetime as dt

import dagster as dg
from daily_run import run_daily
from landing_fixture import CUSTOMERS, write_landing

from orchestration.defs.report.assets import REPORT
from orchestration.defs.report.build import CHARTS


def test_the_daily_run_writes_the_report_without_contact_data(tmp_path):
    write_landing(tmp_path / "landing")
    result = run_daily(tmp_path, dt.date(2026, 11, 30))
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key == REPORT]
    metadata = event.materialization.metadata
    path = tmp_path / "report" / "index.html"
    assert metadata["path"] == dg.MetadataValue.path(str(path))
    assert metadata["charts"].value == len(CHARTS)
    html = path.read_text()
    assert html.count('<figure class="chart"') == len(CHARTS)
    emails = {row[3].strip().lower() for row in CUSTOMERS}
    names = {f"{row[1]} {row[2]}" for row in CUSTOMERS}
    assert "@" not in html
    assert not {value for value in emails | names if value.lower() in html.lower()}

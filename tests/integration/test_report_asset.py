"""The report asset after a real daily run on the landing fixture: it is written, its metadata
names the path and the chart count, and no contact data of the fixture reaches it."""

from __future__ import annotations

import dagster as dg
from landing_fixture import CUSTOMERS

from orchestration.defs.report.assets import REPORT
from orchestration.defs.report.build import CHARTS


def test_the_daily_run_writes_the_report_without_contact_data(fixture_run):
    (event,) = [e for e in fixture_run.result.get_asset_materialization_events()
                if e.asset_key == REPORT]
    metadata = event.materialization.metadata
    path = fixture_run.root / "report" / "index.html"
    assert metadata["path"] == dg.MetadataValue.path(str(path))
    assert metadata["charts"].value == len(CHARTS)
    html = path.read_text()
    assert html.count('<figure class="chart"') == len(CHARTS)
    emails = {row[3].strip().lower() for row in CUSTOMERS}
    names = {f"{row[1]} {row[2]}" for row in CUSTOMERS}
    assert "@" not in html
    assert not {value for value in emails | names if value.lower() in html.lower()}

"""The HTML report: one figure per chart from a small publication, "no data yet" when a table is
empty, escaped text, an atomic write, and the report path setting."""

from __future__ import annotations

import re

import duckdb
import pytest
from report_fixture import write_publication

from orchestration.defs.report import build
from orchestration.defs.report.build import CHARTS, build_report
from orchestration.defs.report.charts import NO_DATA, Chart, bar_chart, interval_chart, nice_ticks
from orchestration.lib import files
from orchestration.lib.files import write_atomic
from orchestration.lib.settings import load_settings

CHART = Chart("c", "A <title>", "Says & shows.", "x <axis>", "y")


def test_every_chart_is_an_inline_svg_with_title_sentence_and_axis_labels(tmp_path):
    serving, warehouse = write_publication(tmp_path)
    report = build_report(serving, warehouse, tmp_path / "out" / "index.html")
    html = report.path.read_text()
    assert report.charts == len(CHARTS) == 12
    assert report.publication_id == "p1"
    charts = re.findall(r'<svg [^>]*data-chart="([^"]+)"', html)
    assert len(charts) == len(set(charts)) == 12
    assert NO_DATA not in html
    for figure in re.findall(r'<figure class="chart".*?</figure>', html):
        assert re.search(r"<h2>[^<]+</h2><p>[^<]+</p>", figure)
        assert figure.count('class="label"') == 2


def test_the_report_is_one_offline_file_without_script_or_external_reference(tmp_path):
    serving, warehouse = write_publication(tmp_path)
    html = build_report(serving, warehouse, tmp_path / "index.html").path.read_text()
    assert "<script" not in html
    assert not re.search(r'(href|src)=|url\(|@import', html)


def test_empty_tables_show_no_data_yet_instead_of_a_chart(tmp_path):
    serving, warehouse = write_publication(tmp_path, rows=False)
    html = build_report(serving, warehouse, tmp_path / "index.html").path.read_text()
    assert html.count(f'<p class="no-data">{NO_DATA}</p>') == 12
    assert "<svg" not in html


def test_lift_is_drawn_in_percentage_points_and_audiences_without_a_lift_are_left_out(
        tmp_path):
    serving, warehouse = write_publication(tmp_path)
    html = build_report(serving, warehouse, tmp_path / "index.html").path.read_text()
    lift = re.search(r'<figure class="chart" id="lift">.*?</figure>', html).group(0)
    assert "winback_email: +5.0 (-1.0 to +11.0)" in lift
    assert "winback_sms" not in lift


def test_text_in_charts_is_escaped():
    html = bar_chart(CHART, ["<b>seg</b>"], {"a&b": [1.0], "c": [2.0]})
    assert "<b>" not in html and "&lt;b&gt;seg&lt;/b&gt;" in html
    assert "A &lt;title&gt;" in html and "Says &amp; shows." in html and "a&amp;b" in html
    assert "x &lt;axis&gt;" in interval_chart(CHART, [("a", 0.1, -0.1, 0.2)])


def test_a_chart_without_data_says_so():
    html = bar_chart(CHART, [], {})
    assert NO_DATA in html and "<svg" not in html


@pytest.mark.parametrize(("low", "high", "ticks"), [
    (0, 3, [0, 1, 2, 3]),
    (0, 0.25, [0, 0.05, 0.1, 0.15, 0.2, 0.25]),
    (-0.01, 0.11, [-0.025, 0, 0.025, 0.05, 0.075, 0.1, 0.125]),
    (0, 0, [0, 0.2, 0.4, 0.6, 0.8, 1.0]),
    (0, 880, [0, 200, 400, 600, 800, 1000]),
])
def test_ticks_are_round_and_cover_the_values(low, high, ticks):
    assert nice_ticks(low, high) == pytest.approx(ticks)


def test_the_report_is_replaced_in_one_rename_and_no_temp_file_is_left(tmp_path, monkeypatch):
    path = tmp_path / "index.html"
    write_atomic(path, "old")

    def broken(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "fsync", broken)
    with pytest.raises(OSError):
        write_atomic(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["index.html"]


def test_the_report_path_defaults_beside_the_serving_folder_and_winback_report_overrides_it(
        tmp_path):
    settings = load_settings({"WINBACK_SERVING_DIR": str(tmp_path / "serving")})
    assert settings.report_path == tmp_path / "report" / "index.html"
    settings = load_settings({"WINBACK_REPORT": str(tmp_path / "r.html")})
    assert settings.report_path == tmp_path / "r.html"


def test_the_model_check_chart_sets_forecast_beside_actual_per_calibration_frequency(tmp_path):
    serving, warehouse = write_publication(tmp_path)
    html = build_report(serving, warehouse, tmp_path / "index.html").path.read_text()
    figure = re.search(r'<figure class="chart" id="model-check".*?</figure>', html, re.S)
    assert figure, "no model-check chart"
    text = figure.group(0)
    assert "without the last 90 days" in text and "The model passed its check" in text
    assert "7+ forecast: 4.2" in text and "7+ actual: 3.9" in text


def test_audience_changes_count_membership_spells_and_not_customers_left_out(monkeypatch):
    con = duckdb.connect()
    con.execute("ATTACH ':memory:' AS warehouse")
    con.execute("CREATE SCHEMA warehouse.activation")
    con.execute("CREATE TABLE warehouse.activation.audience_membership_history "
                "(entered_on DATE, left_on DATE, exclusion_reason VARCHAR)")
    con.execute("INSERT INTO warehouse.activation.audience_membership_history VALUES "
                "('2026-11-29', '2026-11-30', NULL), ('2026-11-30', NULL, NULL), "
                "('2026-11-30', '2026-12-01', 'exclusion_group')")
    drawn = {}
    monkeypatch.setattr(build, "bar_chart",
                        lambda chart, categories, series: drawn.update(c=categories, s=series))
    build.audience_changes(con)
    assert drawn == {"c": ["2026-11-29", "2026-11-30"],
                     "s": {"added": [1.0, 1.0], "removed": [0.0, 1.0]}}

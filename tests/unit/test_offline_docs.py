"""Data Docs open offline: no stylesheet, script, image or font from another host, and the
index lists the validations and suites without JavaScript."""

from __future__ import annotations

import re

from data_docs_fixture import build_small_data_docs

from orchestration.defs.quality.offline_docs import make_offline

EXTERNAL = re.compile(r"""(src|href)=["']https?://|url\(['"]?https?://|@import""", re.I)


def _external_resources(html: str) -> list[str]:
    """External references the browser would fetch (plain <a> links are not fetched)."""
    without_anchors = re.sub(r"<a\b[^>]*>", "", html)
    return EXTERNAL.findall(without_anchors)


def test_every_data_docs_page_fetches_nothing_and_runs_no_script(tmp_path):
    index = build_small_data_docs(tmp_path)
    pages = list(index.parent.rglob("*.html"))
    assert len(pages) == 3  # index, the suite, its validation
    for page in pages:
        html = page.read_text()
        assert _external_resources(html) == [], page
        assert "<script" not in html
        assert "<style>" in html and ".card-header" in html


def test_the_index_lists_validations_and_suites_as_static_tables_with_links(tmp_path):
    html = build_small_data_docs(tmp_path).read_text()
    (validation,) = re.findall(r'href="(validations/things/[^"]+\.html)"', html)
    assert (tmp_path / "docs" / validation).exists()
    assert html.count('href="expectations/things.html"') == 2
    assert "<th>Expectation Suite</th>" in html and "<th>Run Time</th>" in html


def test_the_logo_is_read_from_the_sites_own_static_folder(tmp_path):
    index = build_small_data_docs(tmp_path)
    for page in index.parent.rglob("*.html"):
        for path in re.findall(r"""(?:src=["']|url\(['"]?)([^"')]*logo-long\.png)""",
                               page.read_text()):
            assert (page.parent / path).resolve().is_file(), (page, path)


def test_make_offline_renders_a_bootstrap_table_from_its_json():
    page = """<html><head>
<link rel="stylesheet" href="https://cdn.example/bootstrap.css"/>
<script src="https://cdn.example/jquery.js"></script></head><body>
<div id="t-toolbar" class="ml-1"><button onclick="clearTableFilters('t')">Clear</button></div>
<table id="t" class="table-sm" data-toggle="table"></table>
<script>
  $('#t').bootstrapTable(
    Object.assign(
      {
        columns: [{'field': 'name', 'title': 'Name'}, {'field': 'n', 'title': 'N <b>'}],
        data: [{'name': 'a', 'n': 1, '_table_row_link_path': 'a.html'}],
        toolbar: '#t-toolbar'
      }));
</script></body></html>"""
    html = make_offline(page, "")
    assert '<table id="t" class="table-sm" data-toggle="table"><thead><tr><th>Name</th>' in html
    assert "<th>N &lt;b&gt;</th>" in html
    assert '<td><a href="a.html">a</a></td><td>1</td>' in html
    assert "cdn.example" not in html and "<script" not in html and "Clear" not in html

"""Make a Great Expectations Data Docs site open offline: nothing is fetched from another host.

GX renders its pages with Bootstrap, jQuery, bootstrap-table, Font Awesome and Vega from CDNs and
a logo from S3; none of them ship with the package. Offline those requests fail, the index's
tables (filled by bootstrap-table from JSON in a script) stay empty and the scripts throw. So each
page is rewritten: external stylesheets and every script are removed, the index tables are
rendered as static HTML from the same JSON, the logo points at the copy in static/images, and a
small inline stylesheet stands in for the Bootstrap classes the pages use (collapsed sections
stay open, since no script is left to open them).
"""

from __future__ import annotations

import ast
import os
import re
from html import escape
from pathlib import Path

EXTERNAL_STYLESHEET = re.compile(r"<link\b[^>]*\bhref=\"https?://[^\"]*\"[^>]*>\s*", re.I)
SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>\s*", re.I | re.S)
TABLE_SCRIPT = re.compile(
    r"\$\('#(?P<id>[\w-]+)'\)\.bootstrapTable\(.*?columns: (?P<columns>\[.*?\]),\s*"
    r"data: (?P<data>\[.*?\]),\s*\n", re.S)
TOOLBAR = re.compile(r"<div id=\"[\w-]+-toolbar\"[^>]*>.*?</div>\s*", re.S)
REMOTE_IMAGE = re.compile(r"https://great-expectations-web-assets\.s3[^\"')]*")
LOGO = Path("static") / "images" / "logo-long.png"

STYLE = """
*, ::before, ::after { box-sizing: border-box; }
body { margin: 0; font-family: system-ui, sans-serif; font-size: 15px; line-height: 1.5;
       color: #212529; background: #fff; }
a { color: #0b5ed7; }
.container-fluid { width: 100%; padding: 0 15px; }
.row { display: flex; flex-wrap: wrap; margin: 0 -15px; }
[class*="col-"] { position: relative; width: 100%; padding: 0 15px; }
@media (min-width: 768px) {
  .col-md-2 { flex: 0 0 16.6667%; max-width: 16.6667%; }
  .col-md-10 { flex: 0 0 83.3333%; max-width: 83.3333%; }
  .d-md-block { display: block !important; } .d-md-inline-flex { display: inline-flex !important; }
}
.d-none { display: none; } .d-flex { display: flex; } .float-left { float: left; }
.navbar, .nav { display: flex; flex-wrap: wrap; align-items: center; padding: .5rem 1rem;
                list-style: none; margin: 0; }
.nav-link { display: block; padding: .25rem .75rem; text-decoration: none; }
.nav-link.active { background: #0b5ed7; color: #fff; border-radius: .25rem; }
.nav-tabs { display: none; }
.tab-content > .tab-pane { display: block; opacity: 1; margin-bottom: 2rem; }
.breadcrumb { display: flex; list-style: none; padding: .5rem 1rem; margin: 0 0 1rem;
              background: #e9ecef; border-radius: .25rem; }
.breadcrumb-item + .breadcrumb-item::before { content: "/"; padding: 0 .5rem; color: #6c757d; }
.sticky, .sticky-top { position: sticky; top: 0; z-index: 1; }
.card { border: 1px solid rgba(0,0,0,.125); border-radius: .25rem; margin-bottom: 1rem;
        background: #fff; }
.card-header { padding: .75rem 1.25rem; background: rgba(0,0,0,.03);
               border-bottom: 1px solid rgba(0,0,0,.125); }
.card-body { padding: 1.25rem; }
.alert { padding: .75rem 1.25rem; margin-bottom: 1rem; border: 1px solid transparent;
         border-radius: .25rem; }
.alert-secondary { background: #e2e3e5; } .alert-warning { background: #fff3cd; }
.badge { display: inline-block; padding: .25em .4em; font-size: 75%; font-weight: 700;
         border-radius: .25rem; }
.badge-secondary { background: #6c757d; color: #fff; }
.badge-warning { background: #ffc107; color: #212529; }
.btn { display: inline-block; padding: .375rem .75rem; border: 1px solid transparent;
       border-radius: .25rem; text-decoration: none; }
.btn-primary { background: #0b5ed7; color: #fff; }
.table { width: 100%; margin-bottom: 1rem; border-collapse: collapse; }
table th, table td { padding: .3rem .5rem; border-top: 1px solid #dee2e6; vertical-align: top;
                     text-align: left; }
.table-responsive { display: block; width: 100%; overflow-x: auto; }
.text-success { color: #198754; } .text-danger { color: #dc3545; }
.bg-light { background: #f8f9fa; } .border-bottom { border-bottom: 1px solid #dee2e6; }
.lead { font-size: 1.2rem; } .h-100 { height: 100%; } .rounded { border-radius: .25rem; }
.fas { font-style: normal; }
.fa-check-circle::before { content: "\\2714"; }
.fa-times::before, .fa-times-circle::before { content: "\\2718"; color: #dc3545; }
.fa-question-circle::before { content: "?"; }
.cooltip .top { display: none; }
.invisible { visibility: hidden; }
"""


def _static_table(columns: list[dict], rows: list[dict]) -> str:
    """The rows bootstrap-table would have drawn, as a plain table. Cell values are HTML that GX
    rendered for this page; a row with a link path links its first column."""
    head = "".join(f"<th>{escape(str(c.get('title', c['field'])))}</th>" for c in columns)
    body = []
    for row in rows:
        cells = [str(row.get(c["field"], "")) for c in columns]
        link = row.get("_table_row_link_path")
        if link and cells and "<a " not in cells[0]:
            cells[0] = f'<a href="{escape(link)}">{cells[0] or "open"}</a>'
        body.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    return f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody>"


def make_offline(html: str, static_prefix: str) -> str:
    """The page without anything fetched from the network; `static_prefix` is the relative
    path from the page to the site's root (e.g. '../')."""
    for match in TABLE_SCRIPT.finditer(html):
        table = _static_table(ast.literal_eval(match["columns"]), ast.literal_eval(match["data"]))
        html = re.sub(rf'(<table\s+id="{re.escape(match["id"])}"[^>]*>)\s*(</table>)',
                      lambda m, t=table: m[1] + t + m[2], html, count=1)
    html = SCRIPT.sub("", html)
    html = EXTERNAL_STYLESHEET.sub("", html)
    html = TOOLBAR.sub("", html)
    html = REMOTE_IMAGE.sub(f"{static_prefix}{LOGO.as_posix()}", html)
    return html.replace("</head>", f"<style>{STYLE}</style>\n</head>", 1)


def make_site_offline(site_dir: Path) -> None:
    """Rewrite every page of the Data Docs site in `site_dir` to open offline."""
    for page in site_dir.rglob("*.html"):
        prefix = os.path.relpath(site_dir, page.parent)
        prefix = "" if prefix == "." else f"{prefix}/"
        page.write_text(make_offline(page.read_text(encoding="utf-8"), prefix), encoding="utf-8")

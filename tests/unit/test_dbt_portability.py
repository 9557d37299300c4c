"""dbt models stay portable: DuckDB-only SQL lives only in dispatched macros."""

import re

import pytest

from orchestration.lib.settings import REPO_ROOT

MODELS = sorted((REPO_ROOT / "dbt_project" / "models").rglob("*.sql"))

# DuckDB dialect that PostgreSQL or Spark would reject, with the portable alternative.
DUCKDB_ONLY = {
    r"::": "cast(x as type)",
    r"\bqualify\b": "a ranked CTE filtered in an outer select",
    r"\bmedian\s*\(": "the median() macro",
    r"\bdate_diff\s*\(|\bdatediff\s*\(": "dbt.datediff()",
    r"\bdate_add\s*\(": "dbt.dateadd()",
    r"\bregexp_matches\s*\(": "a dispatched macro",
    r"\bstrftime\s*\(|\bstrptime\s*\(": "dbt.date_trunc()/cast",
    r"\blist_\w+\s*\(|\bstruct_pack\s*\(": "plain columns",
    r"\bgroup by all\b|\border by all\b": "explicit column lists",
    r"\bexclude\s*\(": "explicit column lists",
    r"\bas\s+double\b": "type_double()",
    r"\bread_(csv|parquet|json)\w*\s*\(": "a dbt source",
}


def _sql_without_comments_and_jinja(path):
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"\{#.*?#\}", "", text, flags=re.S)
    text = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", "", text, flags=re.S)
    return re.sub(r"--[^\n]*", "", text).lower()


def test_the_project_has_models_to_check():
    assert len(MODELS) >= 10


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_models_use_no_duckdb_only_sql(path):
    sql = _sql_without_comments_and_jinja(path)
    found = {alt for pattern, alt in DUCKDB_ONLY.items() if re.search(pattern, sql)}
    assert not found, f"{path.name}: use {sorted(found)} instead"

"""dbt models stay portable: DuckDB-only SQL lives only in dispatched macros."""

import re

import pytest
import yaml

from orchestration.lib.settings import REPO_ROOT

MODELS = sorted((REPO_ROOT / "dbt_project" / "models").rglob("*.sql"))
MODEL_YAMLS = sorted((REPO_ROOT / "dbt_project" / "models").rglob("*.yml"))

# DuckDB dialect that PostgreSQL or Spark would reject, with the portable alternative.
DUCKDB_ONLY = {
    r"::": "cast(x as type)",
    r"\bqualify\b": "a ranked CTE filtered in an outer select",
    r"\bmedian\s*\(": "the middle rows of a row_number() window (as int_customer_order_stats)",
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


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_hooks_delete_rows_through_the_dispatched_macro(path):
    """A `delete from` (in a post-hook too) fails on Spark, whose Parquet tables have no DELETE;
    delete_rows() rewrites the partitions there."""
    text = re.sub(r"--[^\n]*", "", path.read_text(encoding="utf-8")).lower()
    assert not re.search(r"\bdelete\s+from\b", text), f"{path.name}: use delete_rows()"


# Contract types every engine knows (on Spark the dispatched cast maps varchar, text and double
# precision to its own names); DuckDB's `double` is no type on PostgreSQL.
PORTABLE_TYPE = re.compile(
    r"varchar|text|integer|bigint|boolean|date|timestamp|double precision|decimal\(\d+, ?\d+\)")


def _contract_types():
    for path in MODEL_YAMLS:
        for model in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("models", []):
            for column in model.get("columns", []):
                if "data_type" in column:
                    yield f"{model['name']}.{column['name']}", str(column["data_type"])


def test_contracts_declare_types_every_engine_knows():
    types = dict(_contract_types())
    assert len(types) >= 100
    unportable = sorted(f"{column}: {t}" for column, t in types.items()
                        if not PORTABLE_TYPE.fullmatch(t.strip().lower()))
    assert not unportable

"""The macros a dbt step compiled are recorded, and the fork server compiles them into dbt's
template cache before the next step forks (orchestration/defs/dbt/macro_templates.py)."""

from types import SimpleNamespace

import pytest
from dbt_common.clients.jinja import template_cache

from orchestration.defs.dbt.macro_templates import TemplateCompiler, record_compiled

MATERIALIZE = "{% macro materialize(relation) %}create table {{ relation }}{% endmacro %}"
QUOTE = "{% macro quote_it(name) %}\"{{ name }}\"{% endmacro %}"
UNUSED = "{% macro unused() %}select 1{% endmacro %}"
BROKEN = "{% macro broken() %}{% if %}{% endmacro %}"


def _macro(sql):
    return SimpleNamespace(macro_sql=sql, name="m", package_name="p", original_file_path="m.sql",
                           resource_type="macro", unique_id="macro.p.m")


@pytest.fixture
def cache():
    """dbt's own template cache (it lives as long as the process), emptied around the test."""
    saved = dict(template_cache.file_cache)
    template_cache.clear()
    yield template_cache.file_cache
    template_cache.clear()
    template_cache.file_cache.update(saved)


def test_the_server_compiles_what_earlier_steps_compiled_and_nothing_else(cache, tmp_path):
    record = tmp_path / "macro_templates.txt"
    manifest = SimpleNamespace(macros={f"macro.p.{i}": _macro(sql) for i, sql in
                                       enumerate((MATERIALIZE, QUOTE, UNUSED))})
    # A step compiles two macros as it calls them, and records them when it ends.
    template_cache.get_node_template(_macro(MATERIALIZE))
    record_compiled(record)
    cache.clear()
    # A later step compiled another, inheriting the first from the server: the record keeps both.
    template_cache.get_node_template(_macro(QUOTE))
    record_compiled(record)
    assert len(record.read_text().split()) == 2

    cache.clear()
    TemplateCompiler(manifest, record).compile_recorded()
    assert set(cache) == {MATERIALIZE, QUOTE}
    rendered = cache[MATERIALIZE].module.dbt_macro__materialize("t")
    assert rendered.strip() == "create table t"


def test_a_changed_or_broken_macro_is_left_to_the_step_and_dropped_from_the_record(
        cache, tmp_path):
    record = tmp_path / "macro_templates.txt"
    for sql in (MATERIALIZE, BROKEN):
        cache[sql] = None  # as if the steps had compiled both (the broken one as it was)
    record_compiled(record)
    cache.clear()
    # Since then the project's MATERIALIZE changed: its old text is in no macro of the parse.
    changed = MATERIALIZE.replace("create table", "create or replace table")
    manifest = SimpleNamespace(macros={"macro.p.a": _macro(changed),
                                       "macro.p.b": _macro(BROKEN)})
    compiler = TemplateCompiler(manifest, record)
    compiler.compile_recorded()  # the broken macro fails in the step that calls it, not here
    assert cache == {}
    assert len(record.read_text().split()) == 1  # the old text's digest is gone

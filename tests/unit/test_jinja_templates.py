"""dbt compiles each Jinja text once per process, a step caches the code of the texts it used,
and the dbt fork server loads it before the next step forks, on this and later days
(orchestration/defs/dbt/jinja_templates.py). What a template renders stays dbt's own."""

import marshal

import dbt.clients.jinja as core
import dbt_common.clients.jinja as common
import jinja2
import pytest
from dbt_common.exceptions import CompilationError

from orchestration.defs.dbt import jinja_templates

MODEL = "select {{ column }} from {{ relation }}{% if limited %} limit 1{% endif %}"
MACRO = "{% macro materialize(relation) %}create table {{ relation }}{% endmacro %}"
NATIVE = "{{ [size, size * 2] }}"
BROKEN = "select {% if %}"


@pytest.fixture
def compiles(monkeypatch):
    """dbt's get_template keeping compiled code, as in a fresh server, for this test only; the
    Jinja texts compiled meanwhile, in order."""
    for module in (common, core):
        monkeypatch.setattr(module, "get_template", module.get_template)
    for name in ("_code", "_used"):
        monkeypatch.setattr(jinja_templates, name, type(getattr(jinja_templates, name))())
    compiled = []
    compile_text = jinja2.Environment.compile

    def counting(self, source, *args, **kwargs):
        compiled.append(source)
        return compile_text(self, source, *args, **kwargs)

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    jinja_templates.keep_compiled_code()
    return compiled


@pytest.fixture
def cache(tmp_path):
    """Where the steps of the test's project cache their code."""
    return tmp_path / jinja_templates.CACHE_FILE


def _new_process():
    """What a server started on another day has: nothing compiled, nothing used."""
    jinja_templates._code.clear()
    jinja_templates._used.clear()


def _model(column="id", relation="a", limited=False):
    return core.get_rendered(MODEL, {"column": column, "relation": relation, "limited": limited})


def _materialize(relation):
    """The macro MACRO called as dbt calls it: from the template's module (dbt prefixes macro
    names)."""
    return common.get_template(MACRO, {}).module.dbt_macro__materialize(relation).strip()


def _cached(cache):
    return sorted(text for _, text, _, _ in marshal.loads(cache.read_bytes())[1])


def test_each_text_compiles_once_and_renders_with_each_calls_own_values(compiles):
    assert _model("id", "a", limited=True) == "select id from a limit 1"
    assert _model("name", "b") == "select name from b"
    assert core.get_rendered(NATIVE, {"size": 2}, native=True) == [2, 4]
    assert core.get_rendered(NATIVE, {"size": 3}, native=True) == [3, 6]
    # The text renderer gives the same text as a string: a kind of its own.
    assert core.get_rendered(NATIVE, {"size": 3}) == "[3, 6]"
    assert compiles == [MODEL, NATIVE, NATIVE]


def test_a_macro_built_from_kept_code_is_dbts_macro(compiles):
    assert _materialize("t") == "create table t"
    assert _materialize("u") == "create table u"
    assert compiles == [MACRO]


def test_the_server_loads_what_earlier_steps_compiled_so_a_step_compiles_nothing(compiles, cache):
    # A step renders a model and a native value, and caches them as it ends.
    _model()
    core.get_rendered(NATIVE, {"size": 1}, native=True)
    jinja_templates.record_used(cache)
    # A later step inherited those from the server and compiled a macro as well.
    _materialize("t")
    jinja_templates.record_used(cache)

    _new_process()  # the next day's server
    compiles.clear()
    jinja_templates.load_cached(cache)
    # Its forked step builds every template without compiling.
    assert _model("x", "y", limited=True) == "select x from y limit 1"
    assert core.get_rendered(NATIVE, {"size": 5}, native=True) == [5, 10]
    assert _materialize("z") == "create table z"
    assert compiles == []


def test_a_text_that_does_not_compile_is_not_cached_and_fails_with_dbts_error(compiles, cache):
    with pytest.raises(CompilationError):
        core.get_rendered(BROKEN, {})
    _model()
    jinja_templates.record_used(cache)
    assert _cached(cache) == [MODEL]


def test_a_cache_of_other_versions_or_unreadable_is_no_cache(compiles, cache):
    _model()
    jinja_templates.record_used(cache)
    _new_process()
    with pytest.MonkeyPatch.context() as versions:
        versions.setattr(jinja_templates, "_versions", lambda: "another Python or Jinja")
        jinja_templates.load_cached(cache)
    assert jinja_templates._code == {}
    cache.write_bytes(b"not marshalled")
    jinja_templates.load_cached(cache)
    assert jinja_templates._code == {}
    # An entry whose code is not code (a damaged file) leaves that text to the step.
    cache.write_bytes(marshal.dumps((jinja_templates._versions(), [
        ("MacroFuzzEnvironment", MODEL, 0, marshal.dumps(42))])))
    jinja_templates.load_cached(cache)
    assert jinja_templates._code == {}
    _model()  # compiled again, and cached for these versions
    jinja_templates.record_used(cache)
    assert _cached(cache) == [MODEL]


def test_the_server_caches_nothing_its_parse_ahead_rendered_only_what_steps_use(compiles, cache):
    _model()  # the parse ahead
    jinja_templates.forget_used()
    _materialize("t")  # the step
    jinja_templates.record_used(cache)
    assert _cached(cache) == [MACRO]


def test_a_text_no_step_used_in_the_last_writes_leaves_the_cache(compiles, cache):
    _model()
    jinja_templates.record_used(cache)
    for _ in range(jinja_templates.MAX_AGE):  # steps that render only the macro
        jinja_templates._used.clear()
        _materialize("t")
        jinja_templates.record_used(cache)
    assert _cached(cache) == sorted([MACRO, MODEL])
    jinja_templates._used.clear()
    _materialize("t")
    jinja_templates.record_used(cache)
    assert _cached(cache) == [MACRO]


def test_a_cache_grown_too_large_keeps_only_the_last_steps_texts(compiles, cache, monkeypatch):
    _materialize("t")
    jinja_templates.record_used(cache)
    jinja_templates._used.clear()
    monkeypatch.setattr(jinja_templates, "MAX_CACHE_CHARS", len(MACRO) + len(MODEL) - 1)
    _model()
    jinja_templates.record_used(cache)
    assert _cached(cache) == [MODEL]

"""dbt's Jinja compiled once, kept beside the parse state, not compiled again in every dbt step.

dbt turns Jinja text into Python code every time it builds a template from it: a macro the
first time a process calls it (dbt_common keeps those templates, keyed by the macro's text, as
long as the process lives), and every model's SQL, generic test call and test argument each
time it renders one (never kept: the 40 `not_null` tests of a step compile the same call 40
times). Every step compiled again each macro its materializations, adapter calls and tests use
and each node it ran.

`keep_compiled_code` has dbt's `get_template` keep the code compiled from each text (per kind of
environment: dbt's text and native renderers compile the same text differently) and build each
template from it with the call's globals, as `jinja2.Environment.from_string` does; what a
template renders is unchanged. Each step adds the code of the texts it used to a cache beside
the parse state the steps start from (`jinja_templates.cache`, marshalled code objects, as
Python keeps its .pyc files); the dbt fork server loads the cache before its first fork and,
after each step, what that step added, so its children compile nothing they or an earlier
run's steps compiled. A text no step has used in the last MAX_AGE writes leaves the cache (a
model edited since, a test removed). The cache holds code only for this Python, Jinja and
dbt-common: another version's cache is ignored and replaced. A text that does not compile never
enters it: the step that renders it reports dbt's error as before.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import marshal
import sys
from pathlib import Path
from types import CodeType
from typing import Any

from orchestration.defs.dbt.state import parse_state_file
from orchestration.lib.files import write_atomic

CACHE_FILE = "jinja_templates.cache"
# Writes (a daily run makes two, one per dbt step) a text stays in without a step using it.
MAX_AGE = 8
# Past this many characters of text the cache keeps only what the last step used.
MAX_CACHE_CHARS = 8_000_000

Key = tuple[str, str]  # (the environment's class name, the Jinja text)

_code: dict[Key, CodeType] = {}  # compiled in this process, or loaded or inherited
_used: set[Key] = set()  # what this process built templates from


def cache_file(project_dir: Path) -> Path:
    return parse_state_file(project_dir.resolve()).parent / CACHE_FILE


@functools.cache
def _versions() -> str:
    """What compiled code depends on: the interpreter, Jinja's code generator, and dbt-common's
    environments and parser."""
    return "|".join([sys.version, importlib.metadata.version("jinja2"),
                     importlib.metadata.version("dbt-common")])


def keep_compiled_code() -> None:
    """Replace dbt's `get_template` (dbt_common's and the name dbt imported from it) with one
    that compiles each text once per process. Does nothing when dbt's macro debugging is on
    (it gives each compiled text a file of its own for tracebacks)."""
    import dbt.clients.jinja as core
    import dbt_common.clients.jinja as common

    if common.MACRO_DEBUGGING or getattr(common.get_template, "keeps_code", False):
        return

    def get_template(string: Any, ctx: dict[str, Any], node: Any = None,
                     capture_macros: bool = False, native: bool = False) -> Any:
        with common.catch_jinja(node):
            env = common.get_environment(node, capture_macros, native=native)
            key = (type(env).__name__, str(string))
            code = _code.get(key)
            if code is None:
                code = _code[key] = env.compile(key[1])
            _used.add(key)
            return env.template_class.from_code(env, code, env.make_globals(ctx), None)

    get_template.keeps_code = True  # type: ignore[attr-defined]
    common.get_template = get_template
    core.get_template = get_template


def forget_used() -> None:
    """In the server, before its first fork: what its parse ahead rendered is not what a step
    uses, and its children record only their own."""
    _used.clear()


def _read(cache: Path) -> dict[Key, tuple[int, bytes]]:
    """The cached texts: each one's age (writes since a step last used it) and its code,
    marshalled on its own, so that reading the cache unmarshals no code it does not need."""
    try:
        versions, entries = marshal.loads(cache.read_bytes())
        if versions != _versions():
            return {}
        return {(kind, text): (age, code) for kind, text, age, code in entries}
    except (OSError, EOFError, ValueError, TypeError):
        return {}


def load_cached(cache: Path) -> None:
    """In the server: take the code of the cached texts it does not have yet (an entry that is
    not code is left out: its step compiles the text)."""
    for key, (_age, blob) in _read(cache).items():
        if key not in _code:
            with contextlib.suppress(EOFError, ValueError, TypeError):
                code = marshal.loads(blob)
                if isinstance(code, CodeType):
                    _code[key] = code


def record_used(cache: Path) -> None:
    """In a finished step: the texts this process used go into the cache at age 0, the others
    age by one, and those past MAX_AGE leave (all but this step's once the cache holds more than
    MAX_CACHE_CHARS of text). An unwritable folder loses only the time it would save."""
    cached = _read(cache)
    entries = {key: (age + 1, code) for key, (age, code) in cached.items() if age < MAX_AGE}
    if sum(len(text) for _, text in entries.keys() | _used) > MAX_CACHE_CHARS:
        entries = {}
    for key in _used:
        entries[key] = (0, cached[key][1] if key in cached else marshal.dumps(_code[key]))
    data = marshal.dumps((_versions(), [(*key, age, code)
                                        for key, (age, code) in sorted(entries.items())]))
    with contextlib.suppress(OSError):
        write_atomic(cache, data)

"""dbt's macro templates compiled in the dbt fork server, not again in every dbt step.

dbt compiles a macro's Jinja the first time a process calls it, into a cache keyed by the
macro's text that lives as long as the process (dbt_common's template cache): each forked step
compiled again the ~150 macros its materializations, adapter calls and tests use (~0.4 s of CPU
a step on any data). Each step records which macros it compiled (a digest of each one's text,
in macro_templates.txt beside the parse state the steps start from); the server compiles the
recorded macros of the project it parsed ahead before its first fork, and those a finished step
recorded before the next, so the children start with them. The record is a hint: a macro
changed since is compiled by the step that calls it, as before, and recorded again.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path
from typing import Any

from orchestration.defs.dbt.state import parse_state_file
from orchestration.lib.files import write_atomic

RECORD_FILE = "macro_templates.txt"


def record_file(project_dir: Path) -> Path:
    return parse_state_file(project_dir.resolve()).parent / RECORD_FILE


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def _recorded(record: Path) -> set[str]:
    try:
        return set(record.read_text().split())
    except OSError:
        return set()


def _write(record: Path, digests: set[str]) -> None:
    """An unwritable folder loses only the hint."""
    with contextlib.suppress(OSError):
        write_atomic(record, "".join(f"{digest}\n" for digest in sorted(digests)))


class TemplateCompiler:
    """In the server: compiles the recorded macros of `manifest` (a parsed project) once each."""

    def __init__(self, manifest: Any, record: Path) -> None:
        self._macros = {_digest(macro.macro_sql): macro for macro in manifest.macros.values()}
        self._record = record
        self._done: set[str] = set()
        recorded = _recorded(record)
        if recorded - self._macros.keys():  # macros edited or removed since they were recorded
            _write(record, recorded & self._macros.keys())

    def compile_recorded(self) -> None:
        from dbt_common.clients.jinja import template_cache

        for digest in _recorded(self._record) & self._macros.keys() - self._done:
            self._done.add(digest)
            # A macro that no longer compiles fails in the step that calls it, with dbt's error.
            with contextlib.suppress(Exception):
                template_cache.get_node_template(self._macros[digest])


def record_compiled(record: Path) -> None:
    """In a finished step: add the macros this process compiled (or inherited compiled) to the
    record."""
    from dbt_common.clients.jinja import template_cache

    compiled = {_digest(text) for text in template_cache.file_cache}
    recorded = _recorded(record)
    if not compiled <= recorded:
        _write(record, recorded | compiled)

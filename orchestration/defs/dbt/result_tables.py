"""dbt's query results turned into tables without building a new type tester for each.

dbt (dbt_common's agate_helper) turns every result a macro fetches (`run_query`, the adapter's
relation and column lookups, a test's failure count) into an agate table, and for a result with a
text column it builds a new agate.TypeTester first: a Date and a DateTime type, each of which
builds parsedatetime's locale tables (regular expressions over every month and weekday name).
A daily run's dbt steps fetch a few hundred results, so that was about 0.4 s of CPU a run
(py-spy, a warm run on tiny data), the same at any data size.

A type tester holds only its column types and which columns it forces to text; agate's run reads
them and changes nothing, so dbt already shares one (DEFAULT_TYPE_TESTER) between all results
without text columns. `reuse_type_testers` makes dbt share one per set of forced columns too. The
dbt fork server (for itself and every child) and `winback-dbt` without a server call it before
dbt runs.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any


def reuse_type_testers() -> None:
    """dbt_common's build_type_tester answering each set of text columns and null values with
    the tester it built for them the first time."""
    from dbt_common.clients import agate_helper

    build = agate_helper.build_type_tester
    if getattr(build, "reused", False):
        return

    @functools.lru_cache(maxsize=256)
    def built(text_columns: frozenset[str], null_values: tuple[str, ...] | None) -> Any:
        return build(text_columns, string_null_values=null_values)

    def build_type_tester(text_columns: Iterable[str],
                          string_null_values: Iterable[str] | None = ("null", "")) -> Any:
        nulls = None if string_null_values is None else tuple(string_null_values)
        return built(frozenset(text_columns), nulls)

    build_type_tester.reused = True  # type: ignore[attr-defined]
    agate_helper.build_type_tester = build_type_tester

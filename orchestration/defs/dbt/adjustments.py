"""The changes to dbt's Python that every dbt a run starts gets, whether it is a fork of the run's
dbt fork server (fork_server.serve applies them before the parse ahead, so each child inherits
them) or `winback-dbt` running the installed dbt in its own process (launcher.run_here, the
Dagster UI's and daemon's runs). Each changes how much work dbt does, never what it builds or
reports; each module says why and has its test.
- log_filter: dbt's loggers format only the events some logger writes;
- parse_check: the parse state survives a warehouse in another folder;
- result_tables: one agate type tester per set of forced columns;
- macro_namespaces: a node's macro namespace built a package at a time."""

from __future__ import annotations

from orchestration.defs.dbt.log_filter import format_only_written_events
from orchestration.defs.dbt.macro_namespaces import build_namespaces_quickly
from orchestration.defs.dbt.parse_check import keep_parse_across_warehouse_locations
from orchestration.defs.dbt.result_tables import reuse_type_testers


def adjust_dbt() -> None:
    """Apply every change above to the dbt imported in this process (idempotent)."""
    format_only_written_events()
    keep_parse_across_warehouse_locations()
    reuse_type_testers()
    build_namespaces_quickly()

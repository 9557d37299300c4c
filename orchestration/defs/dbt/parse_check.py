"""dbt's partial parse kept when only the DuckDB warehouse's location or limits change.

dbt keeps its parse state (partial_parse.msgpack) for the next invocation only while a state
check matches: a hash of the `--vars`, one of the profile's connection fields, one of each
dbt_project.yml. A production step's vars carry the warehouse file's path and DuckDB's limits
(memory limit, threads, temp directory) for profiles.yml, and the profile's connection fields
carry them again, so a warehouse in another folder or a new memory limit cost a full parse
(~3 s of CPU) although no model, macro or test reads them while parsing. The test suite, whose
tests each build a warehouse of their own, paid that on the first dbt step of most tests.

`keep_parse_across_warehouse_locations` leaves them out of both hashes; the database name,
which dbt-duckdb derives from the file name and writes into every node, stays in. A test
(tests/unit/test_parse_check.py) keeps the project from reading these vars or target fields
anywhere but profiles.yml. The dbt fork server (for itself and every child) and `winback-dbt`
without a server call it before dbt runs; the installed `dbt` script hashes as dbt does, so a
state it leaves is parsed again by the next step, and the reverse.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# Vars that only profiles.yml reads (orchestration/defs/dbt/args.py dbt_config_vars).
LOCATION_VARS = frozenset({"warehouse_path", "duckdb_temp_directory", "duckdb_memory_limit",
                           "duckdb_threads", "dbt_threads"})
# Fields of the DuckDB profile that say where the file is and how DuckDB runs, not what it holds.
LOCATION_FIELDS = frozenset({"path", "config_options", "settings"})


class _CredentialsWithoutLocation:
    """What dbt's state check reads of the credentials (connection_info), without the location
    fields of a DuckDB profile."""

    def __init__(self, credentials: Any) -> None:
        self._credentials = credentials

    def connection_info(self, *, with_aliases: bool = False) -> Iterator[tuple[str, Any]]:
        for key, value in self._credentials.connection_info(with_aliases=with_aliases):
            if key not in LOCATION_FIELDS:
                yield key, value


def keep_parse_across_warehouse_locations() -> None:
    """dbt's state check of a DuckDB project without the warehouse's location and limits; other
    adapters' checks are dbt's own."""
    from dbt.parser.manifest import ManifestLoader

    build = ManifestLoader.build_manifest_state_check
    if getattr(build, "without_location", False):
        return

    def build_without_location(self: Any) -> Any:
        config = self.root_project
        if config.credentials.type != "duckdb":
            return build(self)
        cli_vars, credentials = config.cli_vars, config.credentials
        config.cli_vars = {k: v for k, v in cli_vars.items() if k not in LOCATION_VARS}
        config.credentials = _CredentialsWithoutLocation(credentials)
        try:
            return build(self)
        finally:
            config.cli_vars, config.credentials = cli_vars, credentials

    build_without_location.without_location = True  # type: ignore[attr-defined]
    ManifestLoader.build_manifest_state_check = build_without_location  # type: ignore[method-assign]

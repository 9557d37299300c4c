"""dbt keeps its parse when only the warehouse's location or DuckDB's limits change
(orchestration/defs/dbt/parse_check.py): safe only while nothing dbt parses reads them."""

import re

from orchestration.defs.dbt.parse_check import LOCATION_FIELDS, LOCATION_VARS
from orchestration.lib.settings import DBT_PROJECT_DIR

NOT_PARSED = {"target", "logs", "dbt_packages"}


def _parsed_files():
    for path in sorted(DBT_PROJECT_DIR.rglob("*")):
        relative = path.relative_to(DBT_PROJECT_DIR)
        if (path.is_file() and relative.parts[0] not in NOT_PARSED
                and relative.name != "profiles.yml"
                and path.suffix in {".sql", ".yml", ".yaml", ".py", ".md", ".csv"}):
            yield relative, path.read_text(encoding="utf-8")


def test_only_the_profile_reads_the_warehouse_location_and_limits():
    read = re.compile(
        r"""var\(\s*['"](?P<var>\w+)['"]|target\s*(\.\s*|\[\s*['"])(?P<field>\w+)""")
    readers = sorted(
        (str(relative), match["var"] or match["field"])
        for relative, text in _parsed_files() for match in read.finditer(text)
        if match["var"] in LOCATION_VARS or match["field"] in LOCATION_FIELDS)
    assert readers == []


def test_the_scan_sees_what_the_models_read():
    # The scan above must find reads where they are: the as-of macro reads its var.
    read_vars = {match for _, text in _parsed_files()
                 for match in re.findall(r"""var\(\s*['"](\w+)['"]""", text)}
    assert {"as_of_date", "inactivity_policies", "audiences"} <= read_vars

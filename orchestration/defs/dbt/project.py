import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagster_dbt import DbtProject

from orchestration.defs.dbt.args import dbt_parse
from orchestration.lib.settings import DBT_PROJECT_DIR

winback_project = DbtProject(
    project_dir=DBT_PROJECT_DIR,
    profiles_dir=DBT_PROJECT_DIR,
)
# Under `dagster dev` (`winback ui`) the manifest is parsed again on every load, as
# DbtProject.prepare_if_dev would, but swapped in whole: prepare_if_dev lets dbt rewrite
# target/manifest.json in place while other processes (a scheduled run) load it.
if winback_project.preparer.using_dagster_dev():
    dbt_parse(winback_project.project_dir)


def dbt_manifest() -> Mapping[str, Any]:
    """target/manifest.json, read once per version of the file (a run's steps read it several
    times; a new parse swaps in a new file, with a new modification time). Read only: one
    object serves every caller."""
    stat = winback_project.manifest_path.stat()
    return _read_manifest(winback_project.manifest_path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=1)
def _read_manifest(path: Path, _mtime_ns: int, _size: int) -> Mapping[str, Any]:
    return json.loads(path.read_text())

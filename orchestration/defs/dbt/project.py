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

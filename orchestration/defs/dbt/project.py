from dagster_dbt import DbtProject

from orchestration.lib.settings import DBT_PROJECT_DIR

winback_project = DbtProject(
    project_dir=DBT_PROJECT_DIR,
    profiles_dir=DBT_PROJECT_DIR,
)
winback_project.prepare_if_dev()

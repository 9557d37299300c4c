from dagster_dbt import DbtProject

from orchestration.lib.settings import REPO_ROOT

winback_project = DbtProject(
    project_dir=REPO_ROOT / "dbt_project",
    profiles_dir=REPO_ROOT / "dbt_project",
)
winback_project.prepare_if_dev()

import datetime as dt

import pytest

from orchestration.lib.settings import REPO_ROOT, SettingsError, load_settings


def test_defaults_resolve_against_the_repository_root_and_today():
    settings = load_settings(environ={}, today=dt.date(2026, 11, 27))
    assert settings.landing_dir == REPO_ROOT / "data" / "landing"
    assert settings.warehouse == REPO_ROOT / "data" / "warehouse" / "winback.duckdb"
    assert settings.export_dir == REPO_ROOT / "data" / "exports"
    assert settings.as_of == dt.date(2026, 11, 27)
    # Unset: the fixed threshold comes from config/inactivity_policies.yml (180 days there).
    assert settings.inactive_days is None
    assert settings.policies_file == REPO_ROOT / "config" / "inactivity_policies.yml"
    assert not settings.landing_configured
    assert settings.run_wait_seconds == 1800
    assert settings.serving_dir == REPO_ROOT / "data" / "serving"
    assert settings.log_dir == REPO_ROOT / "data" / "logs"


def test_environment_variables_and_overrides_win_in_that_order(tmp_path):
    env = {"WINBACK_LANDING_DIR": str(tmp_path), "WINBACK_AS_OF": "2026-01-31",
           "WINBACK_INACTIVE_DAYS": "90"}
    settings = load_settings(environ=env, overrides={"WINBACK_AS_OF": "2026-02-01",
                                                     "WINBACK_WAREHOUSE": ""})
    assert settings.landing_dir == tmp_path
    assert settings.landing_configured
    assert settings.as_of == dt.date(2026, 2, 1)
    assert settings.inactive_days == 90
    assert settings.warehouse.name == "winback.duckdb"


@pytest.mark.parametrize(
    ("variable", "value", "mentions"),
    [
        ("WINBACK_AS_OF", "27/11/2026", "WINBACK_AS_OF"),
        ("WINBACK_SOURCE_TZ", "Mars/Olympus", "WINBACK_SOURCE_TZ"),
        ("WINBACK_INACTIVE_DAYS", "half a year", "WINBACK_INACTIVE_DAYS"),
        ("WINBACK_INACTIVE_DAYS", "1", "WINBACK_INACTIVE_DAYS"),
        ("WINBACK_MAX_REJECT_SHARE", "5", "WINBACK_MAX_REJECT_SHARE"),
        ("WINBACK_RUN_WAIT_SECONDS", "ten minutes", "WINBACK_RUN_WAIT_SECONDS"),
        ("WINBACK_RUN_WAIT_SECONDS", "-1", "WINBACK_RUN_WAIT_SECONDS"),
        ("WINBACK_RUN_WAIT_SECONDS", "nan", "WINBACK_RUN_WAIT_SECONDS"),
        ("WINBACK_DUCKDB_MEMORY_LIMIT", "lots", "WINBACK_DUCKDB_MEMORY_LIMIT"),
        ("WINBACK_DUCKDB_THREADS", "0", "WINBACK_DUCKDB_THREADS"),
        ("WINBACK_CHECK_WORKERS", "0", "WINBACK_CHECK_WORKERS"),
        ("WINBACK_CHECK_WORKERS", "two", "WINBACK_CHECK_WORKERS"),
        ("WINBACK_GX_MAX_ROWS", "-5", "WINBACK_GX_MAX_ROWS"),
        ("WINBACK_DBT_THREADS", "0", "WINBACK_DBT_THREADS"),
        ("WINBACK_DBT_THREADS", "all", "WINBACK_DBT_THREADS"),
        ("WINBACK_EXPORT_HISTORY_DAYS", "0", "WINBACK_EXPORT_HISTORY_DAYS"),
        ("WINBACK_EXPORT_HISTORY_DAYS", "a month", "WINBACK_EXPORT_HISTORY_DAYS"),
        ("WINBACK_ALERT_WEBHOOK_URL", "hooks.example.com/x", "WINBACK_ALERT_WEBHOOK_URL"),
    ],
)
def test_a_malformed_setting_is_a_clear_error_naming_the_variable(variable, value, mentions):
    with pytest.raises(SettingsError, match=mentions):
        load_settings(environ={variable: value})


def test_a_source_may_declare_its_csv_encoding_and_an_unknown_one_is_a_clear_error():
    settings = load_settings(environ={"WINBACK_CUSTOMERS_ENCODING": "ISO-8859-1"})
    assert settings.file_encoding("customers") == "latin-1"
    assert settings.file_encoding("orders") == "utf-8"
    with pytest.raises(SettingsError, match="WINBACK_ORDERS_ENCODING must be one of"):
        load_settings(environ={"WINBACK_ORDERS_ENCODING": "cp1252"})


def test_the_run_wait_serving_and_log_folders_come_from_the_environment(tmp_path):
    settings = load_settings(environ={
        "WINBACK_RUN_WAIT_SECONDS": "0", "WINBACK_SERVING_DIR": str(tmp_path / "serving"),
        "WINBACK_LOG_DIR": str(tmp_path / "logs"),
    })
    assert settings.run_wait_seconds == 0
    assert settings.serving_dir == tmp_path / "serving"
    assert settings.log_dir == tmp_path / "logs"


def test_duckdb_limits_default_to_a_small_machine_and_spill_beside_the_warehouse():
    settings = load_settings(environ={})
    assert settings.duckdb.for_warehouse(settings.warehouse) == {
        "memory_limit": "2GB",
        "threads": "2",
        "temp_directory": str(REPO_ROOT / "data" / "warehouse" / "winback.duckdb.tmp"),
    }


def test_duckdb_limits_come_from_the_environment(tmp_path):
    settings = load_settings(environ={"WINBACK_DUCKDB_MEMORY_LIMIT": "512MB",
                                      "WINBACK_DUCKDB_THREADS": "4",
                                      "WINBACK_DUCKDB_TEMP_DIR": str(tmp_path / "spill")})
    assert settings.duckdb.for_warehouse(settings.warehouse) == {
        "memory_limit": "512MB", "threads": "4", "temp_directory": str(tmp_path / "spill")}


def test_check_workers_and_the_gx_bound_have_small_machine_defaults_and_come_from_the_env():
    default = load_settings(environ={})
    assert (default.check_workers, default.gx_max_rows) == (2, 50_000)
    settings = load_settings(environ={"WINBACK_CHECK_WORKERS": " 4 ", "WINBACK_GX_MAX_ROWS": "10"})
    assert (settings.check_workers, settings.gx_max_rows) == (4, 10)


def test_the_export_history_keeps_two_weeks_unless_configured():
    assert load_settings(environ={}).export_history_days == 14
    assert load_settings(environ={"WINBACK_EXPORT_HISTORY_DAYS": "7"}).export_history_days == 7


def test_alerts_go_to_data_alerts_and_to_a_webhook_only_when_one_is_set(tmp_path):
    default = load_settings(environ={})
    assert default.alert_dir == REPO_ROOT / "data" / "alerts"
    assert default.alert_webhook_url is None
    settings = load_settings(environ={"WINBACK_ALERT_DIR": str(tmp_path / "alerts"),
                                      "WINBACK_ALERT_WEBHOOK_URL": " https://hooks.example/t "})
    assert settings.alert_dir == tmp_path / "alerts"
    assert settings.alert_webhook_url == "https://hooks.example/t"

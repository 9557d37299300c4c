"""Failures end in one line naming a log file with the trace; exit 2 for configuration or input,
1 for a failed run; disk and permission errors name the folder and the errno's meaning."""

import errno
from dataclasses import replace

import dagster as dg
import pytest

from orchestration import cli, failures
from orchestration.lib.settings import load_settings
from orchestration.preflight import ConfigurationError, check_configuration, writable_folder_problem


def _main(monkeypatch, tmp_path, raised, capsys):
    def command(_):
        raise raised

    monkeypatch.setenv("WINBACK_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setitem(cli.COMMANDS, "validate", replace(cli.COMMANDS["validate"], run=command))
    code = cli.main(["validate"])
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    [log] = (tmp_path / "logs").iterdir()
    return code, err.strip(), log


def test_a_full_disk_is_one_line_naming_the_folder_and_the_errno(monkeypatch, tmp_path, capsys):
    full = OSError(errno.ENOSPC, "No space left on device", "/data/exports/a/b.csv")
    code, line, log = _main(monkeypatch, tmp_path, full, capsys)
    assert code == 1
    assert line == (
        "winback validate: cannot write in /data/exports/a: No space left on device (ENOSPC); "
        f"free space on that disk, then run again (full trace: {log})"
    )
    assert "Traceback" in log.read_text()
    assert log.name.startswith("winback-") and log.suffix == ".log"


def test_a_configuration_error_exits_2_with_its_own_message(monkeypatch, tmp_path, capsys):
    code, line, log = _main(monkeypatch, tmp_path, ConfigurationError("x.yml: field 'a' bad"),
                            capsys)
    assert code == 2
    assert line == f"winback validate: x.yml: field 'a' bad (full trace: {log})"


def test_an_unexpected_error_names_its_kind_and_exits_1(monkeypatch, tmp_path, capsys):
    code, line, _ = _main(monkeypatch, tmp_path, KeyError("status"), capsys)
    assert code == 1
    assert line.startswith("winback validate: KeyError: 'status' (full trace: ")


def _failed_step(raised):
    @dg.asset
    def exports() -> None:
        raise raised

    result = dg.materialize([exports], raise_on_error=False)
    return [(e.step_key, e.step_failure_data.error) for e in result.all_events
            if e.is_step_failure]


def _failed_step_from(cause):
    """A step that marks `cause` as not worth retrying, as the ingest assets do."""
    try:
        raise cause
    except Exception as exc:
        wrapped = dg.Failure(description=str(exc), allow_retries=False)
        wrapped.__cause__ = exc
    return _failed_step(wrapped)


def test_a_read_only_export_folder_during_a_run_is_one_line_naming_the_folder():
    failure = failures.from_run(_failed_step(
        PermissionError(errno.EROFS, "Read-only file system", "/mnt/exports/aud/file.csv")))
    assert failure.exit_code == 1
    assert failure.line == (
        "step exports failed: cannot write in /mnt/exports/aud: Read-only file system (EROFS); "
        "point the setting at a writable file system, then run again"
    )
    assert "Traceback" not in failure.line and "Stack Trace" in failure.trace


def test_a_full_disk_reported_by_duckdb_is_recognised_by_its_text():
    line = failures.write_error(
        'IO Error: Could not write file "/data/warehouse/winback.duckdb.wal": '
        "No space left on device")
    assert line == ("cannot write in /data/warehouse: No space left on device (ENOSPC); "
                    "free space on that disk, then run again")


def test_bad_input_in_a_step_exits_2_and_other_step_failures_exit_1():
    from orchestration.lib.landing import IngestError

    bad_input = failures.from_run(_failed_step(IngestError("orders/a.csv: header lacks amount")))
    assert (bad_input.exit_code, bad_input.line) == (
        2, "step exports failed: orders/a.csv: header lacks amount")
    not_retried = _failed_step_from(IngestError("orders/a.csv: header lacks amount"))
    assert failures.from_run(not_retried).exit_code == 2
    broken = failures.from_run(_failed_step(RuntimeError("boom")))
    assert (broken.exit_code, broken.line) == (1, "step exports failed: boom")


def test_a_folder_under_a_regular_file_cannot_be_written(tmp_path):
    (tmp_path / "f").write_text("")
    assert writable_folder_problem(tmp_path / "f" / "exports") == (
        f"{tmp_path / 'f'} is a file, not a folder (Not a directory)")
    assert writable_folder_problem(tmp_path / "new" / "exports") is None


@pytest.mark.parametrize(
    ("variable", "value", "mentions"),
    [
        ("WINBACK_PLATFORMS", "missing.yml", "platform limits file does not exist"),
        ("WINBACK_INACTIVITY_POLICIES", "missing.yml", "inactivity policy file does not exist"),
        ("WINBACK_AUDIENCES", "missing.yml", "audience file not found"),
        ("WINBACK_ORDERS_SQL_URL", "not a url s3cr3t", "WINBACK_ORDERS_SQL_URL is not a SQL"),
        ("WINBACK_LANDING_DIR", "no/such/landing", "WINBACK_LANDING_DIR .* is not a folder"),
    ],
)
def test_every_configuration_file_and_setting_is_checked(tmp_path, variable, value, mentions):
    env = {"WINBACK_LOG_DIR": str(tmp_path / "logs"), "WINBACK_WAREHOUSE": str(tmp_path / "w"),
           "WINBACK_EXPORT_DIR": str(tmp_path / "e"), "WINBACK_SERVING_DIR": str(tmp_path / "s"),
           variable: str(tmp_path / value) if value.endswith(".yml") else value}
    with pytest.raises(ValueError, match=mentions) as raised:
        check_configuration(load_settings(environ=env))
    assert "s3cr3t" not in str(raised.value)


def test_an_alert_folder_that_cannot_be_written_is_reported_before_a_run(tmp_path):
    (tmp_path / "f").write_text("")
    env = {"WINBACK_LOG_DIR": str(tmp_path / "logs"), "WINBACK_WAREHOUSE": str(tmp_path / "w"),
           "WINBACK_EXPORT_DIR": str(tmp_path / "e"), "WINBACK_SERVING_DIR": str(tmp_path / "s"),
           "WINBACK_ALERT_DIR": str(tmp_path / "f" / "alerts")}
    with pytest.raises(ConfigurationError, match="WINBACK_ALERT_DIR .* cannot be written"):
        check_configuration(load_settings(environ=env))


def test_a_platform_limits_file_that_is_not_yaml_names_the_line(tmp_path):
    bad = tmp_path / "platforms.yml"
    bad.write_text("platforms:\n  klaviyo: [\n")
    with pytest.raises(ConfigurationError, match=r"platforms.yml: not valid YAML at line \d"):
        check_configuration(load_settings(environ={"WINBACK_PLATFORMS": str(bad)}))


def test_the_line_shows_the_error_the_step_raised_not_the_library_error_behind_it():
    from orchestration.lib.warehouse import WarehouseLockedError

    try:
        try:
            raise OSError("IO Error: Could not set lock on file")
        except OSError as exc:
            raise WarehouseLockedError("The warehouse w.duckdb is in use by another process") \
                from exc
    except WarehouseLockedError as exc:
        raised = exc
    failure = failures.from_run(_failed_step(raised))
    assert failure.line == (
        "step exports failed: The warehouse w.duckdb is in use by another process")
    assert "Could not set lock" in failure.trace

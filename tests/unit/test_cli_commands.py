"""The `winback` command line in process: commands and their help, wrong flags, the as-of
guard, `.env`, and the pure parts of the progress lines and the summary."""

import datetime as dt
import importlib.metadata
import json

import dagster as dg
import duckdb
import pytest

from orchestration import cli
from orchestration.lib.formatting import lift_text
from orchestration.lib.metadata import counts_table
from orchestration.progress import StepRecord, describe
from orchestration.summary import audience_rows, quarantine_lines

COMMANDS = ("run", "backfill", "validate", "export", "docs", "report", "ui", "demo", "contracts",
            "dbt-vars")


def _exit(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    captured = capsys.readouterr()
    return exited.value.code, captured.out, captured.err


def test_help_lists_every_command_and_nothing_else(capsys):
    code, out, _ = _exit(["--help"], capsys)
    assert code == 0
    assert tuple(cli.COMMANDS) == COMMANDS
    listed = [line.split()[0] for line in out.split("commands:")[1].splitlines()
              if line.startswith("    ") and not line.startswith("     ")]
    assert listed == list(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_each_commands_help_works(command, capsys):
    code, out, _ = _exit([command, "--help"], capsys)
    assert code == 0
    assert out.startswith(f"usage: winback {command}")


def test_help_shows_the_defaults(capsys):
    _, out, _ = _exit(["demo", "--help"], capsys)
    assert "(default: 20000)" in " ".join(out.split())
    _, out, _ = _exit(["run", "--help"], capsys)
    assert "default: WINBACK_AS_OF, else today in UTC" in " ".join(out.split())


def test_version_is_the_package_version(capsys):
    code, out, _ = _exit(["--version"], capsys)
    assert code == 0
    assert out.strip() == f"winback {importlib.metadata.version('winback')}"


@pytest.mark.parametrize("argv", [
    ["run", "--no-such-flag"],
    ["--no-such-flag"],
    ["no-such-command"],
    ["demo", "--customers", "many"],
    ["run", "--as-of", "30/06/2026"],
    [],
])
def test_a_wrong_flag_prints_at_most_five_lines_and_exits_2(argv, capsys):
    code, out, err = _exit(argv, capsys)
    assert code == 2
    assert out == ""
    assert 1 <= len(err.splitlines()) <= 5
    assert "error:" in err


def test_a_future_as_of_date_is_refused_in_one_line(capsys):
    tomorrow = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)).isoformat()
    assert cli.main(["validate", "--as-of", tomorrow]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert f"as-of date {tomorrow} is in the future" in line and "--allow-future" in line


@pytest.mark.parametrize(("start", "end", "expected"), [
    ("2026-06-30", "2026-06-01", "--end 2026-06-01 is before --start 2026-06-30"),
    ("2026-06-01", "2999-01-01", "as-of date 2999-01-01 is in the future"),
])
def test_a_backfill_over_a_wrong_range_is_refused_in_one_line(start, end, expected, tmp_path,
                                                               monkeypatch, capsys):
    monkeypatch.setenv("WINBACK_WAREHOUSE", str(tmp_path / "wh.duckdb"))
    assert cli.main(["backfill", "--start", start, "--end", end]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert expected in line
    assert not (tmp_path / "wh.duckdb").exists()


def test_a_future_as_of_date_is_accepted_with_allow_future(capsys):
    tomorrow = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)).isoformat()
    assert cli.main(["dbt-vars", "--as-of", tomorrow, "--allow-future"]) == 0
    assert json.loads(capsys.readouterr().out)["as_of_date"] == tomorrow


def test_env_file_values_are_read_and_the_real_environment_wins(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("WINBACK_AS_OF=2026-06-30\nWINBACK_SOURCE_TZ=Europe/Paris\n# note\n")
    environ = {"WINBACK_SOURCE_TZ": "UTC"}
    assert cli.read_env_file(env_file, environ) == ["WINBACK_AS_OF"]
    assert environ == {"WINBACK_AS_OF": "2026-06-30", "WINBACK_SOURCE_TZ": "UTC"}
    assert cli.read_env_file(tmp_path / "missing.env", environ) == []


def test_the_cli_reads_env_in_the_working_directory(tmp_path, monkeypatch, capsys):
    (tmp_path / ".env").write_text("WINBACK_AS_OF=2026-05-31\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINBACK_AS_OF", "")
    monkeypatch.delenv("WINBACK_AS_OF")
    assert cli.main(["dbt-vars"]) == 0
    assert json.loads(capsys.readouterr().out)["as_of_date"] == "2026-05-31"
    monkeypatch.setenv("WINBACK_AS_OF", "2026-04-30")
    assert cli.main(["dbt-vars"]) == 0
    assert json.loads(capsys.readouterr().out)["as_of_date"] == "2026-04-30"


def _files(records):
    """File lists as the ingest asset reports them: a metadata table."""
    return dg.MetadataValue.table(
        records=[dg.TableRecord(r) for r in records],
        schema=dg.TableSchema(columns=[dg.TableColumn("file", "string")]))


def _step(*materialized, passed=0, failed=0, check=""):
    return StepRecord(started=0.0, materialized=list(materialized), checks_passed=passed,
                      checks_failed=failed, check_name=check)


@pytest.mark.parametrize("step_key, step, line", [
    ("raw__orders", _step((("raw", "orders"), {
        "rows_loaded": 10, "rows_quarantined": 2, "folder_present": True,
        "files_loaded": _files([{"file": "a"}]), "files_skipped_already_loaded": _files([])})),
     "ingest orders: 1 new file, 0 skipped, 10 rows loaded, 2 quarantined"),
    ("raw__orders", _step((("raw", "orders"), {
        "rows_loaded": 0, "rows_quarantined": 0, "folder_present": True,
        "files_loaded": _files([]),
        "files_skipped_already_loaded": _files([{"file": f"f{i}"} for i in range(4)])})),
     "ingest orders: 0 new files, 4 skipped, 0 rows loaded"),
    ("raw__loyalty_ledger", _step((("raw", "loyalty_ledger"), {
        "rows_loaded": 0, "folder_present": False})),
     "ingest loyalty_ledger: no loyalty_ledger/ folder, no rows (optional input)"),
    ("hygiene__email_checks", _step((("hygiene", "email_checks"), {
        "dagster/row_count": 1993, "values_checked": 12, "values_reused": 1981,
        "invalid_emails": 57, "invalid_by_reason": counts_table({"syntax": 57})})),
     "hygiene email_checks: 12 values checked, 1,981 reused, 57 invalid"),
    ("winback_dbt_models", _step((("staging", "a"), {"unique_id": "model.a"}),
                                 (("marts", "b"), {"unique_id": "model.b"}), passed=5, failed=1),
     "dbt models: 2 models built, tests 5 passed, 1 failed"),
    ("contacts__gx", _step(passed=1, check="gx_contact_hygiene"),
     "check gx_contact_hygiene: passed"),
    ("audience_exports", _step((("exports", "a_braze"), {"rows": 3, "adds": 2, "removes": 1}),
                               (("exports", "a_meta"), {"rows": 3, "adds": 3, "removes": 0})),
     "export audiences: 2 exports, 6 rows, 5 adds, 1 removes"),
    ("suppression_exports", _step((("exports", "do_not_contact_meta"),
                                   {"rows": 4, "adds": 4, "removes": 0})),
     "export suppression: 1 export, 4 rows, 4 adds, 0 removes"),
    ("serving__warehouse", _step((("serving", "warehouse"), {"tables": 41})),
     "serving warehouse: 41 tables published"),
    ("report__html", _step((("report", "html"), {"charts": 10})),
     "report html: 10 charts drawn"),
    ("predictions__customer_bgnbd_holdout", _step((("predictions", "customer_bgnbd_holdout"), {
        "dagster/row_count": 2201, "model_check_passed": False,
        "model_check_reason": "calibration_slope 0.05 outside [0.7, 1.3]"}), failed=1),
     "predictions model check: WARNING, failed (calibration_slope 0.05 outside [0.7, 1.3])"),
])
def test_each_step_is_one_line_with_its_key_count(step_key, step, line):
    assert describe(step_key, step) == line


def test_lift_is_shown_in_percentage_points():
    assert lift_text(0.231, 0.183, 0.279) == "+23.1 pp (95% CI +18.3 to +27.9 pp)"
    assert lift_text(-0.02, -0.051, 0.011) == "-2.0 pp (95% CI -5.1 to +1.1 pp)"


def test_audience_rows_group_by_audience_with_paths_relative_to_the_export_folder(tmp_path):
    def manifest(audience, platform, parts, previous):
        folder = tmp_path / audience / platform / "2026-06-30"
        folder.mkdir(parents=True)
        (folder / "manifest.json").write_text(json.dumps({
            "audience": audience, "platform": platform, "previous_export_as_of": previous,
            "files": [{"name": f"{audience}-{i}.csv", "rows": 10} for i in range(parts)],
            "adds": {"rows": 4}, "removes": {"rows": 1},
        }))

    manifest("lapsed", "meta", 1, None)
    manifest("lapsed", "braze", 2, "2026-06-29")
    manifest("at_risk", "klaviyo", 1, None)
    assert audience_rows(tmp_path, "2026-06-30") == [
        ("at_risk", "klaviyo", "10", "4", "1", "-", "at_risk/klaviyo/2026-06-30/at_risk-0.csv"),
        ("lapsed", "braze", "20", "4", "1", "2026-06-29",
         "lapsed/braze/2026-06-30/lapsed-0.csv (+1 more part)"),
        ("", "meta", "10", "4", "1", "-", "lapsed/meta/2026-06-30/lapsed-0.csv"),
    ]
    assert [r[1] for r in audience_rows(tmp_path, "2026-06-30", only="lapsed")] == ["braze",
                                                                                    "meta"]


def test_quarantined_rows_are_counted_by_entity_and_reason():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA raw")
    con.execute("CREATE TABLE raw.quarantine (entity VARCHAR, reason VARCHAR)")
    assert quarantine_lines(con) == []
    con.execute("INSERT INTO raw.quarantine VALUES ('orders', 'bad_decimal:amount'), "
                "('orders', 'missing_required:order_id'), ('orders', 'bad_decimal:amount'), "
                "('customers', 'malformed_row:missing_columns')")
    assert [" ".join(line.split()) for line in quarantine_lines(con)] == [
        "quarantined rows by reason (raw.quarantine)",
        "customers malformed_row:missing_columns 1",
        "orders bad_decimal:amount 2",
        "orders missing_required:order_id 1",
    ]


"""`winback run` and `winback export` as a user meets them (run safety: issue 9), on the landing
fixture and one customer whose contact data are sentinels: two runs started together on a fresh
DAGSTER_HOME, one plain and one with --verbose, then an export of the same date. Which run gets
the warehouse first is up to the machine: the other waits, then finds every file loaded. Each
test below finds the run it is about by what the run said (it waited, or it was verbose), so all
of them hold whichever order the runs took. The runs happen once, in the module's fixture: a
whole run costs ~15 s of CPU. Other commands: test_cli.py (failures before a run) and
test_run_safety.py (the lock without a wait, a reader of the serving copy, one-line errors)."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from cli_env import cli_env, one_line, winback
from landing_fixture import (
    AS_OF,
    CUSTOMER_HEADER,
    ORDER_HEADER,
    write_csv_file,
    write_landing,
)

from orchestration.defs.report.build import CHARTS

pytestmark = [pytest.mark.integration, pytest.mark.pipeline_runs(4)]

# Unique values that must never leave the warehouse and the export files.
SENTINEL_EMAIL = "qx7.sentinel.zv@example.org"
SENTINEL_FIRST, SENTINEL_LAST = "Quillonaxe", "Zorbwitham"
SENTINELS = (SENTINEL_EMAIL, SENTINEL_EMAIL.upper(), "+447700900461", "7700900461",
             "07700 900461", SENTINEL_FIRST, SENTINEL_LAST)
# Contact data of the landing fixture (tests/landing_fixture.py).
FIXTURE_SECRETS = ("zoe.old@example.com", "Zoë", "ivy@example.com", "O'Old")
WAITED = "Another Winback run is using the warehouse"
# The landing fixture's 19 orders in one file, and the sentinel's one in another.
ORDER_FILES, ORDER_ROWS = 2, 20


def _env(root: Path) -> dict[str, str]:
    # The warehouse file is named as the session's dbt parse ahead names its own (dbt-duckdb
    # names the database after the file, tests/conftest.py): another name would make the runs'
    # dbt parse the whole project again.
    return cli_env(
        WINBACK_LANDING_DIR=str(root / "landing"),
        WINBACK_WAREHOUSE=str(root / "warehouse" / "warehouse.duckdb"),
        WINBACK_EXPORT_DIR=str(root / "exports"),
        WINBACK_SERVING_DIR=str(root / "serving"),
        WINBACK_LOG_DIR=str(root / "logs"),
        WINBACK_AS_OF=AS_OF,
        DAGSTER_HOME=str(root / "dagster_home"),
    )


def _sentinel_landing(landing: Path) -> None:
    """The landing fixture and one customer whose email, phone and names are the sentinels."""
    write_landing(landing)
    write_csv_file(landing / "customers" / "sentinel.csv", CUSTOMER_HEADER, [
        ("C90", SENTINEL_FIRST, SENTINEL_LAST, SENTINEL_EMAIL, "07700 900461", "GB", "SW1A 2AA",
         "2025-01-01T00:00:00Z", ""),
    ])
    write_csv_file(landing / "orders" / "sentinel.csv", ORDER_HEADER,
                   [("O91", "C90", "2025-11-01T10:00:00+00:00", "paid", "GBP", "80.00", "")])
    consent = landing / "consent_events" / "sentinel.jsonl"
    consent.write_text(json.dumps({"customer_id": "C90", "channel": "email",
                                   "status": "opted_in", "source": "checkout",
                                   "occurred_at": "2025-01-01T00:00:00Z"}) + "\n")


Done = subprocess.CompletedProcess[str]  # a command's exit code and output


@dataclass(frozen=True)
class CliRuns:
    root: Path
    runs: list[Done]  # the two runs started together: plain, --verbose
    export: Done
    written: dict[Path, bytes]  # the export files after the runs
    rewritten: dict[Path, bytes]  # and after the export

    @property
    def first(self) -> Done:
        """The run that got the warehouse first."""
        [first] = [run for run in self.runs if WAITED not in run.stdout]
        return first

    @property
    def second(self) -> Done:
        [second] = [run for run in self.runs if WAITED in run.stdout]
        return second

    @property
    def plain(self) -> Done:
        return self.runs[0]

    @property
    def verbose(self) -> Done:
        return self.runs[1]


def _files(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory) -> CliRuns:
    root = tmp_path_factory.mktemp("cli_runs")
    _sentinel_landing(root / "landing")
    (root / "dagster_home").mkdir()
    (root / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = _env(root)
    commands = [("run",), ("run", "--verbose")]
    started = [subprocess.Popen([sys.executable, "-m", "orchestration.cli", *args], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for args in commands]
    outputs = [process.communicate(timeout=900) for process in started]
    runs = [subprocess.CompletedProcess(process.args, process.returncode, *output)
            for process, output in zip(started, outputs, strict=True)]
    written = _files(root / "exports")
    export = winback("export", env=env)
    return CliRuns(root, runs, export, written, _files(root / "exports"))


def test_two_runs_started_together_both_succeed_one_after_the_other(cli_runs):
    """Regression: both failed (the DuckDB lock was per step), and on a fresh DAGSTER_HOME the
    loser crashed with SQLite's "table runs already exists"."""
    for run in cli_runs.runs:
        assert run.returncode == 0, run.stderr[-3000:]
        assert run.stderr == ""
        assert "Written" in run.stdout
    second = cli_runs.second.stdout  # exactly one waited
    assert second.splitlines()[0].startswith(WAITED)
    assert "waiting up to 1800 s" in second


def _steps(out: str) -> list[str]:
    return [line for line in out.splitlines() if re.fullmatch(r"  \S.*, \d+\.\d s", line)]


def test_a_run_prints_one_line_per_step_with_its_time_and_no_dbt_output(cli_runs):
    out = cli_runs.plain.stdout
    assert f"Running the pipeline as of {AS_OF}" in out
    steps = _steps(out)
    assert any(line.startswith("  dbt models: ") and "models built, tests" in line
               for line in steps)
    assert any(line.startswith("  export audiences: ") for line in steps)
    assert any(line.startswith(f"  report html: {len(CHARTS)} charts drawn, ") for line in steps)
    assert len(steps) == len({line.split(":")[0] for line in steps})
    assert "START sql" not in out and "Running with dbt" not in out


def test_verbose_adds_dbts_own_output(cli_runs):
    out = cli_runs.verbose.stdout
    assert "Running with dbt" in out and "START sql" in out
    assert _steps(out)  # and the step lines


def test_the_run_that_waited_skips_every_file_the_first_loaded(cli_runs):
    first, second = cli_runs.first.stdout, cli_runs.second.stdout
    assert re.search(rf"^  ingest orders: {ORDER_FILES} new files, 0 skipped, {ORDER_ROWS} rows "
                     r"loaded, \d+\.\d s$", first, re.MULTILINE)
    assert re.search(rf"^  ingest orders: 0 new files, {ORDER_FILES} skipped, 0 rows loaded, "
                     r"\d+\.\d s$", second, re.MULTILINE)


def test_the_summary_groups_audiences_with_paths_relative_to_the_export_folder(cli_runs):
    root, out = cli_runs.root, cli_runs.plain.stdout
    assert re.search(rf"^\s+raw\.orders\s+{ORDER_ROWS} rows$", out, re.MULTILINE)
    assert "inactive" in out and "prospect" in out
    assert f"files under {root / 'exports'}" in out
    assert f"  report     {root / 'report' / 'index.html'}  <- " in out
    assert f"  serving    {root / 'serving' / 'winback.duckdb'}  <- " in out
    relative = f"winback_inactive_email/generic_csv/{AS_OF}/winback_inactive_email.csv"
    [row] = [line for line in out.splitlines() if line.rstrip().endswith(relative)]
    with (root / "exports" / relative).open(encoding="utf-8", newline="") as handle:
        members = list(csv.DictReader(handle))
    assert members  # the count below is of people, not of an empty file
    assert row.split()[:3] == ["winback_inactive_email", "generic_csv", str(len(members))]
    assert str(root / "exports" / "winback_inactive_email") not in out


def test_export_rewrites_the_same_bytes_for_the_same_date(cli_runs):
    export = cli_runs.export
    assert export.returncode == 0, export.stderr[-2000:]
    assert "Exporting" in export.stdout and "export audiences: " in export.stdout
    assert "Running with dbt" not in export.stdout
    assert cli_runs.written and cli_runs.rewritten == cli_runs.written


def test_no_email_phone_or_name_in_output_logs_or_dagster_storage(cli_runs, tmp_path):
    shutil.copytree(cli_runs.root, tmp_path, symlinks=True, dirs_exist_ok=True)
    exported = "".join(p.read_text() for p in (tmp_path / "exports").rglob("*.csv"))
    assert SENTINEL_EMAIL in exported  # the sentinel really went through the pipeline
    # A failing run too: a customers file without its key column fails at ingest.
    landing = tmp_path / "landing"
    write_csv_file(landing / "customers" / "renamed.csv",
                   ["client_id", "first_name", "last_name", "email"],
                   [("C91", SENTINEL_FIRST, SENTINEL_LAST, SENTINEL_EMAIL)])
    failed = winback("run", env=_env(tmp_path))
    assert failed.returncode == 2
    one_line(failed.stderr)
    logs = list((tmp_path / "logs").iterdir())
    assert logs
    commands = [*cli_runs.runs, cli_runs.export, failed]
    texts = {"stdout": "".join(c.stdout for c in commands),
             "stderr": "".join(c.stderr for c in commands)}
    texts.update({str(p): p.read_bytes().decode("utf-8", "replace") for p in logs})
    stored = [p for p in (tmp_path / "dagster_home").rglob("*") if p.is_file()]
    assert any(p.suffix == ".db" for p in stored)
    assert any("compute_logs" in p.parts for p in stored)
    texts.update({str(p): p.read_bytes().decode("utf-8", "replace") for p in stored})
    # The serving publication is PII-free by default (issue 12).
    served = [p for p in (tmp_path / "serving" / "current").rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in served)
    texts.update({str(p): p.read_bytes().decode("utf-8", "replace") for p in served})
    leaks = {(where, s) for where, text in texts.items() for s in (*SENTINELS, *FIXTURE_SECRETS)
             if s.lower() in text.lower()}
    assert leaks == set()

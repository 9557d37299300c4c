"""Issue 12: readers of the serving publication during full runs. A BI tool holds a read-only
connection on the stable DuckDB path and a script reads the Parquet files over and over while
the pipeline publishes twice: the runs succeed and every read sees one complete publication. (The
regression of issue 9: an analyst's read-only connection held during a run failed its dbt
step.)"""

import datetime as dt
import json
import subprocess
import sys
import textwrap

import duckdb
import pytest
from daily_run import run_daily
from landing_fixture import AS_OF

from orchestration.defs.serving.publish import current_publication, stable_database_path

pytestmark = [pytest.mark.integration, pytest.mark.pipeline_runs(2)]

# Each pass resolves `current` once, then checks that the manifest, every Parquet file (sha256
# and rows) and the publication's DuckDB file agree; the connection opened first stays open.
# Passes run back to back while a publication is being written (its staged `.tmp-` folder in
# publications/) and for a few passes after `current` changed, so passes straddle the build, the
# swap and the pruning that follows; in between the reader only looks for the next staged
# folder every 10 ms (passes back to back through whole runs cost the other test worker a core).
READER = textwrap.dedent("""
    import hashlib, json, os, sys, time, duckdb
    serving, stop = sys.argv[1], sys.argv[2]
    publications = os.path.join(serving, "publications")
    held = duckdb.connect(os.path.join(serving, "winback.duckdb"), read_only=True)
    first = json.load(open(os.path.join(serving, "current", "manifest.json")))
    held_rows = {t["schema"] + "." + t["name"]: t["rows"] for t in first["tables"]}
    seen, passes, errors = [], 0, []
    passes_while_publishing, after_change = 0, 0
    parent = os.getppid()
    while True:
        # The stop file, or the test process gone (killed): a reader left looping would hold a
        # core until the machine stops.
        last = os.path.exists(stop) or os.getppid() != parent
        publishing = any(n.startswith(".tmp-") for n in os.listdir(publications))
        if not (publishing or after_change or last):
            time.sleep(0.01)
            continue
        passes_while_publishing += publishing
        after_change = max(0, after_change - 1)
        try:
            folder = os.path.realpath(os.path.join(serving, "current"))
            manifest = json.load(open(os.path.join(folder, "manifest.json")))
            reader = duckdb.connect()
            for table in manifest["tables"]:
                parquet = os.path.join(folder, table["parquet"]["path"])
                digest = hashlib.sha256(open(parquet, "rb").read()).hexdigest()
                rows = reader.execute("SELECT count(*) FROM read_parquet(?)",
                                      [parquet]).fetchall()[0][0]
                if (digest, rows) != (table["parquet"]["sha256"], table["rows"]):
                    errors.append(f"{parquet}: sha256 or rows differ from the manifest")
            database = duckdb.connect(os.path.join(folder, "winback.duckdb"), read_only=True)
            for table in manifest["tables"]:
                name = table["schema"] + "." + table["name"]
                if database.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0] \\
                        != table["rows"]:
                    errors.append(f"{folder}: {name} differs from the manifest")
            database.close()
            reader.close()
            for name, rows in held_rows.items():
                if held.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0] != rows:
                    errors.append(f"held connection: {name} changed")
            if manifest["publication_id"] not in seen:
                seen.append(manifest["publication_id"])
                after_change = 3
            passes += 1
        except Exception as exc:
            errors.append(repr(exc))
        if last:
            break
    print(json.dumps({"seen": seen, "passes": passes,
                      "passes_while_publishing": passes_while_publishing, "errors": errors[:20]}))
""")


def test_readers_during_full_runs_never_break_them_and_always_see_a_whole_publication(
        fixture_run, tmp_path):
    fixture_run.copy(tmp_path)  # the first publication, as of AS_OF
    as_of = dt.date.fromisoformat(AS_OF)
    serving = tmp_path / "serving"
    opened_first = current_publication(serving).name
    stop = tmp_path / "stop-reading"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(serving), str(stop)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        results = [run_daily(tmp_path, as_of + dt.timedelta(days=day), expect_success=False)
                   for day in (1, 2)]
    finally:
        stop.touch()
        out, err = reader.communicate(timeout=120)
    assert reader.returncode == 0, err[-3000:]
    for result in results:
        assert result.success, [e.message for e in result.all_events if e.is_failure]
    read = json.loads(out)
    assert read["errors"] == []
    newest = current_publication(serving).name
    assert read["seen"][0] == opened_first and read["seen"][-1] == newest
    assert read["passes"] > len(read["seen"])
    assert read["passes_while_publishing"] >= len(results)  # it read while each was written
    # The first publication was pruned while the reader held it; the previous one is kept.
    assert len(list((serving / "publications").iterdir())) == 2
    with duckdb.connect(str(stable_database_path(serving)), read_only=True) as con:
        assert con.execute("SELECT max(as_of_date) FROM activity.customer_activity").fetchone() \
            == (as_of + dt.timedelta(days=2),)

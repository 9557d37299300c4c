"""What the engine comparison modules share (tests/integration/test_engine_parity_postgres.py,
test_pipeline_on_postgres.py and test_pipeline_on_spark.py): the marts, and the export files,
are the same on PostgreSQL and on Spark as on DuckDB.

The hand-made landing fixture runs through the DuckDB pipeline (the shared fixture run). For
the dbt layer alone on PostgreSQL, the tables dbt reads as sources (raw.*, hygiene.*,
predictions.*) are copied through orchestration/lib/engines.py into a fresh database (COPY) and
`dbt build` (models, data tests, unit tests, contracts) runs on it for the same as-of date; on
Spark the whole pipeline runs (test_pipeline_on_spark.py) and the unit tests run after it
(dbt_unit_tests). Every mart must have DuckDB's row count and order-independent checksum (values
normalised across engines: decimals, doubles, timestamps, booleans).

Every mart is compared, the audience portfolio's (audience_overlap, audience_exclusions_daily and
the rest of marts/activation) included.

Each engine is a module of its own so that pytest-xdist (`--dist loadscope`, one module per
worker at a time) runs them on different workers from the start: Spark alone takes minutes.

Needs the engines extra (`make test EXTRAS=dev,engines`, which .ci/run installs),
WINBACK_TEST_POSTGRES_URL (a role that may create databases) and Java. Locally a missing one
skips the test with the reason; under CI=true it fails instead.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from landing_fixture import AS_OF

from orchestration.defs.dbt.args import dbt_engine_env, dbt_vars
from orchestration.lib.audiences import audiences_for
from orchestration.lib.engines import (
    DuckDBEngine,
    Engine,
    SparkEngine,
    copy_query,
    normalised_rows,
)
from orchestration.lib.policies import policies_for
from orchestration.lib.settings import (
    DBT_PROJECT_DIR,
    EngineSettings,
    PostgresSettings,
    SparkSettings,
    load_engine_settings,
    load_settings,
)

BUILD_THREADS = 4


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {reason}: .ci/run must provide it")
    pytest.skip(f"engine comparison skipped: {reason}")


def postgres_settings() -> PostgresSettings:
    """The test server (WINBACK_TEST_POSTGRES_URL), with dbt-postgres installed."""
    url = os.environ.get("WINBACK_TEST_POSTGRES_URL")
    if not url:
        unavailable("WINBACK_TEST_POSTGRES_URL is unset")
    if importlib.util.find_spec("dbt.adapters.postgres") is None:
        unavailable("dbt-postgres is not installed (make test EXTRAS=dev,engines)")
    env = load_settings(environ={"WINBACK_ENGINE": "postgres",
                                 "WINBACK_POSTGRES_URL": url}).engine
    assert env.postgres is not None
    return env.postgres


@contextmanager
def new_postgres_database() -> Iterator[PostgresSettings]:
    """A database of its own (tests may run in parallel), dropped afterwards. Its collation is
    ICU's en-US, as production databases' usually are a language's, not the server's C: a model
    whose results depend on how strings sort shows up here."""
    import psycopg2

    server = postgres_settings()
    name = f"winback_parity_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(**server.dsn())
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"create database {name} template template0 "
                    "locale_provider icu icu_locale 'en-US'")
    try:
        yield PostgresSettings(host=server.host, port=server.port, user=server.user,
                               database=name, password=server.password)
    finally:
        with admin.cursor() as cur:
            cur.execute(f"drop database if exists {name} with (force)")
        admin.close()


def _manifest() -> dict:
    return json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text())


def source_tables() -> list[tuple[str, str]]:
    """(schema, table) of every dbt source."""
    return sorted({(s["schema"], s["identifier"]) for s in _manifest()["sources"].values()})


def mart_tables() -> list[tuple[str, str]]:
    """(schema, table) of every model under models/marts."""
    return sorted(
        (node["schema"], node["alias"]) for node in _manifest()["nodes"].values()
        if node["resource_type"] == "model" and node["fqn"][1] == "marts"
    )


def table_fingerprint(engine: Engine, schema: str, table: str) -> dict:
    """Row count, columns, and an order-independent checksum of the whole table and of each
    column (sums of per-row sha256 prefixes mod 2^64), to name what differs without values."""
    modulus = 2**64
    rows = 0
    total = 0
    per_column: list[int] = []
    columns: list[str] = []
    for batch in engine.read_batches(f"select * from {schema}.{table}"):
        columns = sorted(name.lower() for name in batch.schema.names)
        per_column = per_column or [0] * len(columns)
        for row in normalised_rows([batch]):
            rows += 1
            digest = hashlib.sha256("\x1f".join(row).encode()).digest()
            total = (total + int.from_bytes(digest[:8], "big")) % modulus
            for i, value in enumerate(row):
                part = hashlib.sha256(value.encode()).digest()
                per_column[i] = (per_column[i] + int.from_bytes(part[:8], "big")) % modulus
    return {"rows": rows, "checksum": total, "columns": dict(zip(columns, per_column, strict=True))}


def mart_fingerprints(engine: Engine) -> dict[str, dict]:
    return {f"{s}.{t}": table_fingerprint(engine, s, t) for s, t in mart_tables()}


def duckdb_fingerprints(warehouse: Path) -> dict[str, dict]:
    """The fingerprints of the marts of a DuckDB run (read only)."""
    engine = DuckDBEngine(warehouse, read_only=True)
    try:
        return mart_fingerprints(engine)
    finally:
        engine.close()


def spark_settings(warehouse_dir: Path) -> SparkSettings:
    """The Spark settings a run in this environment gets for the warehouse `warehouse_dir`,
    with the suite's JVM options (tests/conftest.py, WINBACK_SPARK_JAVA_OPTIONS)."""
    engine = load_engine_settings({**os.environ, "WINBACK_ENGINE": "spark",
                                   "WINBACK_SPARK_WAREHOUSE": str(warehouse_dir)})
    assert engine.spark is not None
    return engine.spark


def spark_mart_fingerprints(warehouse_dir: Path) -> dict[str, dict]:
    """The fingerprints of the marts of the local Spark warehouse `warehouse_dir`, read in a
    child process (`python tests/engine_parity.py DIR`): its JVM opens the warehouse's Derby
    metastore and exits with it, as the pipeline's copies do, so this test process starts no
    JVM that would keep the metastore, or a Spark session of other settings, for later tests."""
    done = subprocess.run([sys.executable, __file__, str(warehouse_dir)], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def export_sha256(export_dir: Path) -> dict[str, str]:
    """sha256 of every export file's bytes, by its path under the export folder."""
    return {
        str(path.relative_to(export_dir)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(export_dir.rglob("*")) if path.is_file()
    }


def dbt_unit_tests(engine: EngineSettings, tmp: Path) -> tuple[int, list[str]]:
    """`dbt test --select test_type:unit` on the engine's built warehouse, as a `dbt` subprocess
    (on Spark a JVM of its own, as in production), with BUILD_THREADS threads: the unit tests
    that passed, and one line per one that did not (or dbt's error)."""
    from orchestration.defs.dbt.args import dbt_executable

    settings = load_settings(environ={}, overrides={"WINBACK_AS_OF": AS_OF,
                                                    "WINBACK_WAREHOUSE": str(tmp / "unused")})
    settings = dataclasses.replace(settings, engine=engine)
    variables = dbt_vars(settings, policies_for(settings), audiences_for(settings))
    done = subprocess.run(
        [dbt_executable(), "test", "--select", "test_type:unit",
         "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
         "--target-path", str(tmp / "target"), "--log-path", str(tmp / "logs"),
         "--vars", json.dumps(variables), "--threads", str(BUILD_THREADS)],
        capture_output=True, text=True, check=False,
        env={**os.environ, **dbt_engine_env(engine)})
    results_file = tmp / "target" / "run_results.json"
    if not results_file.exists():
        return 0, [f"dbt test failed before running (exit {done.returncode}): "
                   f"{done.stdout[-2000:]}"]
    results = [r for r in json.loads(results_file.read_text())["results"]
               if r["unique_id"].startswith("unit_test.")]  # not the on-run-end hook's
    passed = sum(r["status"] == "pass" for r in results)
    failed = [f"{r['unique_id']}: {r['status']}" for r in results if r["status"] != "pass"]
    if done.returncode != 0 and not failed:
        failed.append(f"dbt test exit {done.returncode}: {done.stdout[-2000:]}")
    return passed, failed


def differences(expected: dict, actual: dict) -> list[str]:
    """One line per table that differs: counts, missing columns, columns whose values differ
    (names only: the marts hold personal data)."""
    lines = []
    for table, want in expected.items():
        got = actual.get(table)
        if got == want:
            continue
        if got is None:
            lines.append(f"{table}: missing")
            continue
        columns = sorted(set(want["columns"]) ^ set(got["columns"]))
        differing = sorted(c for c in set(want["columns"]) & set(got["columns"])
                           if want["columns"][c] != got["columns"][c])
        lines.append(f"{table}: rows {got['rows']} (duckdb {want['rows']}); "
                     f"columns only on one side {columns}; values differ in {differing}")
    return lines


def copy_sources(warehouse: Path, target: Engine) -> None:
    source = DuckDBEngine(warehouse, read_only=True)
    try:
        for schema, table in source_tables():
            copy_query(source, f"select * from {schema}.{table}", target, schema, table)
    finally:
        source.close()


def dbt_build(engine: EngineSettings, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """`dbt build` of every model, data test, unit test and contract, in this process. Returns what
    failed: one line per node that did not pass, and dbt's exception; empty when all passed.

    With BUILD_THREADS dbt threads (the profiles say 1): on a small table a Spark query is mostly
    planning and job start-up latency, so four at a time built the nodes about twice as fast as
    one (measured side by side, 168 against 68 of 220 nodes in the same minutes); independent
    nodes still build in the dependency order dbt resolves, as in production."""
    from dbt.cli.main import dbtRunner

    settings = load_settings(environ={}, overrides={"WINBACK_AS_OF": AS_OF,
                                                    "WINBACK_WAREHOUSE": str(tmp / "unused")})
    settings = dataclasses.replace(settings, engine=engine)
    variables = dbt_vars(settings, policies_for(settings), audiences_for(settings))
    for name, value in dbt_engine_env(engine).items():
        monkeypatch.setenv(name, value)
    result = dbtRunner().invoke([
        "build", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(tmp / "target"), "--log-path", str(tmp / "logs"),
        "--vars", json.dumps(variables), "--no-partial-parse", "--quiet",
        "--threads", str(BUILD_THREADS),
    ])
    failed = [f"{r.node.name}: {r.status}" for r in (result.result or [])
              if str(r.status) not in ("success", "pass", "no-op")]  # no-op: exposures
    if not result.success:
        failed.append(f"dbt build failed: {result.exception}")
    return failed


if __name__ == "__main__":
    # spark_mart_fingerprints' child: the fingerprints as one line of JSON on stdout.
    print(json.dumps(mart_fingerprints(SparkEngine(spark_settings(Path(sys.argv[1]))))),
          flush=True)

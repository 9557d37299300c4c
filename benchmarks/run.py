"""Benchmark runner: the whole pipeline (`winback run`) against the floor, cold and next day.

For each size: generate the landing folder (unless it exists), run the floor (floor.py) as of the
end date, run `winback run --as-of <end date>` cold on a fresh warehouse, export folder and
DAGSTER_HOME, then add the next day's files (generate.py --next-day) and run
`winback run --as-of <end date + 1>` on the same warehouse. The `tiny` size also reruns its end
date (a warm rerun of the same date on 5,000 orders): that run's CPU is the pipeline's fixed cost.
A larger size's next day is set against two fixed costs, both the tiny size's (this invocation's,
else the newest in the results file): its warm rerun, and its next day, which pays what any day
with new rows pays whatever its size (Great Expectations imported to validate them, incremental
models updated, the models refitted). With --rerun-next-day the next day's date runs once more
on the state it left: nothing is new, so that run is what producing a day's outputs for every
customer costs at the size, and the next day minus it is what the day's new rows cost.
Single runs on a shared machine differ by 1.5-2 s of CPU, a twentieth of a 1m cold run: with
--repeat N the tiny warm rerun runs N times, and the next day N times, each on a copy of the state
the day before left, and the record keeps the run with the median CPU (every run's CPU beside it),
which the ratios use. The machine's speed also drifts over minutes, between the tiny runs and a
larger size's: so a larger size's repeated next day is each time followed by a rerun of the tiny
size's newest date on the tiny state of the same workdir (nothing new: its fixed cost, measured
beside it), and `next_minus_fixed_alongside_over_cold_cpu` is the median of the pairs' differences
over cold.

Every measured command is a child process: CPU = user + sys of the child and its descendants (dbt
runs as a grandchild) from os.wait4, peak RSS = the largest max-RSS among them (not their sum).
The runner is the subreaper of its descendants, so a grandchild its parent did not wait for (a
JVM of Spark's that outlives dbt's process) is reaped by the runner and its CPU added
("orphans" in the record). On PostgreSQL the server's CPU is not in the run's (its backends are
the postmaster's children): the record's "postgres_server" gives it apart, read from /proc of the
local server's processes (PostgresServerCpu).
The load average is read before and after each run. Step times come from the Dagster instance in
DAGSTER_HOME (get_run_step_stats of the newest run). Results are appended as JSON lines to
benchmarks/results/results.jsonl and printed as a table.

    .venv/bin/python benchmarks/run.py tiny 1m           # sizes: tiny 1m 10m 50m
    .venv/bin/python benchmarks/run.py 10m --skip-next-day --workdir /tmp/winback-bench
    .venv/bin/python benchmarks/run.py tiny 1m --repeat 5  # medians of five warm reruns, next days

Sizes: tiny = 1,000 customers / 5,000 orders, 1m = 100,000 / 1,000,000, 10m = 1,000,000 /
10,000,000, 50m = 5,000,000 / 50,000,000. Data is generated through --end-date (default: three
days ago, so the next day still lies in the past: the loader quarantines future timestamps).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENV_BIN = ROOT / ".venv" / "bin"
SIZES = {  # name: (customers, orders)
    "tiny": (1_000, 5_000),
    "1m": (100_000, 1_000_000),
    "10m": (1_000_000, 10_000_000),
    "50m": (5_000_000, 50_000_000),
}


def load() -> float:
    return round(os.getloadavg()[0], 2)


def machine() -> dict:
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    cpu_model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"host": platform.node(), "nproc": os.cpu_count(), "mem_gb": mem_gb,
            "cpu": cpu_model, "python": platform.python_version()}


def _become_subreaper() -> bool:
    """Make this process the subreaper of its descendants (Linux prctl PR_SET_CHILD_SUBREAPER):
    a grandchild whose parent exits without waiting for it (e.g. a JVM that outlives dbt's or a
    copy child's Python process) is re-parented to this process instead of to init, so that its
    CPU can still be reaped and counted (`reap_orphans`)."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER


def reap_orphans(grace_s: float = 60.0) -> dict:
    """Wait for the descendants re-parented to this process (see _become_subreaper) and sum
    their CPU; the ones still running after `grace_s` are counted, not waited for."""
    cpu, rss, count = 0.0, 0, 0
    deadline = time.monotonic() + grace_s
    while True:
        try:
            pid, _, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
            continue
        cpu += usage.ru_utime + usage.ru_stime
        rss = max(rss, usage.ru_maxrss)
        count += 1
    running = sum(1 for proc in Path("/proc").glob("[0-9]*") if _ppid(proc) == os.getpid())
    return {"cpu_s": round(cpu, 2), "peak_rss_mb": round(rss / 1024), "reaped": count,
            "still_running": running}


def _ppid(proc: Path) -> int | None:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


class PostgresServerCpu:
    """CPU of the local PostgreSQL server during a run, which is not in the run's own CPU (the
    backends are children of the postmaster, not of the run). Read from /proc (stat fields
    utime, stime, and the postmaster's cutime, cstime of the backends it has reaped):

    - `server_cpu_s`: every PostgreSQL process of the host, the postmaster's reaped children
      included, end minus start: all databases, so an upper bound when other sessions use
      the server;
    - `db_backends_cpu_s`: the backends connected to the run's database, sampled every
      `interval` s (the last sample of each backend): a lower bound of the run's own share.

    None when no PostgreSQL process runs on this host (a remote server)."""

    def __init__(self, database: str, interval: float = 0.25) -> None:
        import threading

        self.database, self.interval = database, interval
        self.tick = os.sysconf("SC_CLK_TCK")
        self.per_backend: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @staticmethod
    def _processes() -> list[tuple[int, list[str], str]]:
        out = []
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                stat = (proc / "stat").read_text()
                if "(postgres)" not in stat:
                    continue
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                    errors="replace")
            except OSError:
                continue
            out.append((int(proc.name), stat.rsplit(")", 1)[1].split(), cmdline))
        return out

    def _total(self) -> float | None:
        procs = self._processes()
        pids = {pid for pid, _, _ in procs}
        if not procs:
            return None
        ticks = 0
        for _, fields, _ in procs:  # fields[0] is the state: utime = [11], stime = [12]
            ticks += int(fields[11]) + int(fields[12])
            if int(fields[1]) not in pids:  # the postmaster: add the backends it has reaped
                ticks += int(fields[13]) + int(fields[14])
        return ticks / self.tick

    def _sample(self) -> None:
        while True:
            for pid, fields, cmdline in self._processes():
                words = cmdline.split()
                if self.database in words[1:5]:  # "postgres: [cluster:] user database host"
                    self.per_backend[pid] = (int(fields[11]) + int(fields[12])) / self.tick
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> PostgresServerCpu:
        self.start = self._total()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        end = self._total()
        self.result = {
            "server_cpu_s": None if self.start is None or end is None
            else round(end - self.start, 2),
            "db_backends_cpu_s": round(sum(self.per_backend.values()), 2),
            "db_backends": len(self.per_backend)}


class TreeCpu:
    """CPU of a process and its descendants over time, sampled from /proc every `interval` s:
    (epoch seconds, CPU seconds so far) pairs, so the CPU of a stretch of the run (a step) can be
    told. Each live process of the tree counts its utime, stime and the cutime, cstime of the
    children it has reaped, so a descendant's CPU stays counted after it exits; descendants
    reparented to the runner (orphans) leave the tree and are missing from the samples."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        import threading

        self.pid, self.interval = pid, interval
        self.tick = os.sysconf("SC_CLK_TCK")
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _total(self) -> float | None:
        fields: dict[int, list[str]] = {}
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                fields[int(proc.name)] = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
        if self.pid not in fields:
            return None
        children: dict[int, list[int]] = {}
        for pid, stat in fields.items():
            children.setdefault(int(stat[1]), []).append(pid)
        total, stack = 0, [self.pid]
        while stack:
            pid = stack.pop()
            total += sum(int(v) for v in fields[pid][11:15])  # utime stime cutime cstime
            stack += children.get(pid, [])
        return total / self.tick

    def _sample(self) -> None:
        while True:
            total = self._total()
            if total is not None:
                self.samples.append((time.time(), total))
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> TreeCpu:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def between(self, start: float, end: float) -> float | None:
        """CPU seconds between two epoch times (linear between samples)."""
        if len(self.samples) < 2:
            return None

        def at(moment: float) -> float:
            for (t0, c0), (t1, c1) in zip(self.samples, self.samples[1:], strict=False):
                if moment <= t1:
                    return c0 if moment <= t0 else c0 + (c1 - c0) * (moment - t0) / (t1 - t0)
            return self.samples[-1][1]

        return round(at(end) - at(start), 2)


def measure(cmd: list[str], env: dict, log: Path, postgres_db: str | None = None,
            tree: list[TreeCpu] | None = None, cwd: Path = ROOT) -> dict:
    """Run `cmd` as a child in `cwd`; its CPU (with descendants, orphans included), wall, peak
    RSS, load before/after; with `postgres_db`, the PostgreSQL server's CPU (PostgresServerCpu);
    with `tree`, a list that gets the child's TreeCpu samples (per-step CPU)."""
    before = load()
    started = time.perf_counter()
    with log.open("w") as out, contextlib.ExitStack() as stack:
        server = stack.enter_context(PostgresServerCpu(postgres_db)) if postgres_db else None
        # A process group of its own, so that a stopped benchmark stops the whole run with it.
        child = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        if tree is not None:
            tree.append(stack.enter_context(TreeCpu(child.pid)))
        try:
            _, status, usage = os.wait4(child.pid, 0)
        except BaseException:
            stop_process_group(child)
            raise
        orphans = reap_orphans()
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    own = usage.ru_utime + usage.ru_stime
    result = {"ok": code == 0, "exit_code": code,
              "cpu_s": round(own + orphans["cpu_s"], 2),
              "user_s": round(usage.ru_utime, 2), "sys_s": round(usage.ru_stime, 2),
              "orphans": orphans, "wall_s": round(wall, 2),
              "peak_rss_mb": max(round(usage.ru_maxrss / 1024), orphans["peak_rss_mb"]),
              "load_start": before, "load_end": load(), "log": str(log)}
    if server:
        result["postgres_server"] = server.result
    return result


def stop_process_group(child: subprocess.Popen, grace_s: float = 30.0) -> None:
    """End `child` and everything in its process group (dbt, its JVMs): SIGTERM, then SIGKILL
    to what is left after `grace_s`. A benchmark stopped with Ctrl-C or SIGTERM used to leave
    its `winback run` going, which then held the warehouse's run lock against the next one."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(timeout=grace_s)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()


def exit_on_sigterm() -> None:
    """SIGTERM ends the runner as Ctrl-C does: through measure's clean-up of the running
    command's process group."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def check(result: dict, what: str) -> None:
    if not result["ok"]:
        tail = Path(result["log"]).read_text(errors="replace").splitlines()[-25:]
        sys.exit(f"run: {what} failed (exit {result['exit_code']}); last lines of "
                 f"{result['log']}:\n" + "\n".join(tail))


def step_stats(dagster_home: Path) -> list[dict]:
    """Step durations of the newest run in `dagster_home` (in a child: a fresh instance)."""
    out = subprocess.run(
        [sys.executable, __file__, "--step-stats", str(dagster_home)], cwd=ROOT,
        env={**os.environ, "DAGSTER_HOME": str(dagster_home)},
        capture_output=True, text=True)
    if out.returncode != 0:
        return [{"error": out.stderr.strip().splitlines()[-1:]}]
    return json.loads(out.stdout)


def _print_step_stats(dagster_home: str) -> None:
    import dagster as dg

    instance = dg.DagsterInstance.get()
    runs = instance.get_runs(limit=1)
    if not runs:
        print("[]")
        return
    stats = instance.get_run_step_stats(runs[0].run_id)
    rows = [{"step": s.step_key, "s": round((s.end_time or 0) - (s.start_time or 0), 2),
             "status": str(s.status.value if s.status else None),
             **({"start": s.start_time, "end": s.end_time} if s.start_time and s.end_time
                else {})} for s in stats]
    # On PostgreSQL and Spark a dbt step logs when the sources are written to the engine
    # and when dbt's tables are copied back (orchestration/defs/dbt/assets.py): seconds from
    # the step's start, so the copies can be told apart from dbt's own time.
    starts = {s.step_key: s.start_time for s in stats if s.start_time}
    marks = {"source rows written to": "sources_written_at_s",
             "rows of dbt tables copied from": "tables_copied_back_at_s"}
    for entry in instance.all_logs(runs[0].run_id):
        message = entry.user_message or ""
        for text, field in marks.items():
            if text in message and entry.step_key in starts:
                row = next(r for r in rows if r["step"] == entry.step_key)
                row[field] = round(entry.timestamp - starts[entry.step_key], 2)
                row[field.replace("_at_s", "_rows")] = int(message.split()[0])
    for row in rows:  # dbt's own figures, from the invocation's run_results.json
        found = sorted((ROOT / "dbt_project" / "target").glob(
            f"{row['step']}-{runs[0].run_id[:7]}-*/run_results.json"))
        if found and row["step"] in starts:
            results = json.loads(found[-1].read_text())
            done = dt.datetime.fromisoformat(results["metadata"]["generated_at"].replace(
                "Z", "+00:00")).timestamp()
            row["dbt_elapsed_s"] = round(results["elapsed_time"], 2)
            row["dbt_done_at_s"] = round(done - starts[row["step"]], 2)
            nodes = sorted(results["results"], key=lambda r: -r["execution_time"])
            row["dbt_slowest"] = {r["unique_id"].split(".", 2)[-1]: round(r["execution_time"], 2)
                                  for r in nodes[:6]}
    rows.sort(key=lambda r: -r["s"])
    print(json.dumps(rows))


def platforms_without_minimums(state: Path) -> Path:
    """config/platforms.yml without the ad platforms' minimum audience sizes: the tiny size's
    lists (e.g. 67 do-not-contact customers) are below Google's and Meta's 100, and a list below
    the minimum fails the export step by design (README, Platforms)."""
    data = yaml.safe_load((ROOT / "config" / "platforms.yml").read_text(encoding="utf-8"))
    for entry in data["platforms"].values():
        entry.pop("min_rows", None)
        entry.pop("min_rows_source", None)
    path = state / "platforms_without_minimums.yml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def warehouse_file(state: Path) -> Path:
    """The DuckDB warehouse of the runs whose folders are under `state`."""
    return state / "warehouse" / "winback.duckdb"


def pipeline_env(landing: Path, state: Path, *, ad_minimums: bool = True,
                 engine: str = "duckdb", postgres_url: str | None = None,
                 duckdb_memory_limit: str | None = None) -> dict:
    """The run's environment: everything under `state` (a Spark run's warehouse folder too,
    so a cold run, which removes `state`, starts from an empty Spark warehouse)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WINBACK_", "DAGSTER_"))}
    env["WINBACK_ENGINE"] = engine
    if engine == "postgres":
        env["WINBACK_POSTGRES_URL"] = postgres_url
    elif engine == "spark":
        env["WINBACK_SPARK_WAREHOUSE"] = str(state / "spark-warehouse")
    home = state / "dagster_home"  # `winback` writes the project's dagster.yaml there
    home.mkdir(parents=True, exist_ok=True)
    if duckdb_memory_limit:
        env["WINBACK_DUCKDB_MEMORY_LIMIT"] = duckdb_memory_limit
    if not ad_minimums:
        env["WINBACK_PLATFORMS"] = str(platforms_without_minimums(state))
    env.update({
        "WINBACK_LANDING_DIR": str(landing),
        "WINBACK_WAREHOUSE": str(warehouse_file(state)),
        "WINBACK_EXPORT_DIR": str(state / "exports"),
        "WINBACK_SERVING_DIR": str(state / "serving"),
        "DAGSTER_HOME": str(home),
        "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
    })
    return env


def empty_postgres(url: str) -> None:
    """Drop the schemas a run creates in the PostgreSQL database (the pipeline's sources and
    run context, every dbt schema, the GX gate's state), so that a cold run starts from
    nothing as on DuckDB."""
    import psycopg2
    from sqlalchemy.engine import make_url

    manifest = json.loads((ROOT / "dbt_project" / "target" / "manifest.json").read_text())
    schemas = {"meta", "quality"} | {n["schema"] for n in (*manifest["nodes"].values(),
                                                *manifest["sources"].values()) if n.get("schema")}
    parsed = make_url(url)
    con = psycopg2.connect(host=parsed.host, port=parsed.port or 5432, user=parsed.username,
                           password=parsed.password or "", dbname=parsed.database)
    con.autocommit = True
    with con.cursor() as cur:
        for schema in sorted(schemas):
            cur.execute(f'drop schema if exists "{schema}" cascade')
    con.close()


def postgres_database(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).database


def pipeline(as_of: dt.date, env: dict, log: Path, cwd: Path = ROOT) -> dict:
    """`winback run --as-of` in `cwd` (the code on its PYTHONPATH, if set, runs); a failed run
    is recorded (ok false, its log kept) and ends the size, not the runner."""
    database = (postgres_database(env["WINBACK_POSTGRES_URL"])
                if env.get("WINBACK_ENGINE") == "postgres" else None)
    tree: list[TreeCpu] = []
    result = measure([str(VENV_BIN / "winback"), "run", "--as-of", as_of.isoformat()], env, log,
                     postgres_db=database, tree=tree, cwd=cwd)
    result["steps"] = step_stats(Path(env["DAGSTER_HOME"]))
    for step in result["steps"]:
        if "start" in step:
            step["cpu_s"] = tree[0].between(step.pop("start"), step.pop("end"))
    if not result["ok"]:
        tail = log.read_text(errors="replace").splitlines()[-6:]
        result["error"] = "\n".join(tail)
        print(f"winback run --as-of {as_of} FAILED (exit {result['exit_code']}); see {log}:\n"
              + "\n".join(tail), file=sys.stderr, flush=True)
    return result


def gen(args: argparse.Namespace, customers: int, orders: int, landing: Path, log: Path,
        next_day: bool = False) -> dict:
    cmd = [sys.executable, str(HERE / "generate.py"), "--orders", str(orders),
           "--customers", str(customers), "--out", str(landing), "--seed", str(args.seed),
           "--end-date", args.end_date.isoformat(), "--format", args.format]
    result = measure(cmd + (["--next-day"] if next_day else []), dict(os.environ), log)
    check(result, "generate.py")
    result["rows"] = json.loads(log.read_text().splitlines()[-1])["rows"]
    return result


def previous_tiny(results: Path) -> dict | None:
    """The newest tiny record of `results` with a warm rerun: the fixed costs of a run."""
    if not results.exists():
        return None
    tiny = None
    for line in results.read_text().splitlines():
        record = json.loads(line)
        if record.get("size") == "tiny" and record.get("warm_rerun"):
            tiny = record
    return tiny


def _middle(values: list) -> object:
    """The median of `values` as the runner takes it: of an even count the lower middle one, a
    value that was measured rather than a mean of two."""
    return sorted(values)[(len(values) - 1) // 2]


def _median(series: list[dict]) -> dict:
    """The run with the median CPU (_middle), with every run's CPU in order as `runs_cpu_s`."""
    cpus = [r["cpu_s"] for r in series]
    chosen = series[cpus.index(_middle(cpus))]
    chosen["runs_cpu_s"] = cpus
    return chosen


def _series(runs: list[Callable[[int], dict]], times: int,
            restore: Callable[[], None] | None) -> list[list[dict]] | dict:
    """Each of `runs` in turn, `times` times (`restore()` before each turn but the first): every
    run's result per run function, or the first failed run, which ends the series."""
    results: list[list[dict]] = [[] for _ in runs]
    for i in range(times):
        if i and restore is not None:
            restore()
        for run, done in zip(runs, results, strict=True):
            done.append(run(i))
            if not done[-1]["ok"]:
                return done[-1]
    return results


def median_run(run: Callable[[int], dict], times: int,
               restore: Callable[[], None] | None = None) -> dict:
    """`run(i)` for i in 0..times-1, `restore()` before each but the first; the median run
    (_median; a single run as it is). A failed run ends the series and is returned."""
    series = _series([run], times, restore)
    if isinstance(series, dict):
        return series
    return _median(series[0]) if times > 1 else series[0][0]


@contextlib.contextmanager
def state_restorer(state: Path, times: int) -> Iterator[Callable[[], None] | None]:
    """A function that puts back `state` as it is now (a copy beside it, removed at the end), for
    repeating a run that changes it; None when the run happens once."""
    if times < 2:
        yield None
        return
    kept = state.with_name(state.name + ".kept")
    shutil.rmtree(kept, ignore_errors=True)
    shutil.copytree(state, kept, symlinks=True)

    def restore() -> None:
        shutil.rmtree(state)
        shutil.copytree(kept, state, symlinks=True)

    try:
        yield restore
    finally:
        shutil.rmtree(kept, ignore_errors=True)


def alternated(run: Callable[[int], dict], fixed: Callable[[int], dict], times: int,
               restore: Callable[[], None] | None = None) -> tuple[dict, dict, list[float]]:
    """`run(i)` and right after it `fixed(i)`, `times` times (`restore()` before each `run` but
    the first): each run's fixed cost measured beside it, so a drift of the machine's speed
    between the two series does not enter their difference. Returns each series' median run
    (_median) and every pair's difference run - fixed. A failed run ends the series and is
    returned first."""
    series = _series([run, fixed], times, restore)
    if isinstance(series, dict):
        return series, {}, []
    runs, fixes = series
    return _median(runs), _median(fixes), [round(r["cpu_s"] - f["cpu_s"], 2)
                                           for r, f in zip(runs, fixes, strict=True)]


def newest_run_date(state: Path) -> dt.date | None:
    """The newest as-of date a DuckDB run recorded in `state`'s warehouse (None: no run)."""
    import duckdb

    warehouse = warehouse_file(state)
    if not warehouse.exists():
        return None
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("SELECT max(as_of_date) FROM inactivity.customer_status_runs"
                           ).fetchone()[0]


def _log(logs: Path, name: str, i: int) -> Path:
    return logs / (f"{name}.log" if i == 0 else f"{name}-{i + 1}.log")


def bench(args: argparse.Namespace, name: str, tiny: dict | None) -> dict:
    customers, orders = SIZES[name]
    base = args.workdir / name
    landing, state, logs = base / "landing", base / "state", base / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    next_day = args.end_date + dt.timedelta(days=1)
    record: dict = {"size": name, "customers": customers, "orders": orders,
                    "end_date": args.end_date.isoformat(), "format": args.format,
                    "engine": args.engine, "duckdb_memory_limit": args.duckdb_memory_limit,
                    "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    "machine": machine(), "landing": str(landing)}
    say = lambda msg: print(f"[{name} {time.strftime('%H:%M:%S')} load {load()}] {msg}",  # noqa: E731
                            flush=True)
    if not (landing / "orders").is_dir():
        say(f"generating {customers:,} customers / {orders:,} orders")
        record["generate"] = gen(args, customers, orders, landing, logs / "generate.log")
    for stale in landing.glob(f"*/*-{next_day.isoformat()}.*"):
        stale.unlink()  # a previous next-day file must not reach the cold run
    if not args.skip_floor:
        say("floor")
        floor = measure([sys.executable, str(HERE / "floor.py"), "--landing", str(landing),
                         "--as-of", args.end_date.isoformat()], dict(os.environ),
                        logs / "floor.log")
        check(floor, "floor.py")
        floor.update(json.loads(Path(floor["log"]).read_text().splitlines()[-1]))
        record["floor"] = floor
    if args.floor_only:
        return record
    if args.next_day_only:
        if not warehouse_file(state).exists():
            sys.exit(f"run: --next-day-only needs the cold run's state in {state}")
        env = pipeline_env(landing, state, ad_minimums=name != "tiny",
                           engine=args.engine, postgres_url=args.postgres_url,
                           duckdb_memory_limit=args.duckdb_memory_limit)
    else:
        shutil.rmtree(state, ignore_errors=True)
        if args.engine == "postgres":
            empty_postgres(args.postgres_url)
        env = pipeline_env(landing, state, ad_minimums=name != "tiny",
                           engine=args.engine, postgres_url=args.postgres_url,
                           duckdb_memory_limit=args.duckdb_memory_limit)
        say(f"cold run as of {args.end_date}")
        record["cold"] = pipeline(args.end_date, env, logs / "cold.log")
        if not record["cold"]["ok"]:
            return record
    if name == "tiny" and not args.next_day_only:
        say(f"warm rerun as of {args.end_date} (fixed cost)"
            + (f", {args.repeat} times" if args.repeat > 1 else ""))
        record["warm_rerun"] = median_run(
            lambda i: pipeline(args.end_date, env, _log(logs, "warm", i)), args.repeat)
        tiny = record
    if not args.skip_next_day:
        say("next-day files")
        record["generate_next_day"] = gen(args, customers, orders, landing,
                                          logs / "generate-next-day.log", next_day=True)
        say(f"next-day run as of {next_day}"
            + (f", {args.repeat} times from the same state" if args.repeat > 1 else ""))
        tiny_state = args.workdir / "tiny" / "state"
        tiny_date = (newest_run_date(tiny_state)
                     if name != "tiny" and args.repeat > 1 and args.engine == "duckdb" else None)
        with state_restorer(state, args.repeat) as restore:
            def day(i: int) -> dict:
                return pipeline(next_day, env, _log(logs, "next-day", i))

            if tiny_date is None:
                record["next_day"] = median_run(day, args.repeat, restore)
            else:
                say(f"each followed by a rerun of the tiny size's {tiny_date} (its fixed cost, "
                    "measured beside it)")
                tiny_env = pipeline_env(args.workdir / "tiny" / "landing", tiny_state,
                                        ad_minimums=False,
                                        duckdb_memory_limit=args.duckdb_memory_limit)
                record["next_day"], record["fixed_alongside"], record["next_minus_fixed_pairs"] = (
                    alternated(day, lambda i: pipeline(tiny_date, tiny_env,
                                                       _log(logs, "tiny-rerun-alongside", i)),
                               args.repeat, restore))
        if args.rerun_next_day and record["next_day"]["ok"]:
            say(f"rerun as of {next_day} (nothing new: what the size's daily outputs cost)")
            record["next_day_rerun"] = pipeline(next_day, env, logs / "next-day-rerun.log")
    record["ratios"] = ratios(record, tiny)
    record["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return record


# The dbt steps of a run: winback_dbt_models and winback_dbt_models_after_statistics
# (orchestration/defs/dbt/assets.py).
DBT_STEP_PREFIX = "winback_dbt_"


def step_excess(day: dict | None, fixed: dict | None) -> dict[str, float]:
    """CPU seconds of each step of the run `day` above the same step of the run `fixed` (the
    whole step where `fixed` did not run it), largest first: where a next day's cost above the
    fixed cost goes. Empty unless both runs have their steps' CPU."""
    def cpu(run: dict | None) -> dict[str, float]:
        return {s["step"]: s["cpu_s"] for s in (run or {}).get("steps") or []
                if "step" in s and s.get("cpu_s") is not None}

    day_cpu, fixed_cpu = cpu(day), cpu(fixed)
    if not day_cpu or not fixed_cpu:
        return {}
    excess = {step: round(c - fixed_cpu.get(step, 0.0), 2) for step, c in day_cpu.items()}
    return dict(sorted(excess.items(), key=lambda item: -item[1]))


def ratios(record: dict, tiny: dict | None) -> dict:
    """Cold against the floor, and the next day above a fixed cost against cold. Two fixed
    costs, both from the tiny size: its warm rerun (the issue's fixed cost: a run with nothing
    new), and its next day (what any day with new rows pays whatever its size: Great
    Expectations imported to validate them, the incremental models updated, the models
    refitted)."""
    out = {}
    cold, floor, nxt = record.get("cold"), record.get("floor"), record.get("next_day")
    if cold and floor:
        out["cold_over_floor_cpu"] = round(cold["cpu_s"] / floor["floor_cpu_s"], 1)
    fixed = (tiny or {}).get("warm_rerun")
    if cold and nxt and fixed:
        out["fixed_cpu_s"] = fixed["cpu_s"]
        out["next_minus_fixed_over_cold_cpu"] = round(
            (nxt["cpu_s"] - fixed["cpu_s"]) / cold["cpu_s"], 3)
    pairs = record.get("next_minus_fixed_pairs")
    if cold and pairs:
        # Each next day less the tiny rerun run right after it: the median of those differences.
        out["next_minus_fixed_alongside_over_cold_cpu"] = round(
            _middle(pairs) / cold["cpu_s"], 3)
    # The next day's steps above the fixed cost's (the median of the tiny reruns beside it, else
    # the tiny warm rerun), split into the dbt steps and the others (ingest, checks, the model
    # fit, the GX gate, exports, the serving copy), each over cold.
    excess = step_excess(nxt, record.get("fixed_alongside") or fixed)
    if cold and excess and record["size"] != "tiny":
        out["next_minus_fixed_by_step_cpu_s"] = excess
        dbt = sum(c for step, c in excess.items() if step.startswith(DBT_STEP_PREFIX))
        out["next_minus_fixed_dbt_steps_over_cold_cpu"] = round(dbt / cold["cpu_s"], 3)
        out["next_minus_fixed_other_steps_over_cold_cpu"] = round(
            (sum(excess.values()) - dbt) / cold["cpu_s"], 3)
    changed_day = (tiny or {}).get("next_day")
    if cold and nxt and changed_day and record["size"] != "tiny":
        out["changed_day_fixed_cpu_s"] = changed_day["cpu_s"]
        out["next_minus_changed_day_fixed_over_cold_cpu"] = round(
            (nxt["cpu_s"] - changed_day["cpu_s"]) / cold["cpu_s"], 3)
    if cold and nxt:
        out["next_over_cold_cpu"] = round(nxt["cpu_s"] / cold["cpu_s"], 3)
    rerun = record.get("next_day_rerun")
    if cold and nxt and rerun:
        # The next day split in two: what its new rows cost (the same date again, on the state
        # the next day left, finds nothing new), and what producing a day's outputs for every
        # customer costs at this size with nothing new, above the fixed cost.
        out["next_day_rerun_cpu_s"] = rerun["cpu_s"]
        out["new_data_over_cold_cpu"] = round((nxt["cpu_s"] - rerun["cpu_s"]) / cold["cpu_s"], 3)
        if fixed:
            out["rerun_minus_fixed_over_cold_cpu"] = round(
                (rerun["cpu_s"] - fixed["cpu_s"]) / cold["cpu_s"], 3)
    return out


# The pipeline runs a record may hold, each measured by `pipeline`.
RUNS = ("cold", "next_day", "warm_rerun", "next_day_rerun", "fixed_alongside")


def fmt(value, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def table(records: list[dict]) -> None:
    head = ("size", "gen cpu", "floor cpu", "cold cpu/wall", "load", "next cpu/wall", "load",
            "warm cpu/wall", "cold/floor", "(next-fixed)/cold", "(next-tiny next)/cold",
            "peak RSS MB")
    print("\n" + " | ".join(head))
    for r in records:
        c, n, w = r.get("cold") or {}, r.get("next_day") or {}, r.get("warm_rerun") or {}
        f, g, q = r.get("floor") or {}, r.get("generate") or {}, r.get("ratios") or {}
        rss = max((r.get(key) or {}).get("peak_rss_mb", 0) for key in RUNS)
        print(" | ".join([
            f"{r['size']} ({r['customers']:,} cust / {r['orders']:,} orders"
            f"{', ' + r['engine'] if r.get('engine', 'duckdb') != 'duckdb' else ''})",
            fmt(g.get("cpu_s")), fmt(f.get("floor_cpu_s")),
            f"{fmt(c.get('cpu_s'))} / {fmt(c.get('wall_s'))}",
            f"{fmt(c.get('load_start'), '.2f')}->{fmt(c.get('load_end'), '.2f')}",
            f"{fmt(n.get('cpu_s'))} / {fmt(n.get('wall_s'))}",
            f"{fmt(n.get('load_start'), '.2f')}->{fmt(n.get('load_end'), '.2f')}",
            f"{fmt(w.get('cpu_s'))} / {fmt(w.get('wall_s'))}",
            fmt(q.get("cold_over_floor_cpu")), fmt(q.get("next_minus_fixed_over_cold_cpu"), ".3f"),
            fmt(q.get("next_minus_changed_day_fixed_over_cold_cpu"), ".3f"), fmt(rss, ".0f")]))
    for r in records:
        for key in ("warm_rerun", "next_day", "fixed_alongside"):
            runs = (r.get(key) or {}).get("runs_cpu_s")
            if runs:
                print(f"{r['size']} {key} CPU of {len(runs)} runs (s): "
                      + ", ".join(fmt(c) for c in runs) + f"; median {fmt(r[key]['cpu_s'])}")
        pairs = r.get("next_minus_fixed_pairs")
        if pairs and "next_minus_fixed_alongside_over_cold_cpu" in (r.get("ratios") or {}):
            print(f"{r['size']} next day minus the tiny rerun beside it (s): "
                  + ", ".join(fmt(d) for d in pairs) + "; median over cold "
                  + fmt(r["ratios"]["next_minus_fixed_alongside_over_cold_cpu"], ".3f"))
        q = r.get("ratios") or {}
        if "next_minus_fixed_by_step_cpu_s" in q:
            steps = ", ".join(f"{step} {c:+.2f}"
                              for step, c in list(q["next_minus_fixed_by_step_cpu_s"].items())[:10])
            print(f"{r['size']} next day above the fixed cost by step (CPU s): {steps}; over "
                  f"cold: dbt steps {fmt(q['next_minus_fixed_dbt_steps_over_cold_cpu'], '.3f')}, "
                  f"the others {fmt(q['next_minus_fixed_other_steps_over_cold_cpu'], '.3f')}")
        if "new_data_over_cold_cpu" in q:
            print(f"{r['size']} next day split (CPU): rerun of the next day "
                  f"{fmt(q['next_day_rerun_cpu_s'])} s; the day's new data (next - rerun) "
                  f"{fmt(q['new_data_over_cold_cpu'], '.3f')} of cold; every customer's outputs "
                  f"with nothing new (rerun - fixed) "
                  f"{fmt(q.get('rerun_minus_fixed_over_cold_cpu'), '.3f')} of cold")
        f = r.get("floor")
        if f:
            print(f"{r['size']} floor parts: SQL {f['sql_cpu_s']} s, {f['emails_distinct']:,} "
                  f"emails {f['email_cpu_s']} s, {f['phones_distinct']:,} phones "
                  f"{f['phone_cpu_s']} s (CPU); statuses {f['status_counts']}")
        for key in RUNS:
            server = (r.get(key) or {}).get("postgres_server")
            if server:
                print(f"{r['size']} {key} PostgreSQL server CPU (not in the run's): "
                      f"{fmt(server['server_cpu_s'])} s all databases, "
                      f"{fmt(server['db_backends_cpu_s'])} s the run database's "
                      f"{server['db_backends']} backends")
            orphans = (r.get(key) or {}).get("orphans") or {}
            if orphans.get("reaped") or orphans.get("still_running"):
                print(f"{r['size']} {key} orphaned descendants: {orphans['reaped']} reaped, "
                      f"{orphans['cpu_s']} s CPU (in the run's), {orphans['still_running']} "
                      "still running")
            steps = (r.get(key) or {}).get("steps") or []
            if steps and "step" in steps[0]:
                top = ", ".join(f"{s['step']} {s['s']}" for s in steps[:8])
                print(f"{r['size']} {key} slowest steps (s): {top}")
                costly = sorted((s for s in steps if s.get("cpu_s") is not None),
                                key=lambda s: -s["cpu_s"])[:8]
                if costly:
                    top = ", ".join(f"{s['step']} {s['cpu_s']}" for s in costly)
                    print(f"{r['size']} {key} steps by CPU (s): {top}")


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) == 3 and sys.argv[1] == "--step-stats":
        _print_step_stats(sys.argv[2])
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", nargs="+", choices=list(SIZES), help="sizes to run, in order")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/winback-bench"),
                        help="data and state per size (default /tmp/winback-bench)")
    parser.add_argument("--end-date", type=dt.date.fromisoformat,
                        default=dt.datetime.now(dt.UTC).date() - dt.timedelta(days=3))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    parser.add_argument("--skip-floor", action="store_true")
    parser.add_argument("--floor-only", action="store_true",
                        help="generate and run the floor only (no pipeline runs)")
    parser.add_argument("--skip-next-day", action="store_true")
    parser.add_argument("--rerun-next-day", action="store_true",
                        help="after the next day, run its date again (nothing new): splits the "
                        "next day into what its new rows cost and what the size's daily "
                        "outputs cost")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="run the tiny warm rerun and each next day N times (the next day "
                        "each time from the state the day before left, a larger size's each "
                        "time followed by a rerun of the tiny state's newest date) and keep "
                        "the run with the median CPU (DuckDB only: the state is copied back "
                        "between runs)")
    parser.add_argument("--next-day-only", action="store_true",
                        help="only the next day, on the state a previous cold run left "
                        "(ratios then need that run's record)")
    parser.add_argument("--engine", choices=("duckdb", "postgres", "spark"),
                        help="WINBACK_ENGINE of the runs (default duckdb, or postgres when "
                        "--postgres-url is given); postgres and spark need the engines extra, "
                        "spark Java 17; a Spark warehouse lives under the size's state/")
    parser.add_argument("--postgres-url", metavar="URL",
                        help="the PostgreSQL database of --engine postgres, whose Winback "
                        "schemas a cold run drops first")
    parser.add_argument("--duckdb-memory-limit", metavar="SIZE",
                        help="WINBACK_DUCKDB_MEMORY_LIMIT of the runs (default the pipeline's, "
                        "2GB): a smaller limit checks at a small size that the runs spill to "
                        "disk rather than fail, as a larger size would need at the default")
    parser.add_argument("--results", type=Path, default=HERE / "results" / "results.jsonl",
                        help="JSON lines appended per size")
    args = parser.parse_args(argv)
    if args.engine is None:
        args.engine = "postgres" if args.postgres_url else "duckdb"
    if (args.engine == "postgres") != bool(args.postgres_url):
        parser.error("--postgres-url goes with --engine postgres, and only with it")
    if args.repeat < 1 or (args.repeat > 1 and args.engine != "duckdb"):
        parser.error("--repeat takes a count of 1 or more, above 1 on DuckDB only (a repeated "
                     "next day starts from a copy of the state folder)")
    if not (VENV_BIN / "winback").exists():
        parser.error(f"{VENV_BIN / 'winback'} missing: run `make install` first")
    if not (ROOT / "dbt_project" / "target" / "manifest.json").exists():
        parser.error("dbt manifest missing: run `make manifest` first")
    if args.end_date + dt.timedelta(days=1) >= dt.datetime.now(dt.UTC).date():
        parser.error("--end-date + 1 day must lie before today (UTC)")
    args.workdir = args.workdir.resolve()
    exit_on_sigterm()
    if not _become_subreaper():
        print("run: not a subreaper (not Linux?): CPU of orphaned grandchildren is not counted",
              file=sys.stderr)
    tiny = previous_tiny(args.results)
    records = []
    for name in args.sizes:
        record = bench(args, name, tiny)
        if record.get("warm_rerun"):
            tiny = record
        records.append(record)
        args.results.parent.mkdir(parents=True, exist_ok=True)
        with args.results.open("a") as out:
            out.write(json.dumps(record) + "\n")
        table([record])
    if len(records) > 1:
        table(records)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Side by side: the same pipeline run on two or more versions of the code, alternating, each run
from a fresh copy of one saved state, so that a change is measured against this machine's noise
rather than against figures taken at another hour.

    .venv/bin/python benchmarks/compare.py --state /tmp/saved-tiny --landing \\
        /tmp/winback-bench/tiny/landing --as-of 2026-12-01 --no-ad-minimums --pairs 4 079b2c8 .

A version is a git commit, checked out in a temporary worktree and run with this checkout's
.venv (its dbt manifest parsed first), or `.`, this working tree as it is. --state is a state
folder a run left (warehouse/, dagster_home/, exports/, serving/), e.g. the runner's
<workdir>/<size>/state copied aside after `run.py <size> --skip-next-day`; each run starts from
a fresh copy of it and runs `winback run --as-of <date>`: the saved run's date (a warm rerun)
or the next day, whose files must then be in --landing (generate.py --next-day, or a whole
`run.py` of that size, put them there). After --warmup unreported runs per version (a new
worktree's first run parses the dbt project), the runs go round-robin over the versions,
--pairs times. Printed per version: each run's CPU (user+sys of its process tree), wall and
load before and after; the median; and the steps whose median CPU differs most between the
first version and each other one. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import run as runner

ROOT = runner.ROOT
PYTHON = runner.VENV_BIN / "python"


def checkout(version: str, scratch: Path) -> Path:
    """The folder whose code runs as `version`: this working tree for `.`, else a detached
    worktree of the commit under `scratch` with its own dbt manifest (the definitions load it)."""
    if version == ".":
        return ROOT
    folder = scratch / version.replace("/", "_")
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--force",
                    str(folder), version], check=True, capture_output=True)
    subprocess.run([str(PYTHON), "-m", "orchestration.defs.dbt.args",
                    str(folder / "dbt_project")], cwd=folder, check=True, capture_output=True,
                   env={**os.environ, "PYTHONPATH": str(folder)})
    return folder


def remove_checkout(folder: Path) -> None:
    if folder != ROOT:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(folder)],
                       check=False, capture_output=True)


def one_run(code: Path, saved: Path, args: argparse.Namespace, work: Path, label: str) -> dict:
    """`winback run` of `code` on a fresh copy of the saved state `saved`; the runner's record
    of it (CPU, wall, load, per-step CPU)."""
    state = work / "state"
    shutil.rmtree(state, ignore_errors=True)
    shutil.copytree(saved, state, symlinks=True)
    env = runner.pipeline_env(args.landing, state, ad_minimums=not args.no_ad_minimums)
    env["PYTHONPATH"] = str(code)
    return runner.pipeline(args.as_of, env, work / f"{label}.log", cwd=code)


def step_medians(results: list[dict]) -> dict[str, float]:
    """Median CPU of each step over the runs (a step missing from a run counts as 0)."""
    steps = {step["step"] for result in results for step in result["steps"] if "step" in step}
    cpu = {step: [next((s.get("cpu_s") or 0.0 for s in result["steps"]
                        if s.get("step") == step), 0.0) for result in results]
           for step in steps}
    return {step: statistics.median(values) for step, values in cpu.items()}


def report(versions: list[str], runs: dict[str, list[dict]], top: int) -> None:
    for version in versions:
        print(f"{version}:")
        for result in runs[version]:
            print(f"  cpu {result['cpu_s']:6.1f}  wall {result['wall_s']:6.1f}  "
                  f"load {result['load_start']:.2f}->{result['load_end']:.2f}"
                  + ("" if result["ok"] else f"  FAILED (exit {result['exit_code']}, "
                     f"{result['log']})"))
        print(f"  median cpu {statistics.median(r['cpu_s'] for r in runs[version]):.1f}, "
              f"wall {statistics.median(r['wall_s'] for r in runs[version]):.1f}")
    base = step_medians(runs[versions[0]])
    for version in versions[1:]:
        other = step_medians(runs[version])
        diffs = sorted(((other.get(s, 0.0) - base.get(s, 0.0), s) for s in base.keys() | other),
                       key=lambda d: -abs(d[0]))
        print(f"median step CPU, {versions[0]} -> {version} (largest differences):")
        for diff, step in diffs[:top]:
            print(f"  {base.get(step, 0.0):6.2f} -> {other.get(step, 0.0):6.2f}  ({diff:+.2f})  "
                  f"{step}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("versions", nargs="+", help="git commits, or `.` (the working tree)")
    parser.add_argument("--state", type=Path, required=True, help="the saved state folder")
    parser.add_argument("--version-state", action="append", default=[], metavar="VERSION=STATE",
                        help="the saved state VERSION starts from instead of --state: one its "
                        "own code left, when the versions keep incremental state differently "
                        "(another version's state would make its first run rebuild)")
    parser.add_argument("--landing", type=Path, required=True, help="the landing folder")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--pairs", type=int, default=3, help="runs per version (default 3)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="unreported runs per version first (default 1): a new worktree's "
                        "first run parses the dbt project and fills the caches of its folder")
    parser.add_argument("--no-ad-minimums", action="store_true",
                        help="the ad platforms without minimum list sizes (the tiny size's)")
    parser.add_argument("--top", type=int, default=8, help="steps listed per comparison")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/winback-compare"),
                        help="the runs' state copies, logs and worktrees (default "
                        "/tmp/winback-compare; emptied first)")
    args = parser.parse_args(argv)
    if len(args.versions) < 2:
        parser.error("give at least two versions")
    states = {version: args.state for version in args.versions}
    for item in args.version_state:
        version, _, folder = item.partition("=")
        if version not in states or not folder:
            parser.error(f"--version-state {item}: expected VERSION=STATE for a listed version")
        states[version] = Path(folder)
    for state in set(states.values()):
        if not (state / "warehouse").is_dir():
            parser.error(f"{state} holds no warehouse/: not a saved state folder")
    states = {version: state.resolve() for version, state in states.items()}
    args.landing = args.landing.resolve()
    runner.exit_on_sigterm()
    runner._become_subreaper()
    work = args.workdir.resolve()
    shutil.rmtree(work, ignore_errors=True)
    (work / "code").mkdir(parents=True)
    runs: dict[str, list[dict]] = {version: [] for version in args.versions}
    codes: dict[str, Path] = {}
    try:
        for version in args.versions:
            codes[version] = checkout(version, work / "code")
        for turn in range(args.warmup + args.pairs):
            for index, version in enumerate(args.versions):
                result = one_run(codes[version], states[version], args, work,
                                 f"run-{turn + 1}-{index + 1}")
                warm = turn < args.warmup
                if not warm:
                    runs[version].append(result)
                print(f"{version} run {turn + 1}{' (warm-up)' * warm}: cpu {result['cpu_s']:.1f}"
                      f" wall {result['wall_s']:.1f}", flush=True)
    finally:
        for folder in codes.values():
            remove_checkout(folder)
    report(args.versions, runs, args.top)
    return 0 if all(r["ok"] for results in runs.values() for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

"""A run that validates changed rows with Great Expectations does not load scipy.stats, which GX
imports for expectations Winback's suites do not use (~0.3 s of CPU); a suite that does use
one still gets the whole module (orchestration/lib/deferred_imports.py)."""

import subprocess
import sys
import textwrap


def _run(tmp_path, code: str) -> str:
    # A script file, not `python -c` (tests/unit/test_import_warnings.py says why); a process
    # of its own, since this one may have imported scipy.stats already.
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(code))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def test_validating_a_suite_leaves_scipy_stats_unloaded(tmp_path):
    assert _run(tmp_path, """
        import sys

        import pandas as pd

        from orchestration.defs.quality.gx import SuiteValidator

        suite = {"name": "probe", "expectations": [
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}},
            {"type": "expect_column_values_to_be_between",
             "kwargs": {"column": "n", "min_value": 0, "max_value": 9}}]}
        outcome = SuiteValidator(suite, "id").validate(pd.DataFrame({"id": ["a", "b"],
                                                                     "n": [1, 12]}))
        # type() reads no attribute of the module (any read would load it).
        print(outcome.success, [o.expectation for o in outcome.failed],
              type(sys.modules["scipy.stats"]).__name__)
    """) == "False ['expect_column_values_to_be_between'] _LazyModule"


def test_a_deferred_module_loads_whole_on_first_use_and_a_loaded_one_is_left_alone(tmp_path):
    assert _run(tmp_path, """
        import sys

        import json
        from orchestration.lib.deferred_imports import defer_imports

        deferred = defer_imports("scipy.stats", "json", "no_such_module_here")
        from scipy import stats

        print(deferred, sys.modules["json"] is json, stats.entropy([0.5, 0.5], [0.5, 0.5]),
              type(stats).__name__, "kstest" in vars(stats))
    """) == "['scipy.stats'] True 0.0 module True"

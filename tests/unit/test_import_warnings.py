"""With the engines extra installed, pyspark's import-time pandas warning (Great Expectations
imports pyspark on import) never reaches the stderr of a Winback process; other warnings do."""

import importlib.util
import subprocess
import sys
import textwrap

import pytest


def _stderr_of(script: str, tmp_path) -> str:
    # A script file, not `python -c`: pyspark takes a __main__ without a file for its own
    # doctest run and exits early (tests/conftest.py).
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(script))
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stderr


def test_importing_great_expectations_in_winback_prints_nothing(tmp_path):
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("pyspark is not installed (make test EXTRAS=dev,engines)")
    stderr = _stderr_of("""
        import orchestration
        import great_expectations
    """, tmp_path)
    assert stderr == ""


def test_other_future_warnings_still_reach_stderr(tmp_path):
    stderr = _stderr_of("""
        import warnings
        import orchestration
        warnings.warn("PySpark does not yet fully support pandas (not from pyspark)", FutureWarning)
        warnings.warn_explicit("some other pyspark warning", FutureWarning, "x.py", 1,
                               module="pyspark.sql.x")
    """, tmp_path)
    assert "FutureWarning: PySpark does not yet fully support pandas (not from pyspark)" in stderr
    assert "FutureWarning: some other pyspark warning" in stderr

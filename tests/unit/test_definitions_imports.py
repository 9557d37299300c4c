"""Loading the definitions (every `winback` command, the UI's code server, the daemon's sensor
ticks) imports neither pandas nor Great Expectations: they load only when a Great Expectations
suite validates rows (~0.4 s and ~2.7 s of CPU otherwise spent by every such process)."""

import subprocess
import sys
import textwrap


def test_loading_the_definitions_imports_neither_pandas_nor_great_expectations(tmp_path):
    # A script file, not `python -c` (tests/unit/test_import_warnings.py says why).
    script = tmp_path / "load_definitions.py"
    script.write_text(textwrap.dedent("""
        import sys

        from orchestration.definitions import defs

        assert defs.resolve_job_def("winback_daily") is not None
        print(sorted(m for m in ("pandas", "great_expectations") if m in sys.modules))
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"

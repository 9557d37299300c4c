"""The model fits give the same bytes whatever the number of BLAS threads (cores) of the machine:
OpenBLAS splits a dot product of more than 10,000 elements across its threads, which changed
the fitted parameters' last digits between a 1-core and a 2-core machine
(orchestration/defs/predictions/blas.py). Each fit runs in a fresh interpreter, because OpenBLAS
reads OPENBLAS_NUM_THREADS when it loads."""

import os
import subprocess
import sys

import pytest

FIT = """
import numpy as np
from orchestration.defs.predictions import bgnbd, gamma_gamma

rng = np.random.default_rng(5)
n = 60_000  # well above OpenBLAS's 10,000-element threshold for a threaded dot product
x = rng.geometric(0.35, n).astype(float) - 1.0
T = rng.integers(1, 150, n).astype(float)
tx = np.where(x > 0, np.floor(T * rng.uniform(0, 1, n)), 0.0)
fit = bgnbd.fit(x, tx, T)
diagnostics = bgnbd.fit_diagnostics(fit, x, tx, T)
repeat = x > 0
spend = np.round(rng.gamma(3.0, 20.0, int(repeat.sum())), 2)
spend_fit = gamma_gamma.fit(x[repeat], spend)
print(repr((fit, diagnostics.standard_errors, spend_fit,
            bgnbd.log_likelihood(fit, x, tx, T),
            gamma_gamma.log_likelihood(spend_fit, x[repeat], spend))))
"""


def _fit_with_blas_threads(threads: int) -> str:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": str(threads)}
    out = subprocess.run([sys.executable, "-c", FIT], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: OpenBLAS runs one thread anyway")
def test_the_fits_are_the_same_bytes_with_one_or_two_blas_threads():
    one, two = _fit_with_blas_threads(1), _fit_with_blas_threads(2)
    assert "BGNBDParams" in one and "GammaGammaParams" in one
    assert one == two

"""Modules a library imports when it loads but uses only inside a few functions, loaded when
first used instead.

Great Expectations imports scipy.stats as it loads (`from scipy import stats`, for its
Kolmogorov-Smirnov and KL-divergence expectations, which Winback's suites do not use): ~0.3 s
of CPU on every run that validates a changed row. GX only calls it inside functions, so a module
object whose code runs on first attribute access (importlib's LazyLoader) serves it until a
suite really calls one. Only `from package import module` keeps such a module unloaded: a plain
`import module` of one already in sys.modules reads its __spec__, which loads it (GX imports
altair that way, so altair is not deferred).
"""

from __future__ import annotations

import importlib.util
import sys


def defer_imports(*names: str) -> list[str]:
    """Put a lazily loaded module in sys.modules for each of `names` not imported yet (their
    parent packages are imported now); returns the names deferred. The module loads, in
    whole, the first time any of its attributes is read. Python 3.11's LazyLoader is not
    thread-safe while that first load runs: call this from code that uses the modules from one
    thread, as a run's steps do."""
    deferred = []
    for name in names:
        if name in sys.modules:
            continue
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            continue
        spec.loader = importlib.util.LazyLoader(spec.loader)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, module)
        deferred.append(name)
    return deferred

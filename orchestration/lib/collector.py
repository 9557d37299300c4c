"""Python's cyclic garbage collector while a process loads what it keeps.

Loading the definitions (dagster, dagster-dbt and dbt-core, the dbt manifest) or dbt itself
allocates millions of objects that live as long as the process and leaves next to no cyclic
garbage; the collector, started by the allocation count, walks the growing heap again and again
meanwhile (the definitions: ~0.9 s of a 4.5 s load, for ~120 objects freed). A run then keeps
what was loaded out of its collections (heap_frozen), and a dbt invocation, whose every node
leaves cyclic garbage, collects rarely (collect_rarely).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collections_paused() -> Iterator[None]:
    """No cyclic collections inside the block (reference counting still frees everything else);
    the collector's previous state afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# A dbt invocation's cyclic collections: one per this many net allocations of container objects
# instead of Python's 700. Each context dbt builds to render a node or run an adapter macro is a
# cycle (its ~650 macro generators refer to it), ~220 of them a step, so at 700 the collector ran
# ~600 times a step (5 of them over the whole heap), and collecting and freeing those contexts was
# a sixth of the step's CPU (tiny data: a median 1.8 s against 1.5). A step here allocates
# ~450,000 and ends before its first collection, its garbage (~20 MB) freed with the process; a
# larger project's step is still collected, every ~150 MB of garbage.
DBT_COLLECTION_THRESHOLD = 1_000_000


@contextlib.contextmanager
def heap_frozen() -> Iterator[None]:
    """What the process holds on entry (the definitions, dagster-dbt's manifest) kept out of the
    collections inside the block, which would walk it again and again (~0.3 s of a tiny run),
    and handed back to the collector after it."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def collect_rarely() -> None:
    """For a process that is one dbt invocation (a fork of the dbt fork server, `winback-dbt`
    without one): collections only every DBT_COLLECTION_THRESHOLD net allocations."""
    gc.set_threshold(DBT_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])

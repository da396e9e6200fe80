"""Keep the cyclic garbage collector off the objects that a bulk pass did not create.

A sync allocates millions of short-lived objects (parsed records, rows, COPY text), so Python's
collector runs often, and every few hundred of its runs it is a full collection that walks every
object in the process: Dagster's, pandas', SQLAlchemy's, some million of them, about 0.15 s each
time on the development machine. None of those is garbage the pass makes. `gc.freeze` sets them
aside for the pass (collections still find the cycles the pass itself makes); they return to the
collector's care when the last pass in the process ends.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_lock = threading.Lock()
_passes = 0  # passes inside `older_objects_frozen` in this process (runs may share one)


@contextlib.contextmanager
def older_objects_frozen() -> Iterator[None]:
    """Within the block, the objects that existed when the first of any concurrent blocks began are
    left out of garbage collections; they are handed back when the last block ends."""
    global _passes
    with _lock:
        if _passes == 0:
            gc.freeze()
        _passes += 1
    try:
        yield
    finally:
        with _lock:
            _passes -= 1
            if _passes == 0:
                gc.unfreeze()

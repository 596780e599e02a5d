"""Process settings for a sync: allocator settings that keep its memory flat, a garbage
collector that does not re-walk the heap for every decoded page, freed memory handed back
to the system before the load.

A sync decodes pages in many threads (range walkers, dlt's resource workers) and turns
them into Arrow tables. Most of that memory is short-lived, but with the allocators'
defaults it stays in the process: glibc gives every thread its own arena (up to 8 per
core) and Arrow's bundled mimalloc keeps a heap per thread. Measured on the medium
benchmark tenant (bench/RESULTS.md): resident memory during the extract ~510 MB with
the defaults, ~280 MB with two glibc arenas and Arrow on the system allocator, at the
same speed. Before the load, the memory freed by the extract is returned (``malloc_trim``)
so DuckDB's load starts from there rather than from the extract's high-water mark.

The collector: decoded pages are many small containers without cycles, which with
CPython's defaults set off young and then full collections all through the sync; see
:func:`_tune_collector`.

:func:`tune_process_memory` is called by every sync (``pipelines.sync.run_sync``); it
leaves alone what the user set (``MALLOC_ARENA_MAX``, ``ARROW_DEFAULT_MEMORY_POOL``, a
collector threshold) and skips the allocator settings where there is no glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import os
import sys
import threading
from typing import Any

log = logging.getLogger("cwsync.memory")

ARENAS = 2  # glibc malloc arenas: enough for the GIL-bound threads of a sync
_M_ARENA_MAX = -8  # mallopt parameter number (malloc.h)
YOUNG_COLLECTION = 100_000  # allocations between young garbage collections
_DEFAULT_YOUNG = (700, 2000)  # CPython's default young threshold (3.10-3.12; 3.13 on)

_lock = threading.Lock()
_tuned = False


def _glibc() -> Any | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim  # noqa: B018 - glibc only (musl has no malloc_trim)
        libc.mallopt  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


def tune_process_memory() -> None:
    """Cap glibc's malloc arenas, put Arrow on the system allocator and space out garbage
    collections, once per process (before the sync starts its threads), and free memory
    before each load step."""
    global _tuned
    with _lock:
        if _tuned:
            return
        _tuned = True
        libc = _glibc()
        if libc is not None and "MALLOC_ARENA_MAX" not in os.environ:
            libc.mallopt(_M_ARENA_MAX, ARENAS)
        if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
            import pyarrow as pa

            pa.set_memory_pool(pa.system_memory_pool())
        _tune_collector()
        _release_before_load()


def _tune_collector() -> None:
    """Fewer cyclic-garbage collections. A decoded 1000-record page is ~50,000 new dicts
    and lists; with CPython's default threshold (700 allocations) every page set off dozens
    of young collections and, as the heap grew, full ones that walk every live object: a
    quarter of the CPU samples of a zero-latency sync (py-spy, medium tenant), for no
    garbage: decoded JSON has no cycles and refcounting frees it. The objects alive after
    the imports go to the permanent generation (never collected, never walked) and a young
    collection waits for :data:`YOUNG_COLLECTION` allocations. A threshold the user set
    (not one of CPython's defaults) is kept, and so is a disabled collector."""
    young, middle, old = gc.get_threshold()
    if gc.isenabled() and young in _DEFAULT_YOUNG:
        gc.freeze()
        gc.set_threshold(YOUNG_COLLECTION, middle, old)


def release_free_memory() -> None:
    """Collect garbage and hand the allocator's free pages back to the system."""
    gc.collect()
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


class _ReleaseBeforeLoad:
    """A dlt trace listener: frees memory when a pipeline's load step starts."""

    def on_start_trace(self, trace: Any, step: str, pipeline: Any) -> None:
        pass

    def on_start_trace_step(self, trace: Any, step: str, pipeline: Any) -> None:
        if step == "load":
            release_free_memory()

    def on_end_trace_step(self, *args: Any, **kwargs: Any) -> None:
        pass

    def on_end_trace(self, *args: Any, **kwargs: Any) -> None:
        pass


def _release_before_load() -> None:
    from dlt.pipeline import trace

    modules = trace.TRACKING_MODULES
    if modules is not None and not any(isinstance(m, _ReleaseBeforeLoad) for m in modules):
        modules.append(_ReleaseBeforeLoad())

"""The process settings every sync runs with (pipelines/memory.py): Arrow on the system
allocator, glibc arenas capped, fewer garbage collections, memory handed back when a load
step starts; what the user set wins. Each case runs in its own interpreter (the settings are
process-wide). The effect on resident memory is measured in bench/, not here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = """
import gc, json, os, pyarrow as pa
from dlt.pipeline import trace
from pipelines import memory
if os.environ.get("PROBE_THRESHOLD"):
    gc.set_threshold(int(os.environ["PROBE_THRESHOLD"]))
memory.tune_process_memory()
memory.tune_process_memory()  # idempotent
listeners = [m for m in trace.TRACKING_MODULES if isinstance(m, memory._ReleaseBeforeLoad)]
calls = []
memory.release_free_memory = lambda: calls.append(1)
listeners[0].on_start_trace_step(None, "extract", None)
listeners[0].on_start_trace_step(None, "load", None)
print(json.dumps({"pool": pa.default_memory_pool().backend_name,
                  "listeners": len(listeners), "released": len(calls),
                  "young": gc.get_threshold()[0], "frozen": gc.get_freeze_count() > 0}))
"""


def _probe(**env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env={**clean, **env},
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_sync_process_uses_the_system_allocator_and_frees_before_loading() -> None:
    got = _probe()
    assert got == {
        "pool": "system",
        "listeners": 1,
        "released": 1,
        "young": 100_000,  # young collections every 100,000 allocations, not 700
        "frozen": True,  # what the imports made is never walked again
    }


def test_a_collector_threshold_the_user_set_is_kept() -> None:
    got = _probe(PROBE_THRESHOLD="5000")
    assert (got["young"], got["frozen"]) == (5000, False)


def test_the_users_allocator_choice_is_kept() -> None:
    assert _probe(ARROW_DEFAULT_MEMORY_POOL="mimalloc")["pool"] == "mimalloc"

"""The benchmark's floors read every record: ``limit`` (decoded pages) and ``limit_arrow``
(pages read into Arrow the way cwsync reads them) count the same rows as the sandbox
holds, run as the benchmark runs them (a process, credentials in the environment)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TABLES = ["service_tickets", "time_entries", "company_contacts", "company_companies"]


def _run(name: str, sandbox, tmp_path) -> dict:
    env = dict(os.environ, RUNTIME__DLTHUB_TELEMETRY="false")
    for key in ("base_url", "company_id", "public_key", "private_key", "client_id"):
        env[f"CWBENCH_{key.upper()}"] = sandbox.info[key]
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "contenders.py"), name]
        + ["--duckdb", str(tmp_path / f"{name}.duckdb"), "--tables", ",".join(TABLES)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert sandbox.info["private_key"] not in done.stdout + done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", ["limit", "limit_arrow"])
def test_the_floors_read_every_record(name, sandbox, tmp_path) -> None:
    from sources.connectwise.settings import BY_TABLE

    want = sum(len(sandbox.ids(BY_TABLE[t].path)) for t in TABLES)
    got = _run(name, sandbox, tmp_path)
    assert got["rows"] == want
    assert got["requests"] >= len(TABLES)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="VmHWM is Linux's")
def test_a_contender_reports_its_own_peak_memory_not_its_parents(sandbox, tmp_path) -> None:
    """Linux carries a parent's peak resident memory over into a child it spawns, so the
    ``ru_maxrss`` the benchmark reads at a contender's exit is at least the benchmark's
    own; the contender reports its own peak (``VmHWM``) and the table shows that."""
    import resource

    ballast = bytearray(600 * 1024 * 1024)
    ballast[::4096] = b"x" * len(range(0, len(ballast), 4096))  # touched: resident
    got = _run("limit", sandbox, tmp_path)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    del ballast
    assert children >= 600  # what wait4 would have said of the contender
    assert 0 < got["peak_rss_mb"] < 400

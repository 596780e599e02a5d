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

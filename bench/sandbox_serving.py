"""How fast the sandbox serves, and how its cost grows with the tenant.

    python bench/sandbox_serving.py --tickets 1000000

Starts ``cwsync sandbox`` as a separate process with that many tickets, then measures
from a client over real HTTP on 127.0.0.1:
- the median time to fetch one 1000-record forward-only page of tickets,
- a full forward-only sweep (pages/s; first-tenth vs last-tenth page times, which
  stay equal when paging is linear — no rescans),
- a navigable page and a ``lastUpdated`` incremental page for comparison,
- the sandbox process's peak RSS (VmHWM) and seeding time.
Writes a markdown row block to stdout (append it to bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone

import requests


def _rss_peak_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=50, help="pages timed for the median")
    args = parser.parse_args()

    started = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cwsync",
            "sandbox",
            "--scale",
            "small",
            "--count",
            f"service/tickets={args.tickets}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        if not line:
            print(proc.stderr.read(), file=sys.stderr)
            return 1
        info = json.loads(line)
        seed_seconds = time.perf_counter() - started
        token = base64.b64encode(
            f"{info['company_id']}+{info['public_key']}:{info['private_key']}".encode()
        ).decode()
        session = requests.Session()
        session.headers.update({"Authorization": f"Basic {token}", "clientId": info["client_id"]})
        url = f"{info['base_url']}/service/tickets"
        fwd = {"pagination-type": "forward-only"}
        session.get(url, params={"pageSize": 1000}, headers=fwd).raise_for_status()  # warm up

        # median of single 1000-record forward-only pages spread over the id range
        ids_step = max(1, args.tickets // args.samples)
        samples = []
        for i in range(args.samples):
            t0 = time.perf_counter()
            r = session.get(
                url, params={"pageSize": 1000, "pageId": 1000 + i * ids_step}, headers=fwd
            )
            body = r.content
            samples.append(time.perf_counter() - t0)
            assert r.status_code == 200 and body
        median_ms = statistics.median(samples) * 1000

        # full sweep
        page_times: list[float] = []
        rows = 0
        page_id = 0
        sweep_start = time.perf_counter()
        while True:
            t0 = time.perf_counter()
            r = session.get(url, params={"pageSize": 1000, "pageId": page_id}, headers=fwd)
            page = r.json()
            page_times.append(time.perf_counter() - t0)
            rows += len(page)
            if len(page) < 1000:
                break
            page_id = page[-1]["id"]
        sweep = time.perf_counter() - sweep_start
        tenth = max(1, len(page_times) // 10)
        first = statistics.median(page_times[:tenth]) * 1000
        last = statistics.median(page_times[-tenth - 1 : -1] or page_times[-tenth:]) * 1000

        t0 = time.perf_counter()
        session.get(
            url, params={"pageSize": 1000, "page": max(1, args.tickets // 2000)}
        ).raise_for_status()
        navigable_ms = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        session.get(
            url,
            params={"pageSize": 1000, "conditions": "lastUpdated > [2025-12-31T00:00:00Z]"},
            headers=fwd,
        ).raise_for_status()
        incremental_ms = (time.perf_counter() - t0) * 1000
        rss = _rss_peak_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    now = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    print(
        f"### sandbox serving — {now}, {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print()
    print(
        "| tickets | start+seed s | median 1000-row fwd page ms | sweep s | pages/s | rows/s | first-10% page ms | last-10% page ms | navigable mid page ms | incremental page ms | peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {rows:,} | {seed_seconds:.1f} | {median_ms:.1f} | {sweep:.1f} | {len(page_times) / sweep:.1f} | "
        f"{rows / sweep:,.0f} | {first:.1f} | {last:.1f} | {navigable_ms:.1f} | {incremental_ms:.1f} | {rss:.0f} |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

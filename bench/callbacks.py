"""How many callbacks the receiver accepts per second, and how fast a change reaches the
warehouse through it.

    python bench/callbacks.py --events 5000 --clients 16

1. Acceptance: a sandbox tenant in this process, ``cwsync webhook`` as a separate process
   (its processor idle: ``--interval 3600``), and ``--clients`` threads POSTing signed
   callbacks (keep-alive). Every accepted event is fsynced in the journal before its 200.
2. Latency: a warehouse synced once (tickets, notes, companies), a receiver with the
   default ``--interval`` (2 s) and one with 0.5 s, the tenant subscribed; ``--changes``
   ticket updates and deletes one at a time, each timed from the API write until DuckDB
   shows it.

Writes a markdown block to stdout (append it to bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import orjson
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cwsync.sandbox import Sandbox  # noqa: E402
from cwsync.sandbox.callbacks import sign  # noqa: E402
from pipelines import callbacks as cbs  # noqa: E402
from sources.connectwise.client import ConnectWiseClient  # noqa: E402


def _env(sb: Sandbox) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOURCES__")}
    for key in ("company_id", "public_key", "private_key", "client_id", "base_url"):
        env[f"SOURCES__CONNECTWISE__{key.upper()}"] = sb.info[key]
    env["SOURCES__CONNECTWISE__REQUESTS_PER_SECOND"] = "0"
    env["RUNTIME__LOG_LEVEL"] = "CRITICAL"
    return env


def _receiver(sb: Sandbox, work: Path, name: str, interval: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cwsync",
            "webhook",
            "--port",
            "0",
            "--journal",
            str(work / f"{name}.sqlite"),
            "--interval",
            str(interval),
            "--duckdb-file",
            str(work / "wh.duckdb"),
            "--pipelines-dir",
            str(work / "state"),
        ],
        env=_env(sb),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    return proc, json.loads(proc.stdout.readline())["listening"] + "cw"


def _client(sb: Sandbox) -> ConnectWiseClient:
    info = sb.info
    return ConnectWiseClient(
        company_id=info["company_id"],
        public_key=info["public_key"],
        private_key=info["private_key"],
        client_id=info["client_id"],
        base_url=info["base_url"],
    )


def acceptance(sb: Sandbox, work: Path, events: int, clients: int) -> dict:
    proc, url = _receiver(sb, work, "accept", 3600)
    rid = sb.ids("service/tickets")[0]
    entity = sb.get("service/tickets", rid)
    entity["_info"]["lastUpdated"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    bodies = []
    for _ in range(events):
        raw = orjson.dumps(
            {
                "MessageId": str(uuid.uuid4()),
                "FromUrl": sb.site,
                "CompanyId": "cwsync",
                "MemberId": "apiuser",
                "Action": "updated",
                "Type": "ticket",
                "ID": rid,
                "Entity": orjson.dumps(entity).decode(),
                "Metadata": {"key_url": sb.callbacks.key_url},
                "CallbackObjectRecId": 1,
            }
        )
        bodies.append((raw, sign(raw, sb.callbacks.signing_key)))
    statuses: list[int] = []
    lock = threading.Lock()
    share = [bodies[i::clients] for i in range(clients)]

    def post(mine) -> None:
        session = requests.Session()
        out = []
        for raw, sig in mine:
            r = session.post(url, data=raw, headers={"x-content-signature": sig}, timeout=30)
            out.append(r.status_code)
        with lock:
            statuses.extend(out)

    requests.post(url, data=bodies[0][0], headers={"x-content-signature": bodies[0][1]})
    started = time.perf_counter()
    threads = [threading.Thread(target=post, args=(m,)) for m in share]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    proc.terminate()
    proc.wait(30)
    accepted = statuses.count(200)
    return {
        "events": events,
        "clients": clients,
        "accepted": accepted,
        "replays": statuses.count(409),
        "seconds": seconds,
        "per_second": len(statuses) / seconds,
    }


def _wait_rows(work: Path, sql: str, args: list, want, timeout: float = 60) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        try:
            with duckdb.connect(str(work / "wh.duckdb"), read_only=True) as db:
                row = db.execute(sql, args).fetchone()
            if row and want(row[0]):
                return time.perf_counter() - started
        except duckdb.IOException:
            pass
        time.sleep(0.05)
    return float("nan")


def latency(sb: Sandbox, work: Path, interval: float, changes: int) -> dict:
    proc, url = _receiver(sb, work, f"latency-{interval}", interval)
    client = _client(sb)
    cbs.register(client, url, ["Ticket"])
    ids = sb.ids("service/tickets")
    updates, deletes = [], []
    try:
        for n in range(changes):
            rid = ids[n * 2]
            text = f"bench {interval} {n}"
            sb.update("service/tickets", rid, {"summary": text})
            waited = _wait_rows(
                work,
                "SELECT summary FROM connectwise.service_tickets WHERE id = ?",
                [rid],
                lambda v, text=text: v == text,
            )
            updates.append(waited)
            gone = ids[n * 2 + 1]
            sb.delete("service/tickets", gone)
            deletes.append(
                _wait_rows(
                    work,
                    "SELECT _cw_deleted_at FROM connectwise.service_tickets WHERE id = ?",
                    [gone],
                    lambda v: v is not None,
                )
            )
    finally:
        cbs.remove(client, url)
        proc.terminate()
        proc.wait(60)
    return {
        "interval": interval,
        "update_median": statistics.median(updates),
        "update_max": max(updates),
        "delete_median": statistics.median(deletes),
        "delete_max": max(deletes),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--changes", type=int, default=10)
    args = parser.parse_args()
    from pipelines.sync import make_pipeline, run_sync

    with tempfile.TemporaryDirectory() as tmp, Sandbox(scale="small", seed=3) as sb:
        work = Path(tmp)
        acc = acceptance(sb, work, args.events, args.clients)
        pipeline = make_pipeline(
            "duckdb",
            duckdb_path=str(work / "wh.duckdb"),
            pipeline_name="cwsync",
            pipelines_dir=str(work / "state"),
        )
        info = sb.info
        run_sync(
            pipeline,
            tables=["service_tickets", "service_tickets_notes", "company_companies"],
            verify=False,
            requests_per_second=0,
            base_url=info["base_url"],
            **{k: info[k] for k in ("company_id", "public_key", "private_key", "client_id")},
        )
        lat = [latency(sb, work, interval, args.changes) for interval in (2.0, 0.5)]
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"\n### Callbacks receiver ({when}, {os.cpu_count()} cores, {platform.python_version()})\n"
    )
    print("| measure | value |\n| --- | --- |")
    print(
        f"| accepted callbacks/s ({acc['clients']} keep-alive clients, signed, fsynced journal) "
        f"| {acc['per_second']:,.0f} ({acc['accepted']:,} of {acc['events']:,} in "
        f"{acc['seconds']:.1f}s) |"
    )
    for row in lat:
        print(
            f"| write -> warehouse, interval {row['interval']:g}s: update median / max "
            f"| {row['update_median']:.2f}s / {row['update_max']:.2f}s |"
        )
        print(
            f"| write -> warehouse, interval {row['interval']:g}s: delete median / max "
            f"| {row['delete_median']:.2f}s / {row['delete_max']:.2f}s |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

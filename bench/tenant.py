"""The benchmark's tenant: a ``cwsync sandbox`` process, and record churn through its API.

* :class:`SandboxProcess` starts ``python -m cwsync sandbox`` on a SQLite file, reads the
  connection facts (the first stdout line, JSON) and terminates it on ``stop()``.
* :func:`seed` seeds a tenant file once (``bench/.cache/tenant-SCALE.sqlite``); later
  starts on that file skip seeding.
* :func:`churn` changes 1% of the records of every table with at least 100 records
  through ``PATCH`` (JSON-patch arrays), as an API user would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
CONNECT_KEYS = ("base_url", "company_id", "public_key", "private_key", "client_id")
# writable text fields tried in order when changing a record
TEXT_FIELDS = (
    "notes",
    "summary",
    "description",
    "name",
    "internalNotes",
    "title",
    "text",
    "comments",
)


class SandboxProcess:
    """``python -m cwsync sandbox`` as a child process."""

    def __init__(
        self,
        db: Path,
        *,
        scale: str,
        seed: int = 1,
        latency_ms: float = 0.0,
        per_record_ms: float = 0.0,
        log: Path | None = None,
    ) -> None:
        self.db = Path(db)
        launcher = ["-m", "cwsync", "sandbox"]
        self.cmd = [
            sys.executable,
            *launcher,
            "--scale",
            str(scale),
            "--seed",
            str(seed),
            "--db",
            str(self.db),
            "--latency-ms",
            str(latency_ms),
            "--per-record-ms",
            str(per_record_ms),
        ]
        self.log = log or self.db.with_suffix(".log")
        self.proc: subprocess.Popen[str] | None = None
        self.info: dict = {}
        self.start_seconds = 0.0

    def start(self) -> SandboxProcess:
        started = time.perf_counter()
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "a") as err:
            self.proc = subprocess.Popen(
                self.cmd,
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.strip():
            self.proc.wait(timeout=30)
            tail = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"the sandbox did not start ({' '.join(self.cmd)}):\n{tail}")
        self.info = json.loads(line)
        self.start_seconds = time.perf_counter() - started
        # keep draining stdout so the child can never block on a full pipe
        threading.Thread(target=self._drain, daemon=True).start()
        return self

    def _drain(self) -> None:
        stream = self.proc.stdout if self.proc else None
        if stream is not None:
            for _ in stream:
                pass

    @property
    def connect(self) -> dict[str, str]:
        return {k: self.info[k] for k in CONNECT_KEYS}

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _sqlite_files(path: Path) -> list[Path]:
    return [path, Path(f"{path}-wal"), Path(f"{path}-shm")]


def seed(cache: Path, *, scale: str, seed_value: int = 1) -> float:
    """Seed ``cache`` once (into a temporary name, renamed when complete); returns the
    seconds spent seeding (0 when the file already held the tenant)."""
    if cache.exists():
        return 0.0
    partial = cache.with_name(cache.name + ".partial")
    for f in _sqlite_files(partial):
        f.unlink(missing_ok=True)
    started = time.perf_counter()
    with SandboxProcess(partial, scale=scale, seed=seed_value, log=cache.with_suffix(".log")):
        pass  # the first stdout line comes after seeding
    for src, dst in zip(_sqlite_files(partial), _sqlite_files(cache), strict=True):
        if src.exists():
            os.replace(src, dst)
    return time.perf_counter() - started


def working_copy(cache: Path, work: Path) -> None:
    """A fresh copy of the seeded tenant, so churn never touches the cache."""
    for f in _sqlite_files(work):
        f.unlink(missing_ok=True)
    for src, dst in zip(_sqlite_files(cache), _sqlite_files(work), strict=True):
        if src.exists():
            shutil.copyfile(src, dst)


# -- churn ---------------------------------------------------------------------------------
@dataclass
class Churn:
    changed: dict[str, int] = field(default_factory=dict)  # table -> records changed
    fields: dict[str, str] = field(default_factory=dict)  # table -> field patched
    skipped: dict[str, str] = field(default_factory=dict)  # table -> why
    failed: dict[str, tuple[int, str]] = field(default_factory=dict)  # refused PATCHes
    requests: int = 0
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.changed.values())

    def line(self) -> str:
        text = (
            f"{self.total:,} records changed by PATCH in {len(self.changed)} tables "
            f"({self.requests:,} requests, {self.seconds:.1f}s): "
            + ", ".join(f"{t} {n}×{self.fields[t]}" for t, n in self.changed.items())
        )
        if self.failed:
            text += "; PATCHes refused (other records taken instead): " + ", ".join(
                f"{t} {n} ({why})" for t, (n, why) in self.failed.items()
            )
        if self.skipped:
            text += "; skipped " + ", ".join(f"{t} ({why})" for t, why in self.skipped.items())
        return text


def _api_error(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    errors = body.get("errors") if isinstance(body, dict) else None
    detail = "; ".join(
        f"{e.get('code')}: {e.get('message')}" for e in errors or [] if isinstance(e, dict)
    )
    return f"HTTP {response.status_code} {detail or body.get('message', '')}".strip()


def churn(
    connect: dict[str, str],
    endpoints: Sequence,  # sources.connectwise.settings.Endpoint
    *,
    share: float = 0.01,
    min_records: int = 100,
) -> Churn:
    """Change ``share`` of the records (at least 1) of every table with at least
    ``min_records`` records, one ``PATCH`` of a writable text field per record."""
    from sources.connectwise.client import ACCEPT, basic_auth
    from sources.connectwise.settings import DEFAULT_API_VERSION

    result = Churn()
    started = time.perf_counter()
    session = requests.Session()
    session.headers.update(
        {
            "Authorization": basic_auth(
                connect["company_id"], connect["public_key"], connect["private_key"]
            ),
            "clientId": connect["client_id"],
            "Accept": ACCEPT.format(version=DEFAULT_API_VERSION),
        }
    )
    base = connect["base_url"].rstrip("/")
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")

    def call(method: str, path: str, **kwargs) -> requests.Response:  # type: ignore[no-untyped-def]
        result.requests += 1
        return session.request(method, f"{base}/{path}", timeout=60, **kwargs)

    for endpoint in endpoints:
        response = call("GET", f"{endpoint.path}/count")
        if response.status_code != 200:
            result.skipped[endpoint.table] = f"count: HTTP {response.status_code}"
            continue
        count = int(response.json().get("count") or 0)
        if count < min_records:
            continue
        wanted = max(1, round(count * share))
        ids: list[int] = []
        page_id = 0
        while True:
            response = call(
                "GET",
                endpoint.path,
                params={"pageSize": 1000, "pageId": page_id, "fields": "id"},
                headers={"pagination-type": "forward-only"},
            )
            response.raise_for_status()
            page = response.json()
            ids += [r["id"] for r in page]
            if len(page) < 1000:
                break
            page_id = page[-1]["id"]
        step = max(1, len(ids) // wanted)
        spread = ids[::step]
        picked = set(spread)
        order = spread + [i for i in ids if i not in picked]  # fallbacks for failed records
        if not order:
            continue
        chosen: str | None = None
        done, failed, last_error = 0, 0, ""
        for rid in order:
            if done >= wanted or failed > wanted + 20:
                break
            if chosen is None:
                # find the field on this record: a text field it has, or one it lacks
                got = call("GET", f"{endpoint.path}/{rid}")
                record = got.json() if got.status_code == 200 else {}
                names = [f for f in TEXT_FIELDS if isinstance(record.get(f), str)]
                names += [f for f in TEXT_FIELDS if f not in record]
            else:
                names = [chosen]
            for name in names:
                ops = [{"op": "replace", "path": name, "value": f"bench change {done + 1} {stamp}"}]
                response = call("PATCH", f"{endpoint.path}/{rid}", json=ops)
                if response.status_code == 200:
                    chosen = name
                    done += 1
                    break
                last_error = _api_error(response)
                if "NullValue" in last_error:
                    break  # the record is invalid as stored: no field will do, take another
            else:
                failed += 1
                continue
            if response.status_code != 200:
                failed += 1
        if done:
            result.changed[endpoint.table] = done
            result.fields[endpoint.table] = chosen or "?"
        if failed:
            result.failed[endpoint.table] = (failed, last_error)
        if not done:
            result.skipped[endpoint.table] = last_error or "no writable text field"
    result.seconds = time.perf_counter() - started
    return result

"""Sandbox runtime: faults, latency, the request log, persistence and the command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from cwsync.sandbox import Sandbox

from .conftest import Client


@pytest.fixture(scope="module")
def faulty() -> Sandbox:
    with Sandbox(scale=300, seed=4, slow_seconds=1.5, retry_after=3) as sb:
        yield sb


def test_each_fault_kind_over_http(faulty: Sandbox) -> None:
    client = Client(faulty)
    faulty.faults.inject("500")
    r = client.get("service/tickets")
    assert r.status_code == 500 and set(r.json()) == {"code", "message", "errors"}
    faulty.faults.inject("502")
    r = client.get("service/tickets")
    assert r.status_code == 502 and r.headers["Content-Type"].startswith("text/html")
    faulty.faults.inject("503")
    assert client.get("service/tickets").status_code == 503
    faulty.faults.inject("429")
    r = client.get("service/tickets")
    assert r.status_code == 429 and r.headers["Retry-After"] == "3"
    faulty.faults.inject("html")
    r = client.get("service/tickets")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError):
        r.json()
    faulty.faults.inject("reset")
    with pytest.raises(requests.ConnectionError):
        client.get("service/tickets")
    faulty.faults.inject("truncated")
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        client.get("service/tickets", params={"pageSize": 100}).json()
    faulty.faults.inject("slow")
    with pytest.raises(requests.Timeout):
        client.get("service/tickets", timeout=0.5)
    # scripted faults can target a path and are used up; then all is well again
    faulty.faults.inject("503", 2, path_contains="company/companies")
    assert client.get("service/tickets").status_code == 200
    assert client.get("company/companies").status_code == 503
    assert client.get("company/companies").status_code == 503
    assert client.get("company/companies").status_code == 200
    # company info is never faulted
    faulty.faults.inject("500")
    assert (
        requests.get(f"http://{faulty.site}/login/companyinfo/cwsync", timeout=5).status_code == 200
    )
    faulty.faults.clear()


def test_fault_rate_is_seeded_and_roughly_right() -> None:
    def statuses(seed: int) -> list:
        with Sandbox(scale=100, seed=seed, fault_rate=0.3, fault_kinds=["500", "503", "429"]) as sb:
            client = Client(sb)
            return [client.get("service/priorities").status_code for _ in range(100)]

    a, b = statuses(1), statuses(1)
    assert a == b
    failed = sum(s != 200 for s in a)
    assert 15 <= failed <= 45, failed


def test_latency_is_added() -> None:
    with Sandbox(scale=100, seed=1, latency_ms=200, per_record_ms=10) as sb:
        client = Client(sb)
        started = time.perf_counter()
        client.get("service/priorities", params={"pageSize": 5})
        one = time.perf_counter() - started
        assert one >= 0.2 + 0.01 * min(5, sb.count("service/priorities"))


def test_request_log_has_no_secrets(sandbox: Sandbox, client: Client) -> None:
    sandbox.clear_requests()
    client.forward("service/tickets", params={"pageSize": 10, "conditions": "id > 1"})
    log = sandbox.requests
    assert len(log) == 1
    entry = log[0]
    assert entry.path.endswith("/service/tickets") and entry.status == 200 and entry.records == 10
    assert entry.query == {"pagesize": "10", "conditions": "id > 1"}
    assert entry.pagination == "forward-only"
    dumped = repr(log)
    for secret in (
        sandbox.info["private_key"],
        sandbox.info["client_id"],
        client.session.headers["Authorization"],
    ):
        assert secret not in dumped


def test_db_persists_between_runs(tmp_path) -> None:
    path = str(tmp_path / "tenant.sqlite")
    with Sandbox(scale=200, seed=9, db=path) as sb:
        created = sb.create(
            "company/companies", {"identifier": "Persisted", "name": "Persisted Ltd"}
        )
        count = sb.count("company/companies")
    assert os.path.exists(path)
    with Sandbox(scale=200, seed=9, db=path) as sb:
        assert sb.count("company/companies") == count
        assert sb.get("company/companies", created["id"])["name"] == "Persisted Ltd"


def _spawn(*args: str, sigint_ignored: bool = False) -> subprocess.Popen:
    """``cwsync sandbox`` in a child process (``sigint_ignored``: started the way a
    script's ``cwsync sandbox &`` starts it, with SIGINT ignored)."""

    def ignore_sigint() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    return subprocess.Popen(
        [sys.executable, "-m", "cwsync", "sandbox", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ignore_sigint if sigint_ignored else None,
    )


@pytest.mark.parametrize("sigint_ignored", [False, True])
def test_cli_prints_connection_json_then_serves(sigint_ignored: bool) -> None:
    proc = _spawn("--port", "0", "--scale", "200", "--seed", "3", sigint_ignored=sigint_ignored)
    try:
        info = json.loads(proc.stdout.readline())
        assert set(info) >= {
            "base_url",
            "site",
            "company_id",
            "public_key",
            "private_key",
            "client_id",
        }
        assert info["base_url"].startswith("http://127.0.0.1:") and info["base_url"].endswith(
            "/v4_6_release/apis/3.0"
        )
        import base64

        token = base64.b64encode(
            f"{info['company_id']}+{info['public_key']}:{info['private_key']}".encode()
        ).decode()
        r = requests.get(
            f"{info['base_url']}/service/tickets/count",
            headers={"Authorization": f"Basic {token}", "clientId": info["client_id"]},
            timeout=10,
        )
        assert r.status_code == 200 and r.json()["count"] > 0
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=20)  # stderr read, so it never blocks a write
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
            raise AssertionError(
                f"the sandbox did not stop on Ctrl-C; stderr: {err[-2000:]}"
            ) from None
    assert proc.returncode in (0, 130), err


def test_cli_bad_input_is_one_line() -> None:
    for args in (
        ["--scale", "huge"],
        ["--fault-rate", "2"],
        ["--count", "nope"],
        ["--count", "no/such=5"],
        ["--fault-kinds", "explode"],
        ["--db", "/no/such/folder/tenant.sqlite"],
    ):
        proc = _spawn(*args)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 2, (args, err)
        assert "Traceback" not in err
        assert len(err.strip().splitlines()) == 1, err
        assert out == ""
        if "--db" in args:  # the reason, not the queue the connection pool was read from
            assert "cannot open the sandbox database" in err and "Empty" not in err, err

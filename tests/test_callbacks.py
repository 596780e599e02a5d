"""Callbacks end to end: the sandbox fires real, signed callbacks at a real ``cwsync
webhook`` process; the receiver refuses what it must; deletes and updates reach the
DuckDB warehouse within seconds; a receiver killed with SIGKILL loses no accepted event."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import orjson
import pytest
import requests

from cwsync.sandbox import Sandbox
from cwsync.sandbox.callbacks import sign
from pipelines import callbacks as cbs
from pipelines.webhook import KeyCache, Refused, signature, trusted_origins
from sources.connectwise.client import ConnectWiseClient

from .conftest import Client, sandbox_client

TABLES = ["service_tickets", "service_tickets_notes", "company_companies"]


# -- helpers ------------------------------------------------------------------------------
def _env(sb: Sandbox) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "CALLBACKS__"))}
    for key in ("company_id", "public_key", "private_key", "client_id", "base_url"):
        env[f"SOURCES__CONNECTWISE__{key.upper()}"] = sb.info[key]
    env["SOURCES__CONNECTWISE__REQUESTS_PER_SECOND"] = "0"
    env["RUNTIME__LOG_LEVEL"] = "CRITICAL"
    return env


def _client(sb: Sandbox) -> ConnectWiseClient:
    return sandbox_client(sb)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """A ``cwsync webhook`` subprocess."""

    def __init__(self, sb: Sandbox, workdir: Path, journal: Path, port: int, interval=0.3):
        cmd = [
            sys.executable,
            "-m",
            "cwsync",
            "webhook",
            "--port",
            str(port),
            "--journal",
            str(journal),
            "--interval",
            str(interval),
            "--duckdb-file",
            str(workdir / "wh.duckdb"),
            "--pipelines-dir",
            str(workdir / "state"),
        ]
        self.journal = journal
        self.proc = subprocess.Popen(
            cmd, env=_env(sb), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        line = self.proc.stdout.readline()
        assert line, self.proc.stderr.read()
        self.info = json.loads(line)
        self.url = self.info["listening"] + "connectwise"

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err

    def journal_rows(self) -> dict[str, str]:
        with sqlite3.connect(self.journal) as db:
            return dict(db.execute("SELECT message_id, state FROM events"))


def _rows(workdir: Path, sql: str, args=()) -> list[tuple]:
    """Read the warehouse; the receiver may hold DuckDB's write lock for a moment."""
    for _ in range(200):
        try:
            with duckdb.connect(str(workdir / "wh.duckdb"), read_only=True) as db:
                return db.execute(sql, list(args)).fetchall()
        except duckdb.IOException:
            time.sleep(0.05)
    raise AssertionError("the warehouse stayed locked")


def _wait(predicate, timeout: float = 30.0, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def _payload(sb: Sandbox, **overrides) -> dict:
    rid = sb.ids("service/tickets")[0]
    entity = sb.get("service/tickets", rid)
    entity["_info"]["lastUpdated"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    body = {
        "MessageId": str(uuid.uuid4()),
        "FromUrl": sb.site,
        "CompanyId": sb.info["company_id"],
        "MemberId": "apiuser",
        "Action": "updated",
        "Type": "ticket",
        "ID": rid,
        "ProductInstanceId": None,
        "PartnerId": None,
        "Entity": orjson.dumps(entity).decode(),
        "Metadata": {"key_url": sb.callbacks.key_url},
        "CallbackObjectRecId": 1,
    }
    body.update(overrides)
    return body


def _guide_signature(raw: bytes, key: str) -> str:
    """The guide's C# sample, line by line: SHA-256 of the key, HMAC-SHA256, base64."""
    hashed = hashlib.sha256(key.encode("utf-8")).digest()
    return base64.b64encode(hmac.new(hashed, raw, hashlib.sha256).digest()).decode()


def _post(url: str, raw: bytes, sig: str | None, **kwargs) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if sig is not None:
        headers["x-content-signature"] = sig
    return requests.post(url, data=raw, headers=headers, timeout=30, **kwargs)


class _Capture(BaseHTTPRequestHandler):
    """A plain HTTP endpoint that records what is POSTed (and can fail or stall first)."""

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.server.hits.append(("GET", self.path, {}, b""))  # type: ignore[attr-defined]
        body = orjson.dumps({"signing_key": "attacker-key"})
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        server = self.server
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        server.hits.append(("POST", self.path, dict(self.headers), raw))  # type: ignore[attr-defined]
        time.sleep(server.stall)  # type: ignore[attr-defined]
        status = 503 if server.fail_first > 0 else 200  # type: ignore[attr-defined]
        server.fail_first -= 1  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture()
def capture():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    server.hits, server.stall, server.fail_first = [], 0.0, 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


# -- fixtures -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sb():
    with Sandbox(scale=200, seed=21) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def workdir(sb, tmp_path_factory) -> Path:
    """A warehouse synced once (tickets with notes, companies), as `cwsync run` leaves it."""
    from pipelines.sync import make_pipeline, run_sync

    from .conftest import source_args

    work = tmp_path_factory.mktemp("callbacks")
    pipeline = make_pipeline(
        "duckdb",
        duckdb_path=str(work / "wh.duckdb"),
        pipeline_name="cwsync",
        pipelines_dir=str(work / "state"),
    )
    run_sync(pipeline, tables=TABLES, verify=False, **source_args(sb))
    return work


@pytest.fixture(scope="module")
def receiver(sb, workdir):
    rcv = Receiver(sb, workdir, workdir / "journal.sqlite", 0)
    cbs.register(_client(sb), rcv.url, ["Ticket", "Company"])
    yield rcv
    cbs.remove(_client(sb), rcv.url)
    rcv.stop()


# -- signatures and trust ------------------------------------------------------------------
def test_signature_is_the_guides_sample():
    raw = b'{"a":1}'
    # independent value: openssl dgst -sha256 -mac HMAC -macopt hexkey:$(sha256 of key)
    expected = "FbIJHr3V7F855t9p40125jaXtQXr2BVfTVABPTqZGPA="
    assert _guide_signature(raw, "sandbox-key") == expected
    assert sign(raw, "sandbox-key") == expected
    assert signature(raw, "sandbox-key") == expected
    assert signature(raw, "other-key") != expected


def test_key_urls_are_trusted_only_on_the_configured_host():
    origins = trusted_origins(
        ["https://api-na.myconnectwise.net/v4_6_release/apis/3.0", "na.myconnectwise.net"]
    )
    keys = KeyCache(origins)
    assert keys.trusted("https://api-na.myconnectwise.net/v4_6_release/callback/key/1")
    assert keys.trusted("https://na.myconnectwise.net:443/key")
    for url in (
        "http://api-na.myconnectwise.net/key",  # plain http to a real host
        "https://api-na.myconnectwise.net.evil.example/key",
        "https://evil.example/?https://api-na.myconnectwise.net/",
        "https://api-na.myconnectwise.net@evil.example/key",
        "https://user@api-na.myconnectwise.net/key",
        "https://api-na.myconnectwise.net:8443/key",
        "ftp://api-na.myconnectwise.net/key",
        "not a url",
    ):
        assert not keys.trusted(url), url
    # plain http is trusted only for a loopback site (the sandbox)
    assert trusted_origins(["http://cw.example.com/v4_6_release/apis/3.0"]) == set()
    assert trusted_origins(["http://127.0.0.1:8080/x"]) == {("http", "127.0.0.1", 8080)}


def test_key_cache_fetches_rarely(capture):
    base = f"http://127.0.0.1:{capture.server_address[1]}"
    keys = KeyCache(trusted_origins([base]), max_fetches_per_minute=3)
    assert keys.get(f"{base}/key/1") == "attacker-key"
    assert keys.get(f"{base}/key/1") == "attacker-key"
    assert keys.get(f"{base}/key/1", fresh=True) == "attacker-key"  # fetched just now
    assert len(capture.hits) == 1
    keys.get(f"{base}/key/2")
    keys.get(f"{base}/key/3")
    with pytest.raises(Refused) as refused:  # a flood of made-up key URLs is capped
        keys.get(f"{base}/key/4")
    assert refused.value.status == 503 and len(capture.hits) == 3
    rotating = KeyCache(trusted_origins([base]), refetch_after_seconds=0)
    rotating.get(f"{base}/key/1")
    rotating.get(f"{base}/key/1", fresh=True)  # a mismatch may mean a rotated key
    assert len(capture.hits) == 5


# -- the sandbox's side ----------------------------------------------------------------------
def test_sandbox_delivers_signed_callbacks_without_blocking_writes(sb, capture):
    client = Client(sb)
    url = f"http://127.0.0.1:{capture.server_address[1]}/hook"
    entry = client.request(
        "POST",
        "system/callbacks",
        json={"url": url, "objectId": 1, "type": "Company", "level": "Owner"},
    )
    assert entry.status_code == 201, entry.text
    try:
        capture.stall, capture.fail_first = 1.5, 1  # slow, and the first try fails
        rid = sb.ids("company/companies")[0]
        started = time.perf_counter()
        response = client.request(
            "PATCH",
            f"company/companies/{rid}",
            json=[{"op": "replace", "path": "name", "value": "Callback Co"}],
        )
        assert response.status_code == 200
        assert time.perf_counter() - started < 0.5  # delivery does not hold the write
        assert sb.callbacks.wait_idle(30)
        posts = [h for h in capture.hits if h[0] == "POST"]
        assert len(posts) == 2  # retried after the 503
        _, path, headers, raw = posts[-1]
        assert path == "/hook"
        body = orjson.loads(raw)
        assert body["Action"] == "updated" and body["Type"] == "company" and body["ID"] == rid
        assert body["CallbackObjectRecId"] == entry.json()["id"]
        assert orjson.loads(body["Entity"])["name"] == "Callback Co"
        key_url = body["Metadata"]["key_url"]
        assert key_url.startswith(f"http://{sb.site}/")
        key = requests.get(key_url, timeout=10).json()["signing_key"]  # no credentials needed
        assert headers["x-content-signature"] == _guide_signature(raw, key)
        delivery = [d for d in sb.callbacks.deliveries if d.url == url][-1]
        assert delivery.delivered and delivery.attempts == 2

        capture.stall, capture.fail_first = 0.0, 0
        sb.delete("company/companies", sb.ids("company/companies")[-1])
        assert sb.callbacks.wait_idle(30)
        body = orjson.loads(capture.hits[-1][3])
        assert body["Action"] == "deleted" and body["Entity"] is None
    finally:
        client.request("DELETE", f"system/callbacks/{entry.json()['id']}")


def test_sandbox_refuses_unknown_callback_types_and_levels(sb):
    client = Client(sb)
    for body in (
        {"url": "http://127.0.0.1:9/", "objectId": 1, "type": "Spaceship", "level": "Owner"},
        {"url": "http://127.0.0.1:9/", "objectId": 1, "type": "Ticket", "level": "Galaxy"},
    ):
        response = client.request("POST", "system/callbacks", json=body)
        assert response.status_code == 400, response.text
        assert response.json()["errors"][0]["field"] in ("type", "level")


# -- register / list / remove -----------------------------------------------------------------
def test_register_is_idempotent(sb, tmp_path):
    url = "http://127.0.0.1:9/idempotent"
    env = _env(sb)
    cmd = [sys.executable, "-m", "cwsync", "callbacks"]
    first = subprocess.run(
        [*cmd, "register", "--url", url, "--types", "ticket,Company"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("registered Ticket") == 1
    again = subprocess.run(
        [*cmd, "register", "--url", url, "--types", "Ticket,Company"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("already registered") == 2
    entries = cbs.list_callbacks(_client(sb), url)
    assert sorted(e["type"] for e in entries) == ["Company", "Ticket"]
    ticket = next(e for e in entries if e["type"] == "Ticket")
    sb.update("system/callbacks", ticket["id"], {"inactiveFlag": True})
    again = cbs.register(_client(sb), url, ["Ticket"])  # switched back on, not duplicated
    assert again.created == [] and again.kept[0]["inactiveFlag"] is False
    assert len(cbs.list_callbacks(_client(sb), url)) == 2
    listed = subprocess.run(
        [*cmd, "list", "--url", url], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert listed.returncode == 0 and listed.stdout.count(url) == 2
    bad = subprocess.run(
        [*cmd, "register", "--url", url, "--types", "Spaceship"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert bad.returncode == 2 and "unknown callback type" in bad.stderr
    assert "Traceback" not in bad.stderr and sb.info["private_key"] not in bad.stderr
    insecure = subprocess.run(
        [*cmd, "register", "--url", "http://hooks.example.com/x"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert insecure.returncode == 2 and "https" in insecure.stderr
    gone = subprocess.run(
        [*cmd, "remove", "--url", url], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert gone.returncode == 0 and gone.stdout.count("removed") == 2
    assert cbs.list_callbacks(_client(sb), url) == []


# -- the receiver refuses ---------------------------------------------------------------------
def test_receiver_refuses_forged_foreign_replayed_huge_and_malformed(sb, receiver, capture):
    key = sb.callbacks.signing_key
    url = receiver.url

    raw = orjson.dumps(_payload(sb))
    assert _post(url, raw, None).status_code == 401  # unsigned
    assert _post(url, raw, _guide_signature(raw, "guessed-key")).status_code == 401  # forged
    tampered = raw.replace(b'"updated"', b'"deleted"')
    assert _post(url, tampered, _guide_signature(raw, key)).status_code == 401

    # a key_url on another host is never fetched, even when it would serve a matching key
    evil = f"http://127.0.0.1:{capture.server_address[1]}/key"
    foreign = orjson.dumps(_payload(sb, Metadata={"key_url": evil}))
    assert _post(url, foreign, _guide_signature(foreign, "attacker-key")).status_code == 401
    elsewhere = orjson.dumps(_payload(sb, Metadata={"key_url": "https://203.0.113.9/key"}))
    assert _post(url, elsewhere, _guide_signature(elsewhere, "attacker-key")).status_code == 401
    assert capture.hits == []

    # accepted once, then a replay
    assert _post(url, raw, _guide_signature(raw, key)).status_code == 200
    assert _post(url, raw, _guide_signature(raw, key)).status_code == 409
    # a captured message of a record long gone stale is a replay too
    old = orjson.loads(_payload(sb)["Entity"])
    old["_info"]["lastUpdated"] = "2020-01-01T00:00:00Z"
    stale = orjson.dumps(_payload(sb, Entity=orjson.dumps(old).decode()))
    assert _post(url, stale, _guide_signature(stale, key)).status_code == 409

    # too big: refused by its Content-Length, and when streamed without one
    huge = b'{"x":"' + b"a" * (2 * 1024 * 1024) + b'"}'
    assert _post(url, huge, _guide_signature(huge, key)).status_code == 413
    chunks = (huge[i : i + 65536] for i in range(0, len(huge), 65536))
    assert _post(url, chunks, _guide_signature(huge, key)).status_code == 413

    for bad in (b"{not json", b"[1,2]", orjson.dumps({"MessageId": "x"})):
        assert _post(url, bad, _guide_signature(bad, key)).status_code == 400
    assert requests.get(url, timeout=10).status_code == 405
    health = requests.get(receiver.info["listening"] + "healthz", timeout=10).json()
    assert health["ok"] is True


# -- into the warehouse -------------------------------------------------------------------------
def _cursor_state(workdir: Path) -> dict:
    import dlt

    pipeline = dlt.attach("cwsync", pipelines_dir=str(workdir / "state"))
    resources = pipeline.state["sources"]["connectwise"]["resources"]
    return json.loads(json.dumps(resources["service_tickets"], default=str))


def test_delete_and_update_reach_the_warehouse_within_seconds(sb, workdir, receiver):
    before = _cursor_state(workdir)
    tid = _rows(
        workdir,
        "SELECT t.id FROM connectwise.service_tickets t JOIN connectwise.service_tickets_notes n"
        " ON n.parent_id = t.id WHERE t._cw_deleted_at IS NULL ORDER BY t.id LIMIT 1",
    )[0][0]
    started = time.monotonic()
    sb.delete("service/tickets", tid)
    marked = _wait(
        lambda: _rows(
            workdir, "SELECT _cw_deleted_at FROM connectwise.service_tickets WHERE id = ?", [tid]
        )[0][0],
        timeout=20,
    )
    delete_seconds = time.monotonic() - started
    assert marked is not None, receiver.stop()
    assert delete_seconds < 10
    notes = _rows(
        workdir,
        "SELECT count(*), count(_cw_deleted_at) FROM connectwise.service_tickets_notes"
        " WHERE parent_id = ?",
        [tid],
    )[0]
    assert notes[0] > 0 and notes[0] == notes[1]

    cid = sb.ids("company/companies")[1]
    started = time.monotonic()
    sb.update("company/companies", cid, {"name": "Renamed By Callback"})
    name = _wait(
        lambda: (
            _rows(workdir, "SELECT name FROM connectwise.company_companies WHERE id = ?", [cid])[0][
                0
            ]
            == "Renamed By Callback"
        ),
        timeout=20,
    )
    update_seconds = time.monotonic() - started
    assert name, receiver.stop()
    assert update_seconds < 10
    # a targeted micro-batch leaves the incremental cursors where the last run put them
    assert _cursor_state(workdir) == before
    print(f"callback->warehouse: delete {delete_seconds:.2f}s, update {update_seconds:.2f}s")


def test_micro_batches_respect_the_url_length_limit(sb, workdir, tmp_path):
    """Hundreds of changed ids are read in several requests, none longer than the limit."""
    from pipelines.journal import Event, Journal
    from pipelines.sync import make_pipeline

    ids = sb.ids("service/tickets")[-40:]
    for rid in ids:
        sb.update("service/tickets", rid, {"summary": f"bulk {rid}"})
    journal = Journal(tmp_path / "bulk.sqlite")
    try:
        futures = [
            journal.append(Event(str(uuid.uuid4()), "ticket", "updated", rid, None, b"{}"))
            for rid in [*ids, *range(900000, 900300)]  # most of them unknown ids
        ]
        assert all(f.result(10) for f in futures)
        processor = cbs.EventProcessor(
            journal,
            _client(sb),
            lambda: make_pipeline(
                "duckdb",
                duckdb_path=str(workdir / "wh.duckdb"),
                pipeline_name="cwsync",
                pipelines_dir=str(workdir / "state"),
            ),
            max_url_length=600,
        )
        mark = len(sb.requests)
        result = processor.run_once()
        assert result.events == 340 and result.refreshed["service_tickets"] == 340
        reads = [r for r in sb.requests[mark:] if r.path.endswith("/service/tickets")]
        assert len(reads) >= 5 and all(r.status == 200 for r in reads)
        assert journal.pending() == []
    finally:
        journal.close()
    got = dict(
        _rows(
            workdir,
            f"SELECT id, summary FROM connectwise.service_tickets WHERE id IN "
            f"({','.join(map(str, ids))})",
        )
    )
    assert got == {rid: f"bulk {rid}" for rid in ids}


def test_processor_touches_only_the_chosen_tables(sb, workdir, tmp_path):
    from pipelines.journal import Event, Journal
    from pipelines.sync import make_pipeline

    journal = Journal(tmp_path / "chosen.sqlite")
    try:
        rid = sb.ids("service/tickets")[-1]
        for kind in ("ticket", "spaceship"):
            assert journal.append(Event(str(uuid.uuid4()), kind, "deleted", rid, None, b"")).result(
                10
            )
        processor = cbs.EventProcessor(
            journal,
            _client(sb),
            lambda: make_pipeline(
                "duckdb",
                duckdb_path=str(workdir / "wh.duckdb"),
                pipeline_name="cwsync",
                pipelines_dir=str(workdir / "state"),
            ),
            tables=["company_companies"],
        )
        result = processor.run_once()
        assert result.skipped == 2 and result.deleted == {}
        assert journal.counts() == {"skipped": 2}
    finally:
        journal.close()


def test_a_failing_table_holds_up_no_other(sb, workdir, tmp_path):
    from pipelines.journal import Event, Journal
    from pipelines.sync import make_pipeline
    from sources.connectwise.retry import RetryPolicy

    info = sb.info
    client = ConnectWiseClient(
        company_id=info["company_id"],
        public_key=info["public_key"],
        private_key=info["private_key"],
        client_id=info["client_id"],
        base_url=info["base_url"],
        retry=RetryPolicy(max_attempts=2, base_delay=0.01),
    )
    journal = Journal(tmp_path / "isolated.sqlite")
    try:
        ticket = Event(str(uuid.uuid4()), "ticket", "updated", sb.ids("service/tickets")[2], 1, b"")
        company = Event(
            str(uuid.uuid4()), "company", "updated", sb.ids("company/companies")[2], 2, b""
        )
        assert journal.append(ticket).result(10) and journal.append(company).result(10)
        processor = cbs.EventProcessor(
            journal,
            client,
            lambda: make_pipeline(
                "duckdb",
                duckdb_path=str(workdir / "wh.duckdb"),
                pipeline_name="cwsync",
                pipelines_dir=str(workdir / "state"),
            ),
        )
        sb.faults.inject("500", 50, path_contains="company/companies")
        try:
            result = processor.run_once()
        finally:
            sb.faults.clear()
        assert set(result.failed) == {"company_companies"}
        assert result.refreshed == {"service_tickets": 1}
        with sqlite3.connect(journal.path) as db:
            states = dict(db.execute("SELECT message_id, state || '/' || attempts FROM events"))
        assert states == {ticket.message_id: "done/0", company.message_id: "pending/1"}
        again = processor.run_once()
        assert again.failed == {} and again.refreshed == {"company_companies": 1}
        assert journal.counts() == {"done": 2}
    finally:
        journal.close()


def test_a_load_left_pending_is_flushed_before_the_next_batch(sb, workdir, receiver, tmp_path):
    """With a load package pending (a load that failed: the warehouse was locked, the
    process was killed), dlt's run loads only that package and extracts nothing: the next
    micro-batch must load it first and still apply its own events."""
    from pipelines.journal import Event, Journal
    from pipelines.sync import make_pipeline
    from sources.connectwise import connectwise_source

    from .conftest import source_args

    rid = sb.ids("company/companies")[3]
    client = _client(sb)
    cbs.remove(client, receiver.url)  # only this test's processor applies these changes
    journal = Journal(tmp_path / "pending.sqlite")
    try:

        def pipeline():
            return make_pipeline(
                "duckdb",
                duckdb_path=str(workdir / "wh.duckdb"),
                pipeline_name="cwsync",
                pipelines_dir=str(workdir / "state"),
            )

        with cbs.pipeline_lock(str(workdir / "state"), "cwsync"):
            sb.update("company/companies", rid, {"name": "Left Pending"})
            stuck = pipeline()
            stuck.extract(
                connectwise_source(
                    tables=["company_companies"],
                    conditions={"company_companies": f"id in ({rid})"},
                    advance_cursors=False,
                    **source_args(sb),
                )
            )
            stuck.normalize()  # ... and the load never happened
            assert stuck.has_pending_data
        sb.update("company/companies", rid, {"name": "Applied After"})
        event = Event(str(uuid.uuid4()), "company", "updated", rid, None, b"")
        assert journal.append(event).result(10)
        result = cbs.EventProcessor(journal, client, pipeline).run_once()
        assert result.failed == {} and journal.counts() == {"done": 1}
        assert not pipeline().has_pending_data
    finally:
        journal.close()
        cbs.register(client, receiver.url, ["Ticket", "Company"])
    name = _rows(workdir, "SELECT name FROM connectwise.company_companies WHERE id = ?", [rid])
    assert name == [("Applied After",)]


def test_receiver_killed_mid_stream_loses_no_accepted_event(sb, workdir, receiver, tmp_path):
    port = _free_port()
    journal = tmp_path / "kill.sqlite"
    first = Receiver(sb, workdir, journal, port, interval=0.2)
    client = _client(sb)
    cbs.register(client, first.url, ["Ticket"])
    ids = sb.ids("service/tickets")[5:45]
    stop = threading.Event()

    def writer() -> None:
        n = 0
        while not stop.is_set() and n < 400:
            rid = ids[n % len(ids)]
            sb.update("service/tickets", rid, {"summary": f"stream {n}"})
            n += 1
            time.sleep(0.002)

    thread = threading.Thread(target=writer)
    second = None
    try:
        thread.start()
        accepted = lambda: [  # noqa: E731
            d for d in sb.callbacks.deliveries if d.url == first.url and d.delivered
        ]
        assert _wait(lambda: len(accepted()) >= 40, timeout=30, step=0.01)
        first.proc.send_signal(signal.SIGKILL)  # mid-stream: deliveries are in flight
        first.proc.wait(10)
        killed_at = len(accepted())
        second = Receiver(sb, workdir, journal, port, interval=0.2)
        thread.join(60)
        assert sb.callbacks.wait_idle(60)
        ok = {d.message_id for d in accepted()}
        assert len(ok) > killed_at  # the restarted receiver took the rest
        rows = _wait(
            lambda: (
                (r := second.journal_rows())
                and all(s == "done" for s in r.values())
                and ok <= set(r)
                and r
            ),
            timeout=60,
        )
        assert rows, second.journal_rows()
        assert ok <= set(rows)  # every event answered 200 is journaled and applied
        latest = {rid: sb.get("service/tickets", rid)["summary"] for rid in ids}
        got = _wait(
            lambda: (
                dict(
                    _rows(
                        workdir,
                        "SELECT id, summary FROM connectwise.service_tickets WHERE id IN "
                        f"({','.join(map(str, ids))})",
                    )
                )
                == latest
            ),
            timeout=30,
        )
        assert got
    finally:
        stop.set()
        thread.join(30)
        cbs.remove(client, first.url)
        first.stop()
        if second is not None:
            second.stop()


def test_webhook_and_callbacks_fail_in_one_line(sb, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "CALLBACKS__"))}
    cmd = [sys.executable, "-m", "cwsync"]
    no_keys = subprocess.run(
        [*cmd, "webhook", "--port", "0"], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert no_keys.returncode == 2 and "missing company_id" in no_keys.stderr
    no_url = subprocess.run(
        [*cmd, "callbacks", "list"], env=_env(sb), capture_output=True, text=True, cwd=tmp_path
    )
    assert no_url.returncode == 2 and "--url" in no_url.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = subprocess.run(
            [*cmd, "webhook", "--port", str(busy.getsockname()[1])],
            env=_env(sb),
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
    assert taken.returncode == 2 and "cannot listen" in taken.stderr
    for run in (no_keys, no_url, taken):
        assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1
        assert sb.info["private_key"] not in run.stderr + run.stdout

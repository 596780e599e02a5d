"""The source under transient and permanent API failures, over real HTTP into DuckDB.

Covers: a 10% fault rate over every fault kind still loads exactly the sandbox's rows;
each fault kind alone is served, retried and absorbed (429 honours ``Retry-After``, a
slow response past the read timeout is retried); retries are bounded and a failed run
leaves the incremental cursor where it was; a 200 HTML page that persists is an error,
never an empty table; 400/401/403/404 are not retried and read as one line without
secrets; every retry is logged with method, path and reason, and without secrets.
"""

from __future__ import annotations

import base64
import logging
import re
import time
from collections.abc import Iterator

import pytest

from cwsync.sandbox import Sandbox
from cwsync.sandbox.faults import KINDS
from pipelines.sync import RunSummary, run_sync
from sources.connectwise.client import ConnectWiseClient
from sources.connectwise.errors import (
    ApiRequestError,
    ConnectWiseError,
    RetriesExhausted,
    find_connectwise_error,
)
from sources.connectwise.retry import RetryPolicy
from sources.connectwise.settings import BY_TABLE

from .conftest import duckdb_pipeline, duckdb_rows, sandbox_client, source_args

API_PREFIX = "/v4_6_release/apis/3.0/"
FAULTY_TABLES = [
    "service_tickets",
    "service_tickets_notes",
    "time_entries",
    "company_companies",
    "company_companies_sites",
    "finance_agreements",
]
# what the client says when it retries a given fault kind
REASON_OF_KIND = {
    "500": r"HTTP 500",
    "502": r"HTTP 502",
    "503": r"HTTP 503",
    "429": r"HTTP 429",
    "reset": r"connection error",
    "truncated": r"truncated|invalid JSON|connection error",
    "html": r"not JSON",
    "slow": r"timeout",
}
RETRY_LINE = re.compile(
    r"^retrying (?P<method>GET) /(?P<path>\S+) after (?P<reason>.+) "
    r"\(attempt (?P<attempt>\d+) of (?P<of>\d+), waiting [0-9.]+s\)$"
)


# -- helpers -----------------------------------------------------------------------------
def _sandbox_path(table: str) -> str:
    return BY_TABLE[table].path.replace("{id}", "{parentId}")


def _expected_keys(sb: Sandbox, table: str) -> set[tuple[int | None, int]]:
    """(parent_id, id) of every record of ``table`` in the sandbox (parent None on top)."""
    endpoint = BY_TABLE[table]
    if not endpoint.is_child:
        return {(None, rid) for rid in sb.ids(endpoint.path)}
    parent = BY_TABLE[endpoint.parent_table]  # type: ignore[index]
    return {(pid, rid) for pid in sb.ids(parent.path) for rid in sb.ids(_sandbox_path(table), pid)}


def _loaded_keys(pipeline, table: str) -> list[tuple[int | None, int]]:
    parent = "parent_id" if BY_TABLE[table].is_child else "NULL"
    return [
        (p, i) for p, i in duckdb_rows(pipeline, f"SELECT {parent}, id FROM connectwise.{table}")
    ]


def _tables_in(pipeline) -> set[str]:
    try:
        rows = duckdb_rows(
            pipeline,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'connectwise'",
        )
    except Exception:  # the DuckDB file was never created: nothing was loaded
        return set()
    return {r[0] for r in rows}


def _assert_table_matches_sandbox(sb: Sandbox, pipeline, table: str) -> None:
    expected = _expected_keys(sb, table)
    loaded = _loaded_keys(pipeline, table)
    assert expected, f"the sandbox has no {table} rows: the test proves nothing"
    assert len(loaded) == len(expected), (table, len(loaded), len(expected))
    assert len({i for _, i in loaded}) == len(loaded), f"duplicate ids in {table}"
    assert set(loaded) == expected, table


def _is_sync_request(entry) -> bool:
    """A request of the sync itself: not a ``/count`` check, not an id-only sweep for
    deletes (``fields=id``), which a run may add after the load."""
    return not entry.path.endswith("/count") and "fields" not in entry.query


def _api_log(sb: Sandbox, path: str | None = None, *, sync_only: bool = True) -> list:
    """Logged API requests of the sync (optionally of exactly one collection path),
    oldest first."""
    entries = [r for r in sb.requests if r.path.startswith(API_PREFIX)]
    if sync_only:
        entries = [r for r in entries if _is_sync_request(r)]
    if path is not None:
        entries = [r for r in entries if r.path == API_PREFIX + path]
    return sorted(entries, key=lambda r: r.at)


def _wait_for_log(sb: Sandbox, path: str, n: int, timeout: float = 10.0) -> list:
    """The log entries of ``path`` once there are ``n`` of them (a slow response that the
    client gave up on is logged only when the sandbox finishes sending it)."""
    deadline = time.monotonic() + timeout
    while True:
        entries = _api_log(sb, path)
        if len(entries) >= n or time.monotonic() > deadline:
            return entries
        time.sleep(0.05)


def _secrets(sb: Sandbox, *extra: str) -> list[str]:
    """Every credential string that must never appear in a message."""
    info = sb.info
    company = info["company_id"]
    pairs = [
        (info["public_key"], info["private_key"]),
        (info["limited_member"]["public_key"], info["limited_member"]["private_key"]),
    ]
    values = [info["client_id"], *extra]
    for public, private in pairs:
        values += [public, private]
        token = base64.b64encode(f"{company}+{public}:{private}".encode()).decode()
        values += [token, f"Basic {token}"]
    return [v for v in values if v]


def _assert_no_secrets(text: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in text, f"a credential leaked into: {text!r}"


def _failing_sync(pipeline, **kwargs) -> tuple[BaseException, ConnectWiseError]:
    with pytest.raises(Exception) as raised:
        run_sync(pipeline, **kwargs)
    found = find_connectwise_error(raised.value)
    assert found is not None, f"not a ConnectWiseError: {raised.value!r}"
    message = str(found)
    assert message and "\n" not in message and "Traceback" not in message
    return raised.value, found


def _client(sb: Sandbox, **policy) -> ConnectWiseClient:
    return sandbox_client(sb, retry=RetryPolicy(**{"base_delay": 0.01, **policy}))


@pytest.fixture(scope="module")
def kind_sandbox() -> Iterator[Sandbox]:
    """One read-only tenant for the fault-kind tests (each clears the log and faults)."""
    with Sandbox(scale=400, seed=5, slow_seconds=1.0, retry_after=1) as sb:
        yield sb


@pytest.fixture()
def clean(kind_sandbox: Sandbox) -> Iterator[Sandbox]:
    kind_sandbox.faults.clear()
    kind_sandbox.clear_requests()
    yield kind_sandbox
    kind_sandbox.faults.clear()


# -- 1. a fault rate of 10% over every kind ---------------------------------------------
def test_ten_percent_faults_of_every_kind_still_give_exact_tables(tmp_path) -> None:
    with Sandbox(
        scale=400,
        seed=5,
        fault_rate=0.1,
        fault_kinds=list(KINDS),
        slow_seconds=0.3,
        retry_after=0,
    ) as sb:
        # on top of the random 10%: every kind at least once, on the notes of some tickets
        for kind, tid in zip(KINDS, sb.ids("service/tickets")[1::9], strict=False):
            sb.faults.inject(kind, 1, path_contains=f"service/tickets/{tid}/notes")
        pipeline = duckdb_pipeline(tmp_path, "faulty")
        summary = run_sync(pipeline, tables=FAULTY_TABLES, **source_args(sb, page_size=50))

        for table in FAULTY_TABLES:
            _assert_table_matches_sandbox(sb, pipeline, table)
            assert summary.rows.get(table) == len(_expected_keys(sb, table)), table

        faults = [r for r in _api_log(sb) if r.fault]
        assert {r.fault for r in faults} == set(KINDS), sb.faults.injected
        assert len(faults) >= len(KINDS) + 5, sb.faults.injected  # the random ones too
        # every fault but a slow (yet in-time) answer costs exactly one retry: the faults
        # of every request of the run (a split walk's id probe and the count checks too)
        everything = [r for r in _api_log(sb, sync_only=False) if r.fault]
        assert summary.retries > 0
        assert summary.retries == sum(1 for r in everything if r.fault != "slow")


# -- 2. each fault kind alone -------------------------------------------------------------
@pytest.mark.parametrize("kind", list(KINDS))
def test_each_fault_kind_is_retried_to_a_complete_table(
    kind: str, clean: Sandbox, tmp_path
) -> None:
    sb = clean
    # a slow answer is only a failure past the read timeout: shorten it (the sandbox
    # delays slow answers by 1 s, the sandbox answers 100 tickets in a few ms)
    client = _client(sb, read_timeout=0.5) if kind == "slow" else None
    sb.faults.inject(kind, 2, path_contains="service/tickets")
    pipeline = duckdb_pipeline(tmp_path, f"kind_{kind}")
    summary = run_sync(pipeline, tables=["service_tickets"], client=client, **source_args(sb))

    _assert_table_matches_sandbox(sb, pipeline, "service_tickets")
    log = _wait_for_log(sb, "service/tickets", 3)
    assert [r.fault for r in log].count(kind) == 2, [(r.fault, r.status) for r in log]
    assert len(log) == 3, [(r.fault, r.status) for r in log]
    assert summary.retries == 2
    # the same page was asked for again, not skipped
    assert all(r.query == log[0].query for r in log)
    served = [r for r in log if r.fault == kind]
    if kind in ("500", "502", "503", "429"):
        assert all(r.status == int(kind) for r in served)
    if kind == "429":
        # Retry-After: 1 is honoured (the client's own backoff is 0.01 s)
        gaps = [b.at - a.at for a, b in zip(log, log[1:], strict=False)]
        assert all(gap >= 0.9 for gap in gaps), gaps


def test_slow_answer_within_the_read_timeout_is_simply_waited_for(clean: Sandbox, tmp_path) -> None:
    sb = clean
    sb.faults.inject("slow", 1, path_contains="service/tickets")
    pipeline = duckdb_pipeline(tmp_path, "slow_ok")
    summary = run_sync(pipeline, tables=["service_tickets"], **source_args(sb))
    _assert_table_matches_sandbox(sb, pipeline, "service_tickets")
    log = _api_log(sb, "service/tickets")
    assert [r.fault for r in log] == ["slow"]
    assert summary.retries == 0


# -- 3. retries are bounded; a failed run is not taken as complete ------------------------
def test_retries_are_bounded_and_a_failed_first_run_loads_nothing(tmp_path) -> None:
    with Sandbox(scale=400, seed=5) as sb:
        sb.faults.inject("503", 10, path_contains="service/tickets")
        pipeline = duckdb_pipeline(tmp_path, "bounded")
        _, error = _failing_sync(
            pipeline, tables=["service_tickets"], **source_args(sb, max_attempts=3)
        )
        assert isinstance(error, RetriesExhausted)
        assert "/service/tickets" in str(error) and "3 attempts" in str(error)
        assert "HTTP 503" in str(error)
        log = _api_log(sb, "service/tickets")
        assert [r.status for r in log] == [503, 503, 503]
        # nothing was loaded, nor remembered as loaded
        assert "service_tickets" not in _tables_in(pipeline)

        sb.faults.clear()
        summary = run_sync(pipeline, tables=["service_tickets"], **source_args(sb))
        _assert_table_matches_sandbox(sb, pipeline, "service_tickets")
        assert summary.rows["service_tickets"] == sb.count("service/tickets")


def test_a_failed_incremental_run_does_not_advance_the_cursor(tmp_path) -> None:
    tables = ["service_tickets", "service_tickets_notes"]
    with Sandbox(scale=400, seed=5) as sb:
        pipeline = duckdb_pipeline(tmp_path, "cursor")
        run_sync(pipeline, tables=tables, **source_args(sb))
        before = pipeline.state["sources"]["connectwise"]["resources"]["service_tickets"]
        before = repr(before)

        changed = sb.ids("service/tickets")[::20]
        for tid in changed:
            sb.update("service/tickets", tid, {"summary": f"changed {tid}"})
            sb.create(
                "service/tickets/{parentId}/notes",
                {"text": f"note on {tid}", "internalAnalysisFlag": True},
                parent_id=tid,
            )
        # the tickets page reads fine; the notes of the first changed ticket never do
        sb.faults.inject("503", 10, path_contains="/notes")
        sb.clear_requests()
        _, error = _failing_sync(
            pipeline, tables=tables, **source_args(sb, max_attempts=3, child_workers=1)
        )
        assert isinstance(error, RetriesExhausted)
        assert f"/service/tickets/{changed[0]}/notes" in str(error)
        assert len(_api_log(sb, f"service/tickets/{changed[0]}/notes")) == 3
        after = pipeline.state["sources"]["connectwise"]["resources"]["service_tickets"]
        assert repr(after) == before, "the cursor moved although the run failed"

        sb.faults.clear()
        summary = run_sync(pipeline, tables=tables, **source_args(sb))
        for table in tables:
            _assert_table_matches_sandbox(sb, pipeline, table)
        assert summary.rows["service_tickets"] == len(changed)
        new_notes = duckdb_rows(
            pipeline,
            "SELECT count(*) FROM connectwise.service_tickets_notes WHERE text LIKE 'note on %'",
        )[0][0]
        assert new_notes == len(changed)


# -- 4. a 200 HTML page that persists -----------------------------------------------------
def test_persistent_html_page_is_an_error_not_an_empty_table(tmp_path) -> None:
    with Sandbox(scale=400, seed=5) as sb:
        sb.faults.inject("html", 20, path_contains="service/tickets")
        pipeline = duckdb_pipeline(tmp_path, "html")
        _, error = _failing_sync(
            pipeline, tables=["service_tickets"], **source_args(sb, max_attempts=3)
        )
        assert "not JSON" in str(error)
        assert "/service/tickets" in str(error)
        assert [r.fault for r in _api_log(sb, "service/tickets")] == ["html"] * 3
        assert "service_tickets" not in _tables_in(pipeline)
        _assert_no_secrets(str(error), _secrets(sb))


# -- 5. the caller's errors: not retried, one line, no secrets -----------------------------
WRONG_PRIVATE_KEY = "Wr0ngPrivateKeyDoNotPrint"


@pytest.mark.parametrize("case", ["401", "403", "404"])
def test_client_errors_are_not_retried_and_read_as_one_line(
    case: str, clean: Sandbox, tmp_path
) -> None:
    sb = clean
    info = sb.info
    table, path = "finance_agreements", "finance/agreements"
    if case == "401":
        extra = {"private_key": WRONG_PRIVATE_KEY}
    elif case == "403":
        extra = {
            "public_key": info["limited_member"]["public_key"],
            "private_key": info["limited_member"]["private_key"],
        }
    else:
        extra = {"base_url": info["base_url"] + "/nope"}
        path = "nope/finance/agreements"
    pipeline = duckdb_pipeline(tmp_path, f"status_{case}")
    outer, error = _failing_sync(pipeline, tables=[table], **source_args(sb, **extra))

    assert isinstance(error, ApiRequestError) and error.status == int(case)
    message = str(error)
    if case == "401":
        assert "authentication failed" in message
        assert "public_key" in message and "private_key" in message
    elif case == "403":
        assert "/finance/agreements" in message and "security role" in message
    else:
        assert "404" in message and "not found" in message and "base_url" in message
    # exactly one request: not retried
    assert len(_api_log(sb, path)) == 1
    assert len(_api_log(sb, sync_only=False)) == 1
    secrets = _secrets(sb, WRONG_PRIVATE_KEY)
    _assert_no_secrets(message, secrets)
    _assert_no_secrets(str(outer), secrets)
    assert table not in _tables_in(pipeline)


def test_bad_request_is_not_retried_and_reads_as_one_line(clean: Sandbox) -> None:
    sb = clean
    client = _client(sb)
    with pytest.raises(ApiRequestError) as raised:
        client.get_page("service/tickets", {"conditions": "summary = = 'x'"})
    message = str(raised.value)
    assert raised.value.status == 400
    assert "\n" not in message and "/service/tickets" in message and "conditions" in message
    assert len(_api_log(sb, "service/tickets")) == 1
    assert client.stats.retries == 0
    _assert_no_secrets(message, _secrets(sb))


# -- 6. retries are logged, without secrets -----------------------------------------------
def test_retries_are_logged_with_method_path_reason_and_no_secrets(
    tmp_path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the CLI stops "cwsync" records from propagating; make sure caplog sees them here
    monkeypatch.setattr(logging.getLogger("cwsync"), "propagate", True)
    monkeypatch.setattr(logging.getLogger("cwsync.connectwise"), "propagate", True)
    caplog.set_level(logging.DEBUG, logger="cwsync")
    kinds = [k for k in KINDS if k != "slow"]
    tables = ["service_tickets", "service_tickets_notes"]
    with Sandbox(scale=400, seed=5, fault_rate=0.2, fault_kinds=kinds, retry_after=0) as sb:
        # every kind at least once, each on the notes of another ticket
        for kind, tid in zip(kinds, sb.ids("service/tickets")[::7], strict=False):
            sb.faults.inject(kind, 1, path_contains=f"service/tickets/{tid}/notes")
        pipeline = duckdb_pipeline(tmp_path, "logged")
        summary: RunSummary = run_sync(pipeline, tables=tables, **source_args(sb, page_size=50))
        for table in tables:
            _assert_table_matches_sandbox(sb, pipeline, table)

        records = [r for r in caplog.records if r.name.startswith("cwsync")]
        retries = [r for r in records if r.getMessage().startswith("retrying")]
        # (a run may retry more after the load: count checks, delete sweeps)
        assert len(retries) >= summary.retries > 0
        # the faults the sandbox served, per path, in order
        served: dict[str, list[str]] = {}
        for entry in _api_log(sb, sync_only=False):
            if entry.fault:
                served.setdefault(entry.path[len(API_PREFIX) :], []).append(entry.fault)
        logged: dict[str, list[str]] = {}
        for record in retries:
            assert record.levelno == logging.WARNING
            line = record.getMessage()
            match = RETRY_LINE.match(line)
            assert match, f"a retry line without method, path or reason: {line!r}"
            assert match["reason"].strip()
            logged.setdefault(match["path"], []).append(match["reason"])
        assert logged.keys() == served.keys()
        for path, reasons in logged.items():
            assert len(reasons) == len(served[path]), path
            for kind, reason in zip(served[path], reasons, strict=True):
                assert re.search(REASON_OF_KIND[kind], reason), (path, kind, reason)
        assert {f for faults in served.values() for f in faults} == set(kinds)

        secrets = _secrets(sb)
        for record in records:
            _assert_no_secrets(record.getMessage(), secrets)
        _assert_no_secrets(caplog.text, secrets)

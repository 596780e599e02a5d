"""Connecting: site discovery, https, headers, configuration errors, the paginators."""

from __future__ import annotations

import pytest

from cwsync.sandbox import Sandbox
from sources.connectwise.client import (
    ConnectWiseClient,
    api_base_from_codebase,
    basic_auth,
    require_https,
)
from sources.connectwise.conditions import all_of, quote, to_utc_iso, updated_since
from sources.connectwise.errors import ConfigurationError
from sources.connectwise.paginator import forward_only_pages, navigable_pages
from sources.connectwise.retry import RetryPolicy, parse_retry_after
from sources.connectwise.watermark import Watermark

from .conftest import source_args


def _creds(sb: Sandbox) -> dict:
    args = source_args(sb)
    return {k: args[k] for k in ("company_id", "public_key", "private_key", "client_id")}


@pytest.mark.parametrize("cloud", [False, True])
def test_site_discovery_through_companyinfo(cloud: bool) -> None:
    with Sandbox(scale=300, seed=3, cloud=cloud) as sb:
        client = ConnectWiseClient(site=sb.info["site"], **_creds(sb))
        codebase = "v2025_8/" if cloud else "v4_6_release/"
        assert client.base_url == f"http://{sb.info['site']}/{codebase}apis/3.0"
        assert client.cloud is cloud
        page = client.get_page("service/boards", {"pageSize": 5}, forward_only=True)
        assert len(page.records) == 5
        first = sb.requests[0]
        assert first.path == f"/login/companyinfo/{sb.info['company_id']}"


def test_discovery_of_an_unknown_company_is_one_line() -> None:
    with Sandbox(scale=300, seed=3) as sb:
        creds = {**_creds(sb), "company_id": "nosuchco"}
        with pytest.raises(ConfigurationError) as err:
            ConnectWiseClient(site=sb.info["site"], **creds)
        assert "nosuchco" in str(err.value) and "\n" not in str(err.value)


def test_cloud_codebase_uses_the_api_host() -> None:
    assert (
        api_base_from_codebase("na.myconnectwise.net", "v2025_8/")
        == "https://api-na.myconnectwise.net/v2025_8/apis/3.0"
    )
    assert (
        api_base_from_codebase("https://api-eu.myconnectwise.net/", "v2025_8/")
        == "https://api-eu.myconnectwise.net/v2025_8/apis/3.0"
    )
    assert (
        api_base_from_codebase("cw.example.com", "v4_6_release/")
        == "https://cw.example.com/v4_6_release/apis/3.0"
    )


def test_https_is_required_except_for_loopback() -> None:
    require_https("https://cw.example.com/v4_6_release/apis/3.0")
    require_https("http://127.0.0.1:8080/v4_6_release/apis/3.0")
    require_https("http://localhost:8080/v4_6_release/apis/3.0")
    with pytest.raises(ConfigurationError, match="https"):
        require_https("http://cw.example.com/v4_6_release/apis/3.0")
    with pytest.raises(ConfigurationError):
        ConnectWiseClient(
            company_id="a",
            public_key="b",
            private_key="c",
            client_id="d",
            base_url="http://cw.example.com/v4_6_release/apis/3.0",
        )


def test_missing_configuration_names_the_keys_not_the_values() -> None:
    with pytest.raises(ConfigurationError) as err:
        ConnectWiseClient(
            company_id="co",
            public_key="",
            private_key="topsecret",
            client_id="",
            base_url="http://127.0.0.1:1/x",
        )
    message = str(err.value)
    assert "public_key" in message and "client_id" in message and "topsecret" not in message
    with pytest.raises(ConfigurationError, match="site"):
        ConnectWiseClient(company_id="a", public_key="b", private_key="c", client_id="d")


def test_headers_follow_the_guide() -> None:
    client = ConnectWiseClient(
        company_id="co",
        public_key="pub",
        private_key="priv",
        client_id="cid",
        base_url="http://127.0.0.1:1/v4_6_release/apis/3.0",
        api_version="2024.1",
    )
    headers = client.headers()
    assert headers["Authorization"] == basic_auth("co", "pub", "priv")
    assert headers["Authorization"] == "Basic Y28rcHViOnByaXY="  # base64("co+pub:priv")
    assert headers["clientId"] == "cid"
    assert headers["Accept"] == "application/vnd.connectwise.com+json; version=2024.1"
    assert client.headers("2025.8")["Accept"].endswith("version=2025.8")


def test_conditions_are_written_in_the_grammar() -> None:
    assert updated_since("2024-01-01") == "lastUpdated >= [2024-01-01T00:00:00Z]"
    assert to_utc_iso("2024-01-01T02:00:00+02:00") == "2024-01-01T00:00:00Z"
    assert quote('a "b" \\ c') == '"a \\"b\\" \\\\ c"'
    assert quote(True) == "True" and quote(None) == "null" and quote(5) == "5"
    assert all_of("a = 1", None, "b = 2") == "(a = 1) and (b = 2)"
    assert all_of(None) is None
    with pytest.raises(ConfigurationError, match="invalid date"):
        to_utc_iso("yesterday-ish")


def test_retry_policy_backs_off_with_jitter_and_honours_retry_after() -> None:
    import random

    policy = RetryPolicy(base_delay=1.0, max_delay=8.0, rng=random.Random(1))
    for attempt in range(1, 8):
        ceiling = min(8.0, 2 ** (attempt - 1))
        assert ceiling / 2 <= policy.delay(attempt) <= ceiling
    assert policy.delay(1, retry_after=5) >= 5
    assert policy.delay(1, retry_after=10_000) <= policy.max_retry_after
    assert parse_retry_after("3") == 3.0 and parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert {429, 500, 502, 503, 504} == {
        s for s in range(100, 600) if policy.should_retry_status(s)
    }


def test_watermark_rule() -> None:
    mark = Watermark(previous="2026-01-01T00:00:00Z", lag_seconds=0)
    mark.saw_response("Mon, 01 Jun 2026 12:00:00 GMT")
    mark.saw("2026-06-01T11:00:00Z")
    mark.saw("2026-06-01T12:00:07Z")  # updated during the sweep
    assert mark.next_cursor() == "2026-06-01T12:00:00Z"  # the sweep start, not the newest
    quiet = Watermark(previous="2026-01-01T00:00:00Z", lag_seconds=30)
    quiet.saw_response("Mon, 01 Jun 2026 12:00:00 GMT")
    quiet.saw("2026-05-01T10:00:00Z")
    assert quiet.next_cursor() == "2026-05-01T10:00:00Z"  # the newest, inclusive next time
    empty = Watermark(previous="2026-01-01T00:00:00Z", lag_seconds=30)
    empty.saw_response("Mon, 01 Jun 2026 12:00:00 GMT")
    assert empty.next_cursor() == "2026-06-01T11:59:30Z"
    never = Watermark(previous="2026-01-01T00:00:00Z")
    assert never.next_cursor() == "2026-01-01T00:00:00Z"


def test_boundary_forgets_a_bulk_change_without_digesting_all_of_it(monkeypatch) -> None:
    """Records in the lag window are remembered (id -> digest) up to MAX_ENTRIES; past
    that nothing is kept, so the digests of the rest are not computed at all."""
    from sources.connectwise import watermark

    digested: list[int] = []
    real = watermark.content_digest
    monkeypatch.setattr(
        watermark, "content_digest", lambda r, base=None: digested.append(r["id"]) or real(r, base)
    )
    monkeypatch.setattr(watermark.Boundary, "MAX_ENTRIES", 5)
    window, cursor = "2026-06-01T11:59:00Z", "2026-06-01T11:58:00Z"

    def boundary(records: int) -> watermark.Boundary:
        b = watermark.Boundary()
        b.start_window(window)
        for i in range(1, records + 1):
            # older and older: only the first is at the newest second, all in the window
            b.already_loaded(i, f"2026-06-01T11:59:{59 - i:02d}Z", {"id": i, "x": i})
        return b

    assert len(boundary(5).remembered(cursor)) == 5 and len(digested) == 5
    digested.clear()
    assert boundary(20).remembered(cursor) is None
    assert len(digested) == 6  # the sixth went over the limit; the other 14 never digested


def test_paginators_keep_every_parameter_and_stop(sandbox: Sandbox) -> None:
    client = ConnectWiseClient(base_url=sandbox.info["base_url"], **_creds(sandbox))
    conditions = "closedFlag = False"
    expected = sandbox.count("service/tickets")  # cheap upper bound for the filter below
    mark = len(sandbox.requests)
    fwd = [
        r
        for page in forward_only_pages(
            client,
            "service/tickets",
            {"conditions": conditions, "fields": "id,closedFlag"},
            page_size=100,
        )
        for r in page.records
    ]
    requests = sandbox.requests[mark:]
    assert all(r.query.get("conditions") == conditions for r in requests)
    assert all(r.query.get("fields") == "id,closedFlag" for r in requests)
    assert [r.query.get("pageid") for r in requests][1:] == [
        str(fwd[i * 100 - 1]["id"]) for i in range(1, len(requests))
    ]
    assert all(not r["closedFlag"] for r in fwd) and 0 < len(fwd) <= expected
    assert [r["id"] for r in fwd] == sorted({r["id"] for r in fwd})
    mark = len(sandbox.requests)
    nav = [
        r
        for page in navigable_pages(
            client, "service/tickets", {"conditions": conditions}, page_size=100
        )
        for r in page.records
    ]
    requests = sandbox.requests[mark:]
    assert [r.query.get("page") for r in requests] == [str(i) for i in range(1, len(requests) + 1)]
    assert all(r.query.get("conditions") == conditions for r in requests)
    assert [r["id"] for r in nav] == [r["id"] for r in fwd]


def test_a_page_decodes_its_body_on_first_use_and_refetches_a_bad_one() -> None:
    from sources.connectwise.client import Page
    from sources.connectwise.errors import ApiRequestError

    counted: list[int] = []
    page = Page(body=b'[{"id": 1}, {"id": 2}]', what="service/tickets", on_decode=counted.append)
    assert counted == []  # nothing decoded (or counted) until a reader needs the records
    assert [r["id"] for r in page.records] == [1, 2] and counted == [2]
    assert page.records is page.records and counted == [2]  # decoded and counted once
    # looked like a list when it arrived, is not JSON: fetched again once
    fetched: list[int] = []

    def refetch() -> bytes:
        fetched.append(1)
        return b'[{"id": 3}]'

    bad = Page(body=b'[{"id": 1}, oops]', what="service/tickets", refetch=refetch)
    assert [r["id"] for r in bad.records] == [3] and fetched == [1]
    # and never a silently short page: still bad after the refetch -> a clear error
    worse = Page(body=b"[oops]", what="service/tickets", refetch=lambda: b"[still oops]")
    with pytest.raises(ApiRequestError, match="not JSON"):
        _ = worse.records
    with pytest.raises(ApiRequestError, match="expected a JSON list"):
        _ = Page(body=b'{"id": 1}', what="service/tickets").records


def test_a_netrc_entry_for_the_host_does_not_replace_the_credentials(
    sandbox, tmp_path, monkeypatch
) -> None:
    """requests would take credentials from ~/.netrc for a request without an auth object,
    over the Authorization header; the client's own header wins."""
    from .conftest import sandbox_client

    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password wrong\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    api = sandbox_client(sandbox)
    page = api.get_page("service/boards", {"pageSize": 5})
    assert len(page.records) == 5


def test_a_navigable_walk_gives_a_record_once_when_offsets_shift(fresh_sandbox) -> None:
    """Offsets move under a navigable walk: a record of page 1 renamed to sort last turns
    up again on the last page; the walk gives it once (a load holds each record once)."""
    sb = fresh_sandbox
    client = ConnectWiseClient(base_url=sb.info["base_url"], **_creds(sb))
    walk = navigable_pages(client, "company/companies", {"orderBy": "name asc"}, page_size=20)
    first = next(walk).records
    moved = first[0]["id"]
    sb.update("company/companies", moved, {"name": "Zzzz moved to the end"})
    rest = [r for page in walk for r in page.records]
    ids = [r["id"] for r in first + rest]
    assert len(ids) == len(set(ids))
    assert moved in ids and moved not in [r["id"] for r in rest]
    mark = len(sb.requests)
    again = [
        r["id"]
        for p in navigable_pages(client, "company/companies", page_size=20)
        for r in p.records
    ]
    assert len(sb.requests) > mark and again == sorted(again) and moved in again


def test_bodies_are_read_whole_gzipped_chunked_or_plain_on_one_connection() -> None:
    """The client streams a response and reads its body in one read: a gzip-encoded body
    (IIS compresses when asked, and requests asks) is decoded, a chunked one joined, and
    the kept-alive connection serves the next request."""
    import gzip
    import http.server
    import threading

    import orjson

    from sources.connectwise.client import ConnectWiseClient

    records = [{"id": i, "summary": "x" * 200} for i in range(1, 301)]
    body = orjson.dumps(records)
    peers: list[int] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
            pass

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            peers.append(self.client_address[1])
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            if "gzip" in self.path:
                data = gzip.compress(body)
                self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            elif "chunked" in self.path:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for at in range(0, len(body), 7000):
                    piece = body[at : at + 7000]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = ConnectWiseClient(
            company_id="c",
            public_key="pub",
            private_key="priv",
            client_id="cid",
            base_url=f"http://127.0.0.1:{server.server_address[1]}/v4_6_release/apis/3.0",
        )
        for path in ("service/gzip", "service/chunked", "service/plain", "service/gzip"):
            page = api.get_page(path, {"pageSize": 1000})
            assert page.body == body, path
            assert page.records == records
    finally:
        server.shutdown()
        server.server_close()
    assert len(set(peers)) == 1, peers  # every request on the one kept-alive connection

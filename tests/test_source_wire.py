"""The wire format of the source's requests, pinned by a vcrpy cassette.

``tests/cassettes/sync_tickets.yaml`` holds every request (and the sandbox's response) of
one sync of ``service_tickets`` + ``service_tickets_notes`` with ``start_date=2025-01-01``
and ``page_size=40``, recorded against a deterministic sandbox (``Sandbox(scale=400,
seed=5)``, clock frozen at 2026-06-01T12:00:00Z).

Normal runs replay the cassette with ``record_mode="none"``: no sandbox is started, no
request leaves the process, and any request the source sends that is not in the cassette
(another path, query, query encoding, ``Accept`` or ``pagination-type`` header) fails
the sync. Requests are matched on method + path + query (host and port differ on every
recording) plus two custom matchers: ``wire_headers`` (``Accept`` and
``pagination-type``) and ``raw_query`` (the query string byte for byte, so a change of
encoding or parameter order is caught too). The other tests read the YAML and spell the
wire format out: headers, ``pageSize``, the ``conditions`` encoding, ``pageId`` on later
pages, per-parent paths, and that no credential was written to the file.

To re-record after an intended change of the wire format (review the diff!)::

    CWSYNC_RECORD_CASSETTES=1 pytest tests/test_source_wire.py

which starts the sandbox, records with ``record_mode="all"`` (overwriting the file) and
runs the same assertions on the new cassette. ``Authorization`` and ``clientId`` are
replaced with ``<redacted>`` before anything is written.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import vcr
import yaml

from cwsync.sandbox import Sandbox
from pipelines.sync import file_format_for
from sources.connectwise import connectwise_source
from sources.connectwise.client import RequestStats

from .conftest import duckdb_pipeline, duckdb_rows, source_args

CASSETTES = Path(__file__).parent / "cassettes"
SYNC_CASSETTE = CASSETTES / "sync_tickets.yaml"
RECORD = os.environ.get("CWSYNC_RECORD_CASSETTES") == "1"

SCALE, SEED = 400, 5
FROZEN_AT = "2026-06-01T12:00:00Z"
FROZEN_DATE_HEADER = "Mon, 01 Jun 2026 12:00:00 GMT"
START_DATE = "2025-01-01"
PAGE_SIZE = 40
TABLES = ["service_tickets", "service_tickets_notes"]
# what the sync reads of this tenant: the 50 of its 100 tickets updated since START_DATE
# (two pages: 40 + 10) and their 96 notes (of 200)
EXPECTED_TICKETS = 50
EXPECTED_NOTES = 96

API_PATH = "/v4_6_release/apis/3.0"
TICKETS_PATH = f"{API_PATH}/service/tickets"
ACCEPT = "application/vnd.connectwise.com+json; version=2025.8"
PLACEHOLDER = "<redacted>"
CONDITIONS = "lastUpdated >= [2025-01-01T00:00:00Z]"
CONDITIONS_ENCODED = "conditions=lastUpdated+%3E%3D+%5B2025-01-01T00%3A00%3A00Z%5D"


# -- vcr configuration ------------------------------------------------------------------
def _header(request: Any, name: str) -> str | None:
    return request.headers.get(name)  # vcr's HeadersDict is case-insensitive


def wire_headers(r1: Any, r2: Any) -> None:
    """Same ``Accept`` (model version) and ``pagination-type`` headers."""
    for name in ("Accept", "pagination-type"):
        a, b = _header(r1, name), _header(r2, name)
        assert a == b, f"{name}: {a!r} != {b!r}"


def raw_query(r1: Any, r2: Any) -> None:
    """The query string exactly as sent (encoding and parameter order)."""
    a, b = urlsplit(r1.uri).query, urlsplit(r2.uri).query
    assert a == b, f"query {a!r} != {b!r}"


def make_vcr(record: bool = RECORD) -> vcr.VCR:
    my_vcr = vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="all" if record else "none",
        filter_headers=[("Authorization", PLACEHOLDER), ("clientId", PLACEHOLDER)],
        match_on=["method", "path", "query", "wire_headers", "raw_query"],
        decode_compressed_response=True,
    )
    my_vcr.register_matcher("wire_headers", wire_headers)
    my_vcr.register_matcher("raw_query", raw_query)
    return my_vcr


def sandbox_credentials() -> dict[str, str]:
    """The credentials of ``Sandbox(seed=SEED)``: derived from the seed, so known without
    starting it (used in playback, and to check that none reached the cassette)."""
    info = Sandbox(scale=SCALE, seed=SEED).info
    return {k: info[k] for k in ("company_id", "public_key", "private_key", "client_id")}


def basic_token(creds: dict[str, str]) -> str:
    raw = f"{creds['company_id']}+{creds['public_key']}:{creds['private_key']}"
    return base64.b64encode(raw.encode()).decode()


# -- reading the cassette ---------------------------------------------------------------
_LOADED: dict[tuple[int, int], list[dict]] = {}


def load_interactions() -> list[dict]:
    """The cassette's interactions (parsed once per version of the file)."""
    stat = SYNC_CASSETTE.stat()
    key = (stat.st_mtime_ns, stat.st_size)
    if key not in _LOADED:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        with SYNC_CASSETTE.open(encoding="utf-8") as fh:
            _LOADED[key] = yaml.load(fh, Loader=loader)["interactions"]
    return _LOADED[key]


def request_headers(interaction: dict) -> dict[str, list[str]]:
    """Request headers of one interaction, names lower-cased, values as lists."""
    out: dict[str, list[str]] = {}
    for name, value in interaction["request"]["headers"].items():
        out[name.lower()] = value if isinstance(value, list) else [value]
    return out


def records_of(interaction: dict) -> list[dict]:
    body = interaction["response"]["body"]["string"]
    records = json.loads(body)
    assert isinstance(records, list), body[:200]
    return records


def split(interaction: dict) -> tuple[str, str]:
    """(path, raw query) of the interaction's request."""
    parts = urlsplit(interaction["request"]["uri"])
    return parts.path, parts.query


def recorded_base_url() -> str:
    """The API base the cassette was recorded at (any host works: host/port are not
    matched, and in playback no connection is opened)."""
    parts = urlsplit(load_interactions()[0]["request"]["uri"])
    return f"{parts.scheme}://{parts.netloc}{API_PATH}"


# -- the sync -----------------------------------------------------------------------------
@dataclass
class Synced:
    stats: RequestStats  # requests, retries and records of the source
    rows: dict[str, int]  # rows loaded per table
    pipeline: Any


def sync(pipeline: Any, **source_kwargs: Any) -> Synced:
    """Load the source into ``pipeline``. The source and ``pipeline.run`` only (not
    ``pipelines.sync.run_sync``): the cassette pins the source's requests, not the
    checks a run may add after the load."""
    stats = RequestStats()
    source = connectwise_source(
        tables=TABLES,
        start_date=START_DATE,
        page_size=PAGE_SIZE,
        child_workers=1,  # one request at a time: the cassette's order is reproducible
        stats=stats,
        **source_kwargs,
    )
    pipeline.run(source, loader_file_format=file_format_for(pipeline))
    rows = dict(pipeline.last_trace.last_normalize_info.row_counts)
    return Synced(stats, rows, pipeline)


@pytest.fixture(scope="module")
def synced(tmp_path_factory) -> Iterator[Synced]:
    """One sync inside the cassette: recorded from the sandbox when
    ``CWSYNC_RECORD_CASSETTES=1``, replayed otherwise."""
    import dlt.common.runtime.anon_tracker as anon_tracker

    pipeline = duckdb_pipeline(tmp_path_factory.mktemp("wire"), "wire")
    with pytest.MonkeyPatch.context() as mp:
        # dlt's anonymous telemetry posts with requests from a thread: keep it out of
        # the cassette (and off the network)
        mp.setattr(anon_tracker, "before_send", lambda event: None)
        if RECORD:
            CASSETTES.mkdir(exist_ok=True)
            with Sandbox(scale=SCALE, seed=SEED) as sb:
                sb.clock.freeze(FROZEN_AT)
                creds = {k: sb.info[k] for k in sandbox_credentials()}
                assert creds == sandbox_credentials(), "sandbox keys are no longer seeded"
                with make_vcr().use_cassette(SYNC_CASSETTE.name):
                    result = sync(pipeline, **source_args(sb))
        else:
            assert SYNC_CASSETTE.exists(), (
                f"{SYNC_CASSETTE} is missing: record it with CWSYNC_RECORD_CASSETTES=1"
            )
            playback = {
                **sandbox_credentials(),
                "base_url": recorded_base_url(),
                "backoff_seconds": 0.01,
                "max_attempts": 1,  # an unmatched request must fail at once, not retry
            }
            with make_vcr().use_cassette(SYNC_CASSETTE.name) as cassette:
                result = sync(pipeline, **playback)
            assert cassette.all_played, (
                f"only {cassette.play_count} of {len(cassette)} recorded requests were sent"
            )
    yield result


def test_sync_replays_cassette_and_loads_rows(synced) -> None:
    pipeline = synced.pipeline
    assert synced.stats.retries == 0
    assert synced.stats.requests == len(load_interactions())
    assert synced.stats.records == EXPECTED_TICKETS + EXPECTED_NOTES
    assert synced.rows["service_tickets"] == EXPECTED_TICKETS
    assert synced.rows["service_tickets_notes"] == EXPECTED_NOTES
    counts = duckdb_rows(
        pipeline,
        "SELECT (SELECT count(*) FROM connectwise.service_tickets),"
        " (SELECT count(*) FROM connectwise.service_tickets_notes),"
        " (SELECT count(DISTINCT parent_id) FROM connectwise.service_tickets_notes),"
        " (SELECT count(*) FROM connectwise.service_tickets_notes n"
        "   WHERE n.parent_id NOT IN (SELECT id FROM connectwise.service_tickets))",
    )[0]
    assert counts[0] == EXPECTED_TICKETS
    assert counts[1] == EXPECTED_NOTES
    assert counts[3] == 0  # every note belongs to a loaded ticket
    # next cursor = min(newest lastUpdated read, frozen Date header - 60 s lag): the data
    # ends before the frozen clock, so the newest record wins
    newest = max(r["_info"]["lastUpdated"] for p in ticket_interactions() for r in records_of(p))
    assert newest < "2026-06-01T11:59:00Z"
    state = pipeline.state["sources"]["connectwise"]["resources"]["service_tickets"]
    assert state["incremental"]["_info.lastUpdated"]["last_value"] == newest


# -- the wire format, read from the cassette --------------------------------------------
def ticket_interactions() -> list[dict]:
    return [i for i in load_interactions() if split(i)[0] == TICKETS_PATH]


def test_every_request_is_a_forward_only_get_with_pinned_headers(synced) -> None:
    interactions = load_interactions()
    assert interactions
    for i in interactions:
        path, query = split(i)
        headers = request_headers(i)
        assert i["request"]["method"] == "GET"
        assert path.startswith(f"{API_PATH}/service/tickets"), path
        assert headers["pagination-type"] == ["forward-only"], path
        assert headers["accept"] == [ACCEPT], path
        assert headers["authorization"] == [PLACEHOLDER]
        assert headers["clientid"] == [PLACEHOLDER]
        params = parse_qsl(query, keep_blank_values=True)
        assert [v for k, v in params if k == "pageSize"] == [str(PAGE_SIZE)], query
        assert "page" not in dict(params) and "orderBy" not in dict(params), query
        assert i["response"]["status"]["code"] == 200
        assert i["response"]["headers"]["Date"] == [FROZEN_DATE_HEADER]


def test_ticket_pages_repeat_conditions_and_advance_page_id(synced) -> None:
    pages = ticket_interactions()
    # 50 tickets in pages of 40: a full page, then a short one that ends the walk
    assert [len(records_of(p)) for p in pages] == [40, 10]
    first = split(pages[0])[1]
    assert first == f"{CONDITIONS_ENCODED}&pageSize={PAGE_SIZE}"
    assert dict(parse_qsl(first)) == {"conditions": CONDITIONS, "pageSize": str(PAGE_SIZE)}
    for previous, page in zip(pages, pages[1:], strict=False):
        last_id = records_of(previous)[-1]["id"]
        assert split(page)[1] == f"{CONDITIONS_ENCODED}&pageSize={PAGE_SIZE}&pageId={last_id}"
    ids = [r["id"] for p in pages for r in records_of(p)]
    assert ids == sorted(ids) and len(set(ids)) == EXPECTED_TICKETS
    assert all(
        r["_info"]["lastUpdated"] >= "2025-01-01T00:00:00Z" for p in pages for r in records_of(p)
    )


def test_notes_are_fetched_per_changed_ticket(synced) -> None:
    ticket_ids = [r["id"] for p in ticket_interactions() for r in records_of(p)]
    by_parent: dict[int, list[dict]] = {}
    for i in load_interactions():
        path, _ = split(i)
        if path == TICKETS_PATH:
            continue
        prefix, _, rest = path.partition(f"{TICKETS_PATH}/")
        assert prefix == "" and rest.endswith("/notes"), path
        parent = rest.removesuffix("/notes")
        assert parent.isdigit(), path
        by_parent.setdefault(int(parent), []).append(i)
    assert sorted(by_parent) == sorted(ticket_ids)  # one walk per ticket read, no other
    notes = 0
    for parent, walk in by_parent.items():
        # no conditions on per-parent collections; pageId only from the second page on
        assert split(walk[0])[1] == f"pageSize={PAGE_SIZE}", parent
        for previous, page in zip(walk, walk[1:], strict=False):
            last_id = records_of(previous)[-1]["id"]
            assert split(page)[1] == f"pageSize={PAGE_SIZE}&pageId={last_id}"
        assert len(records_of(walk[-1])) < PAGE_SIZE
        notes += sum(len(records_of(p)) for p in walk)
    assert notes == EXPECTED_NOTES


def test_no_credentials_in_cassette(synced) -> None:
    text = SYNC_CASSETTE.read_text(encoding="utf-8")
    creds = sandbox_credentials()
    secrets = {
        "public key": creds["public_key"],
        "private key": creds["private_key"],
        "client id": creds["client_id"],
        "Basic token": basic_token(creds),
        "Basic user:password": base64.b64decode(basic_token(creds)).decode(),
    }
    for what, value in secrets.items():
        assert value not in text, f"the {what} of the recording sandbox is in the cassette"
    assert "Basic " not in text
    for i in load_interactions():
        headers = request_headers(i)
        assert headers["authorization"] == [PLACEHOLDER]
        assert headers["clientid"] == [PLACEHOLDER]
        response_headers = {k.lower() for k in i["response"]["headers"]}
        assert not response_headers & {"set-cookie", "authorization", "www-authenticate"}

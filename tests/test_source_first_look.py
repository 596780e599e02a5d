"""The first look (sources/connectwise/first_look.py) against the sandbox, into DuckDB.

An incremental run reads every table's first page as the extract starts: tables whose
page holds nothing new end there with their state untouched, the others' first pages are
handed to their walks (never read twice), and nothing is missed: a
record new at the cursor, per-parent tables under a changed parent (a remembered record
edited again in the same second: tests/test_source_sync.py).
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from cwsync.sandbox import Sandbox
from pipelines.sync import run_sync
from sources.connectwise import connectwise_source
from sources.connectwise.client import Page
from sources.connectwise.errors import ApiRequestError
from sources.connectwise.first_look import FirstLook, _last_id, walk_params
from sources.connectwise.settings import BY_TABLE, ENDPOINTS

from .conftest import duckdb_pipeline, duckdb_rows, sandbox_client, source_args

TOP = [e.table for e in ENDPOINTS if not e.is_child]
INCREMENTAL = [e.table for e in ENDPOINTS if not e.is_child and e.incremental]
SOME = ["service_tickets", "service_tickets_notes", "company_companies", "time_entries"]


def _first_requests(sb: Sandbox, since: int) -> Counter:
    """First pages asked for per collection (forward-only requests without a pageId)."""
    return Counter(
        r.path.split("/apis/3.0/", 1)[-1]
        for r in sb.requests[since:]
        if r.method == "GET" and r.pagination == "forward-only" and "pageid" not in r.query
        and "orderby" not in r.query
    )  # fmt: skip


def _edit_ticket_later(sb: Sandbox, index: int, summary: str, note: bool = False) -> int:
    """Two minutes after the last sync, edit a ticket (and give it a note); two minutes
    later the next sync starts (past the cursor's lag). Returns the ticket's id."""
    ticket = sb.ids("service/tickets")[index]
    sb.clock.advance(120)
    sb.update("service/tickets", ticket, {"summary": summary})
    if note:
        sb.create("service/tickets/{parentId}/notes", {"text": "a note"}, parent_id=ticket)
    sb.clock.advance(120)
    return ticket


def _cursors(pipeline) -> dict[str, object]:
    resources = pipeline.state["sources"]["connectwise"]["resources"]
    return {t: (r.get("incremental"), r.get("boundary")) for t, r in resources.items()}


def test_an_idle_run_extracts_no_table_and_keeps_their_state(tmp_path) -> None:
    with Sandbox(scale=400, seed=5) as sb:
        pipeline = duckdb_pipeline(tmp_path)
        run_sync(pipeline, tables=TOP, **source_args(sb))
        before = _cursors(pipeline)
        look = FirstLook()
        mark = len(sb.requests)
        idle = run_sync(pipeline, tables=TOP, first_look=look, **source_args(sb))
        assert idle.changed == {}
        # every incremental table: nothing new at its cursor (replaced tables are read whole)
        assert look.unchanged == sorted(INCREMENTAL) and len(INCREMENTAL) < len(TOP)
        assert idle.sync_requests == len(TOP)  # one first page each, read once
        assert set(_first_requests(sb, mark).values()) == {1}
        assert _cursors(pipeline) == before


def test_changed_tables_are_extracted_from_the_page_read_ahead(tmp_path) -> None:
    with Sandbox(scale=400, seed=5) as sb:
        pipeline = duckdb_pipeline(tmp_path)
        run_sync(pipeline, tables=SOME, **source_args(sb))
        ticket = _edit_ticket_later(sb, 5, "edited after the first sync", note=True)
        look = FirstLook()
        mark = len(sb.requests)
        second = run_sync(pipeline, tables=SOME, first_look=look, **source_args(sb))
        assert look.unchanged == ["company_companies", "time_entries"]
        assert second.changed["service_tickets"] == 1
        assert second.changed["service_tickets_notes"] == len(
            sb.ids("service/tickets/{parentId}/notes", ticket)
        )
        firsts = _first_requests(sb, mark)
        assert firsts["service/tickets"] == 1  # the page read ahead is the walk's first page
        assert firsts["company/companies"] == 1 and firsts["time/entries"] == 1
        got = duckdb_rows(
            pipeline, f"SELECT summary FROM connectwise.service_tickets WHERE id = {ticket}"
        )
        assert got == [("edited after the first sync",)]
        # and the next run finds nothing new anywhere
        look = FirstLook()
        assert run_sync(pipeline, tables=SOME, first_look=look, **source_args(sb)).changed == {}
        assert look.unchanged == ["company_companies", "service_tickets", "time_entries"]


def test_pages_over_the_held_budget_are_read_again_by_their_walk(tmp_path) -> None:
    with Sandbox(scale=400, seed=5) as sb:
        pipeline = duckdb_pipeline(tmp_path)
        run_sync(pipeline, tables=SOME, **source_args(sb))
        _edit_ticket_later(sb, 2, "over the budget")
        mark = len(sb.requests)
        look = FirstLook(held_bytes=0)
        second = run_sync(pipeline, tables=SOME, first_look=look, **source_args(sb))
        assert second.changed["service_tickets"] == 1
        assert _first_requests(sb, mark)["service/tickets"] == 2  # the look's, the walk's


def test_a_full_refresh_and_a_first_sync_read_every_table(tmp_path) -> None:
    with Sandbox(scale=400, seed=5) as sb:
        pipeline = duckdb_pipeline(tmp_path)
        look = FirstLook()
        first = run_sync(pipeline, tables=SOME, first_look=look, **source_args(sb))
        assert look.unchanged == [] and first.changed["company_companies"] > 0
        refresh = run_sync(pipeline, tables=SOME, full_refresh=True, **source_args(sb))
        assert refresh.changed["company_companies"] == first.changed["company_companies"]


class _SlowBodyClient:
    """A client whose first pages announce themselves (headers) at once and deliver their
    body when ``release`` is set: what the first look does with a page still on its way."""

    def __init__(self, real, release: threading.Event) -> None:
        self._real, self.release = real, release
        self.budget, self.base_url, self.stats = real.budget, real.base_url, real.stats

    def get_page(self, path, params, *, on_headers=None, **kwargs) -> Page:
        page = self._real.get_page(path, params, **kwargs)
        if on_headers is not None:
            on_headers(page.headers)
        if path == "service/tickets":
            assert self.release.wait(10)
        return page


def test_a_page_known_changed_from_its_headers_does_not_hold_up_the_look(sandbox) -> None:
    """A first page whose ``next`` link names a record the previous run did not remember
    is a change: the look decides without its body, and the walk waits for the body."""
    release = threading.Event()
    client = _SlowBodyClient(sandbox_client(sandbox), release)
    look = FirstLook()
    tables = ["service_tickets", "company_companies"]
    source = connectwise_source(
        tables=tables, client=client, first_look=look, **source_args(sandbox)
    )
    cursor = {"incremental": {"_info.lastUpdated": {"last_value": "2000-01-01T00:00:00Z"}}}
    state = {"resources": {t: cursor for t in tables}}
    try:
        assert look.start(source, state) == 2  # returns at once, the looks on their way
        _, params = walk_params(BY_TABLE["service_tickets"], cursor, None, None, True)
        assert look.judged_unchanged("service_tickets", params) is False  # from the headers
        assert not release.is_set()
        got: list[Page] = []
        taker = threading.Thread(target=lambda: got.append(look.take("service_tickets", params)))
        taker.start()
        taker.join(0.2)
        assert taker.is_alive()  # the walk waits for the body still on its way
    finally:
        release.set()
    taker.join(10)
    assert got and got[0].summary()[0] == min(1000, sandbox.count("service/tickets"))
    assert look.take("service_tickets", params) is None  # taken once


def test_the_last_id_comes_from_the_next_link() -> None:
    assert (
        _last_id('<https://h/apis/3.0/service/tickets?pageSize=1000&pageId=41>; rel="next"') == 41
    )
    assert _last_id('<https://h/x?pageId=0&pageSize=1000>; rel="next"') is None  # empty page
    assert _last_id(None) is None and _last_id("<https://h/x?page=2>; rel=next") is None


def test_a_forward_only_page_that_does_not_start_past_the_last_is_an_error(sandbox) -> None:
    """Staged rows are merged without a dedup pass (each record comes once per load);
    the paginator makes sure a page never repeats the one before."""
    from sources.connectwise.paginator import forward_only_pages

    class _Repeating:
        def __init__(self, real) -> None:
            self.real = real

        def get_page(self, path, params, **kwargs) -> Page:
            params = {k: v for k, v in params.items() if k != "pageId"}  # pageId ignored
            return self.real.get_page(path, params, **kwargs)

    walk = forward_only_pages(_Repeating(sandbox_client(sandbox)), "time/entries", page_size=50)
    next(walk)
    with pytest.raises(ApiRequestError, match="started at id"):
        next(walk)


def test_root_tables_merge_without_a_dedup_pass_and_delete_by_in(tmp_path, monkeypatch) -> None:
    from pipelines.duckdb_merge import DuckDbMergeJob

    monkeypatch.setenv("LOAD__DELETE_COMPLETED_JOBS", "false")  # to read the merge's SQL
    with Sandbox(scale=400, seed=5) as sb:
        pipeline = duckdb_pipeline(tmp_path)
        run_sync(pipeline, tables=["service_tickets"], **source_args(sb))
        ticket = _edit_ticket_later(sb, 1, "merged")
        summary = run_sync(pipeline, tables=["service_tickets"], **source_args(sb))
        assert summary.changed["service_tickets"] == 1
        table = pipeline.default_schema.tables["service_tickets"]
        assert table.get("x-stage-data-deduplicated") is True
        jobs = pipeline.get_load_package_info(summary.load_info.loads_ids[0]).jobs
        merge = [
            j
            for j in jobs["completed_jobs"]
            if j.job_file_info.table_name == "service_tickets" and j.file_path.endswith(".sql")
        ]
        sql = open(merge[0].file_path).read()
        assert "ROW_NUMBER" not in sql
        assert 'WHERE d."id" IN (SELECT s."id" FROM "connectwise_staging"."service_tickets"' in sql
        rows = duckdb_rows(
            pipeline,
            f"SELECT count(*), max(summary) FROM connectwise.service_tickets WHERE id = {ticket}",
        )
        assert rows == [(1, "merged")]
    one = DuckDbMergeJob.gen_key_table_clauses("t", "s_t", ['"id"'], [], True)
    assert one == ['FROM t as d WHERE d."id" IN (SELECT s."id" FROM s_t as s)']
    two = DuckDbMergeJob.gen_key_table_clauses("t", "s_t", ['"a"', '"b"'], [], True)
    assert "EXISTS" in two[0] and 'd."a" = s."a" AND d."b" = s."b"' in two[0]
    filtered = DuckDbMergeJob.gen_key_table_clauses("t", "s_t", ['"id"'], [], True, "x > 1")
    assert "EXISTS" in filtered[0] and "x > 1" in filtered[0]


def test_a_page_the_look_cannot_judge_is_a_change_for_its_walk(tmp_path, monkeypatch) -> None:
    """Whatever goes wrong judging a first page (not reading it), the table is extracted
    from that page as if it had changed: never a failed run, never a page read twice."""

    def cannot(self, page, remembered, api_base):  # type: ignore[no-untyped-def]
        raise ValueError("cannot judge")

    with Sandbox(scale=400, seed=5) as sb:
        pipeline = duckdb_pipeline(tmp_path)
        run_sync(pipeline, tables=SOME, **source_args(sb))
        monkeypatch.setattr(FirstLook, "_unchanged", cannot)
        look = FirstLook()
        mark = len(sb.requests)
        again = run_sync(pipeline, tables=SOME, first_look=look, **source_args(sb))
        assert look.unchanged == [] and again.changed == {}
        assert set(_first_requests(sb, mark).values()) == {1}


def test_records_the_look_reads_count_once(tmp_path) -> None:
    """The records of the first pages read before the extract count as read, once: those
    of the tables left out as well as those handed to a walk."""
    with Sandbox(scale=400, seed=5) as sb:
        pipeline = duckdb_pipeline(tmp_path)
        run_sync(pipeline, tables=SOME, **source_args(sb))
        _edit_ticket_later(sb, 3, "counted once")
        mark = len(sb.requests)
        second = run_sync(pipeline, tables=SOME, **source_args(sb))
        sent = sum(r.records for r in sb.requests[mark:] if r.method == "GET")
        assert second.records == sent > 1

"""The dlt source against the sandbox over real HTTP, loading real DuckDB files.

Covers: every endpoint of the table loads and matches the sandbox's counts; incremental
runs cost about changes/1000 + one request per endpoint; records updated in the same
second as the cursor or during a sweep are not lost; normalisation (references,
``_info``, customFields types, decimals); ``tables`` selection; version pinning.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from cwsync.sandbox import Sandbox
from pipelines.sync import RunSummary, run_sync
from sources.connectwise import resolve_tables
from sources.connectwise.boundary_store import unpack_seen
from sources.connectwise.client import ConnectWiseClient, Page
from sources.connectwise.errors import ConfigurationError
from sources.connectwise.first_look import FirstLook
from sources.connectwise.retry import RetryPolicy
from sources.connectwise.settings import BY_TABLE, ENDPOINTS, table_name

from .conftest import duckdb_pipeline, duckdb_rows, source_args

TOP = [e for e in ENDPOINTS if not e.is_child]
CHILDREN = [e for e in ENDPOINTS if e.is_child]


def _sandbox_path(table: str) -> str:
    return BY_TABLE[table].path.replace("{id}", "{parentId}")


def _expected_count(sb: Sandbox, table: str) -> int:
    endpoint = BY_TABLE[table]
    if not endpoint.is_child:
        return sb.count(endpoint.path)
    parent = BY_TABLE[endpoint.parent_table]  # type: ignore[index]
    return sum(len(sb.ids(_sandbox_path(table), pid)) for pid in sb.ids(parent.path))


def _count(pipeline, table: str) -> int:
    return duckdb_rows(pipeline, f"SELECT count(*) FROM connectwise.{table}")[0][0]


def _tables_in(pipeline) -> set[str]:
    rows = duckdb_rows(
        pipeline,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'connectwise'",
    )
    return {r[0] for r in rows}


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> Iterator[tuple[Sandbox, object, RunSummary]]:
    """One full sync of a small tenant, shared by the read-only tests below."""
    tmp = tmp_path_factory.mktemp("full")
    with Sandbox(scale=400, seed=5) as sb:
        pipeline = duckdb_pipeline(tmp, "full")
        summary = run_sync(pipeline, **source_args(sb))
        yield sb, pipeline, summary


def test_endpoint_table_is_broad() -> None:
    modules = {e.path.split("/")[0] for e in TOP}
    assert len(TOP) >= 60 and len(CHILDREN) >= 12
    assert {
        "service",
        "company",
        "time",
        "finance",
        "project",
        "sales",
        "procurement",
        "system",
        "expense",
        "schedule",
        "marketing",
    } <= modules
    assert table_name("service/tickets") == "service_tickets"
    assert table_name("company/companies") == "company_companies"
    assert table_name("time/entries") == "time_entries"
    assert table_name("service/tickets/{id}/notes") == "service_tickets_notes"
    assert table_name("service/SLAs") == "service_slas"
    assert table_name("service/knowledgeBaseArticles") == "service_knowledge_base_articles"
    assert len({e.table for e in ENDPOINTS}) == len(ENDPOINTS)


def test_every_endpoint_loads_with_the_sandbox_counts(full) -> None:
    sb, pipeline, summary = full
    present = _tables_in(pipeline)
    mismatches = {}
    for endpoint in ENDPOINTS:
        expected = _expected_count(sb, endpoint.table)
        if expected == 0:
            continue
        assert endpoint.table in present, endpoint.table
        got = _count(pipeline, endpoint.table)
        if got != expected:
            mismatches[endpoint.table] = (got, expected)
    assert not mismatches
    loaded = [e for e in ENDPOINTS if e.table in present]
    assert len([e for e in loaded if not e.is_child]) >= 60
    assert len([e for e in loaded if e.is_child]) >= 12
    # no duplicates anywhere
    for endpoint in loaded:
        dupes = duckdb_rows(
            pipeline,
            f"SELECT count(*) - count(DISTINCT id) FROM connectwise.{endpoint.table}",
        )[0][0]
        assert dupes == 0, endpoint.table
    assert summary.changed["service_tickets"] == sb.count("service/tickets")


def test_loaded_packages_keep_no_data_files(full) -> None:
    """The pipelines directory keeps each loaded package's state, not its parquet: a
    full sync of a big tenant would leave its whole copy there, and every run more."""
    from pathlib import Path

    _, pipeline, summary = full
    loaded = Path(pipeline.working_dir) / "load" / "loaded"
    assert summary.load_info.loads_ids[0] in {p.name for p in loaded.iterdir()}
    assert not [f for f in loaded.rglob("*") if f.suffix in (".parquet", ".sql", ".gz")]


def test_full_sync_uses_forward_only_pages_of_1000(full) -> None:
    sb, _, _ = full
    lists = [
        r
        for r in sb.requests
        if r.method == "GET" and "/apis/3.0/" in r.path and not r.path.endswith("/count")
    ]
    forward = [r for r in lists if r.pagination == "forward-only"]
    navigable = [r for r in lists if r.pagination != "forward-only"]
    assert forward and all(r.query.get("pagesize") == "1000" for r in forward)
    # only the collection that does not support forward-only is walked by page number
    assert navigable and all(r.path.endswith("/forecast") for r in navigable)
    assert all(r.query.get("orderby") == "id asc" for r in navigable)
    assert all("orderby" not in r.query for r in forward)
    assert all(r.status == 200 for r in lists)


def test_references_info_and_custom_fields_are_normalised(full) -> None:
    sb, pipeline, _ = full
    cols = dict(
        duckdb_rows(
            pipeline,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'connectwise' AND table_name = 'service_tickets'",
        )
    )
    assert cols["board__id"] == "BIGINT" and cols["board__name"] == "VARCHAR"
    assert cols["_info__last_updated"].startswith("TIMESTAMP")
    assert cols["_info__date_entered"].startswith("TIMESTAMP")
    assert not [c for c in cols if c.endswith("_href")]
    assert cols["budget_hours"] == "DOUBLE" and cols["actual_hours"] == "DOUBLE"
    # no variant columns anywhere (a column split by a type change)
    variants = duckdb_rows(
        pipeline,
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'connectwise' AND column_name LIKE '%\\_\\_v\\_%' ESCAPE '\\'",
    )
    assert variants == []
    cf_types = dict(
        duckdb_rows(
            pipeline,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'connectwise' AND table_name = 'service_tickets__custom_fields'",
        )
    )
    assert cf_types["value"] == "VARCHAR" and cf_types["record_id"] == "BIGINT"
    # the API's values come back as text, exactly
    ticket_id = sb.ids("service/tickets")[0]
    api = {
        f["caption"]: f.get("value") for f in sb.get("service/tickets", ticket_id)["customFields"]
    }
    loaded = dict(
        duckdb_rows(
            pipeline,
            "SELECT caption, value FROM connectwise.service_tickets__custom_fields "
            f"WHERE record_id = {ticket_id}",
        )
    )
    assert set(loaded) == set(api)
    for caption, value in api.items():
        if value is None:
            assert loaded[caption] is None
        elif isinstance(value, str):
            assert loaded[caption] == value
        elif isinstance(value, bool):
            assert loaded[caption] == ("true" if value else "false")
        else:
            assert float(loaded[caption]) == value
    # one caption holds numbers on some records and text on others, and stays text
    mixed = duckdb_rows(
        pipeline,
        "SELECT count(*) FROM connectwise.service_tickets__custom_fields "
        "WHERE value IN ('Yes', 'No')",
    )[0][0]
    assert mixed > 0
    # the per-parent rows carry their parent's id
    orphans = duckdb_rows(
        pipeline,
        "SELECT count(*) FROM connectwise.service_tickets_notes n "
        "LEFT JOIN connectwise.service_tickets t ON t.id = n.parent_id WHERE t.id IS NULL",
    )[0][0]
    assert orphans == 0


def test_decimals_whole_and_fractional_share_a_column(full) -> None:
    sb, pipeline, _ = full
    hours = [sb.get("time/entries", i).get("actualHours") for i in sb.ids("time/entries")[:400]]
    assert any(isinstance(h, int) for h in hours) and any(isinstance(h, float) for h in hours)
    total = duckdb_rows(pipeline, "SELECT sum(actual_hours) FROM connectwise.time_entries")[0][0]
    expected = sum(
        sb.get("time/entries", i).get("actualHours") or 0 for i in sb.ids("time/entries")
    )
    assert total == pytest.approx(expected)


def _changes(sb: Sandbox, n: int) -> list[int]:
    ids = sb.ids("time/entries")[:n]
    for k, rid in enumerate(ids):
        sb.update("time/entries", rid, {"notes": f"changed {k}"})
    return ids


def test_incremental_run_costs_changes_over_1000_plus_endpoints(tmp_path) -> None:
    # the top-level tables (per-parent tables: test_children_are_fetched_for_changed_parents_only)
    args = {"tables": [e.table for e in TOP]}
    with Sandbox(scale=2500, seed=9) as sb:
        pipeline = duckdb_pipeline(tmp_path)
        run_sync(pipeline, **args, **source_args(sb))
        # nothing changed: one request per endpoint, nothing loaded
        idle = run_sync(pipeline, **args, **source_args(sb))
        assert idle.changed == {}
        assert idle.sync_requests == len(TOP)
        changed = _changes(sb, 2100)
        second = run_sync(pipeline, **args, **source_args(sb))
        # 2100 changes = 3 pages of time entries; every other endpoint: one empty page
        assert second.sync_requests <= len(TOP) + 3
        assert second.changed["time_entries"] == len(changed)
        assert set(second.changed) <= {"time_entries", "time_entries__custom_fields"}
        notes = duckdb_rows(
            pipeline,
            f"SELECT count(*) FROM connectwise.time_entries WHERE notes LIKE 'changed %' "
            f"AND id IN ({','.join(map(str, changed))})",
        )[0][0]
        assert notes == len(changed)


def test_same_second_updates_are_not_missed(tmp_path) -> None:
    with Sandbox(scale=400, seed=5) as sb:
        sb.clock.freeze("2026-06-01T12:00:00Z")
        tickets = sb.ids("service/tickets")
        args = source_args(sb, cursor_lag_seconds=0)
        pipeline = duckdb_pipeline(tmp_path)
        sb.update("service/tickets", tickets[0], {"summary": "first edit"})
        run_sync(pipeline, tables=["service_tickets"], **args)
        # the clock has not moved: these updates carry the very second of the cursor
        sb.update("service/tickets", tickets[1], {"summary": "same second, other record"})
        sb.update("service/tickets", tickets[0], {"summary": "same second, edited again"})
        again = run_sync(pipeline, tables=["service_tickets"], **args)
        assert again.changed.get("service_tickets") == 2
        got = dict(
            duckdb_rows(
                pipeline,
                "SELECT id, summary FROM connectwise.service_tickets "
                f"WHERE id IN ({tickets[0]}, {tickets[1]})",
            )
        )
        assert got == {
            tickets[0]: "same second, edited again",
            tickets[1]: "same second, other record",
        }
        # and a run with nothing new re-reads the boundary but loads nothing
        idle = run_sync(pipeline, tables=["service_tickets"], **args)
        assert idle.changed == {}
        # a remembered record edited once more in that second: same id and lastUpdated, its
        # digest tells, also to the first look that reads the table before the extract
        sb.update("service/tickets", tickets[0], {"summary": "third edit, same second"})
        look = FirstLook()
        third = run_sync(pipeline, tables=["service_tickets"], first_look=look, **args)
        assert look.unchanged == [] and third.changed.get("service_tickets") == 1


def test_a_bulk_change_at_the_cursor_is_remembered_in_a_file(tmp_path, monkeypatch) -> None:
    """Past INLINE_MAX records at the boundary, the state names a local file instead of
    holding them (dlt copies the state into every load package and the warehouse); the
    next run loads none of them again. Without the file (a new machine) they load once
    more, nothing is missed."""
    from sources.connectwise import boundary_store

    monkeypatch.setattr(boundary_store, "INLINE_MAX", 10)
    with Sandbox(scale=400, seed=5) as sb:
        sb.clock.freeze("2026-06-01T12:00:00Z")
        args = source_args(sb, cursor_lag_seconds=0)
        pipeline = duckdb_pipeline(tmp_path)
        run_sync(pipeline, tables=["service_tickets"], **args)
        tickets = sb.ids("service/tickets")[:30]
        for ticket in tickets:  # all in the very second of the next cursor
            sb.update("service/tickets", ticket, {"summary": f"bulk {ticket}"})
        bulk = run_sync(pipeline, tables=["service_tickets"], **args)
        assert bulk.changed.get("service_tickets") == 30
        kept = pipeline.state["sources"]["connectwise"]["resources"]["service_tickets"]
        assert kept["boundary"]["count"] == 30 and "ids" not in kept["boundary"]
        folder = Path(pipeline.working_dir) / "boundary" / "connectwise"
        assert (folder / kept["boundary"]["file"]).is_file()
        assert run_sync(pipeline, tables=["service_tickets"], **args).changed == {}
        shutil.rmtree(folder)
        again = run_sync(pipeline, tables=["service_tickets"], **args)
        assert again.changed.get("service_tickets") == 30


def test_another_api_host_does_not_reload_the_remembered_records(tmp_path) -> None:
    """The boundary's digests leave the API base out of the records' links: the same
    tenant served on another port (or under another host name) is not "changed"."""
    db = str(tmp_path / "tenant.sqlite")
    pipeline = duckdb_pipeline(tmp_path)
    with Sandbox(scale=400, seed=5, db=db) as sb:
        first = sb.info["base_url"]
        run_sync(pipeline, tables=["service_tickets"], **source_args(sb))
    remembered = pipeline.state["sources"]["connectwise"]["resources"]["service_tickets"]
    # records at the newest second, re-read next run
    assert unpack_seen(remembered["boundary"])
    with Sandbox(scale=400, seed=5, db=db) as sb:
        assert sb.info["base_url"] != first
        assert run_sync(pipeline, tables=["service_tickets"], **source_args(sb)).changed == {}


class _OverlappingIdsClient(ConnectWiseClient):
    """A real client whose pages of tickets give the first record's second and third
    custom fields the ids of the next two records, as in a tenant whose custom field ids
    and record ids overlap (small ids on both sides):
    ``[{"id":f,…,"customFields":[{…},{"id":a,…},{"id":b,…}]},{"id":a,…},{"id":b,…}]``."""

    def get_page(self, path: str, params, **kwargs) -> Page:
        page = super().get_page(path, params, **kwargs)
        if path != "service/tickets" or page.body is None:
            return page
        records = orjson.loads(page.body)
        fields = records[0]["customFields"][1:] if records else []
        for field, record in zip(fields, records[1:3], strict=False):
            field["id"] = record["id"]
        return Page(headers=page.headers, body=orjson.dumps(records))


def test_a_record_a_nested_object_looks_like_is_not_missed(tmp_path) -> None:
    """Ticket a's bytes are cut from the page body for its boundary digest (every page is
    read into Arrow once a run kept the page type): the cut must be ticket a, not the
    custom field of the first ticket that starts like it, or its second edit in the same
    second would be skipped as unchanged."""
    with Sandbox(scale=400, seed=5) as sb:
        sb.clock.freeze("2026-06-01T12:00:00Z")
        first, a, b = sb.ids("service/tickets")[:3]
        args = source_args(sb, cursor_lag_seconds=0)
        creds = {k: args.pop(k) for k in ("company_id", "public_key", "private_key", "client_id")}
        client = _OverlappingIdsClient(base_url=args.pop("base_url"), **creds)
        pipeline = duckdb_pipeline(tmp_path)
        run_sync(pipeline, tables=["service_tickets"], client=client, **args)  # types kept
        for ticket in (first, a, b):
            sb.update("service/tickets", ticket, {"summary": f"edit {ticket}"})
        edited = run_sync(pipeline, tables=["service_tickets"], client=client, **args)
        assert edited.changed.get("service_tickets") == 3
        sb.update("service/tickets", a, {"summary": "same second, edited again"})
        again = run_sync(pipeline, tables=["service_tickets"], client=client, **args)
        assert again.changed.get("service_tickets") == 1
        assert duckdb_rows(
            pipeline, f"SELECT summary FROM connectwise.service_tickets WHERE id = {a}"
        ) == [("same second, edited again",)]


class _MidSweepClient(ConnectWiseClient):
    """A real client that, after the first page of tickets, lets time pass and edits the
    tenant: one ticket the sweep has already passed, one it has not reached yet."""

    def __init__(self, sb: Sandbox, passed: int, ahead: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.sb, self.passed, self.ahead, self.armed = sb, passed, ahead, False

    def get_page(self, path: str, params, **kwargs) -> Page:
        page = super().get_page(path, params, **kwargs)
        if self.armed and path == "service/tickets":
            self.armed = False
            self.sb.clock.advance(5)
            self.sb.update("service/tickets", self.passed, {"summary": "edited mid-sweep"})
            self.sb.clock.advance(1)
            self.sb.update("service/tickets", self.ahead, {"summary": "edited ahead of sweep"})
        return page


def test_mid_sweep_updates_are_not_missed(tmp_path) -> None:
    with Sandbox(scale=400, seed=5) as sb:
        sb.clock.freeze("2026-06-01T12:00:00Z")
        tickets = sb.ids("service/tickets")
        args = source_args(sb, cursor_lag_seconds=0, page_size=20)
        creds = {
            k: args[k] for k in ("company_id", "public_key", "private_key", "client_id", "base_url")
        }
        client = _MidSweepClient(
            sb, tickets[0], tickets[-1], retry=RetryPolicy(base_delay=0.01), **creds
        )
        pipeline = duckdb_pipeline(tmp_path)
        run_sync(pipeline, tables=["service_tickets"], client=client, page_size=20)
        sb.clock.advance(60)
        for rid in tickets:  # a busy minute: the next sweep has several pages to read
            sb.update("service/tickets", rid, {"summary": "busy"})
        client.armed = True  # and it is edited while it runs
        second = run_sync(pipeline, tables=["service_tickets"], client=client, page_size=20)
        assert second.changed.get("service_tickets") == len(tickets)
        # it read the record ahead of it with the new value, the one it had passed without
        assert dict(
            duckdb_rows(
                pipeline,
                "SELECT id, summary FROM connectwise.service_tickets "
                f"WHERE id IN ({tickets[0]}, {tickets[-1]})",
            )
        ) == {tickets[0]: "busy", tickets[-1]: "edited ahead of sweep"}
        third = run_sync(pipeline, tables=["service_tickets"], client=client, page_size=20)
        assert third.changed.get("service_tickets") == 1  # the passed one, caught now
        got = dict(
            duckdb_rows(
                pipeline,
                "SELECT id, summary FROM connectwise.service_tickets "
                f"WHERE id IN ({tickets[0]}, {tickets[-1]})",
            )
        )
        assert got == {tickets[0]: "edited mid-sweep", tickets[-1]: "edited ahead of sweep"}


def test_children_are_fetched_for_changed_parents_only(tmp_path) -> None:
    with Sandbox(scale=400, seed=5) as sb:
        pipeline = duckdb_pipeline(tmp_path)
        tables = ["service_tickets_notes"]
        assert resolve_tables(tables) == ["service_tickets", "service_tickets_notes"]
        first = run_sync(pipeline, tables=tables, **source_args(sb))
        assert set(first.changed) >= {"service_tickets", "service_tickets_notes"}
        assert _count(pipeline, "service_tickets_notes") == _expected_count(
            sb, "service_tickets_notes"
        )
        target = sb.ids("service/tickets")[3]
        sb.create("service/tickets/{parentId}/notes", {"text": "a new note"}, parent_id=target)
        sb.update("service/tickets", target, {"summary": "touched"})
        mark = len(sb.requests)
        second = run_sync(pipeline, tables=tables, **source_args(sb))
        note_requests = [r for r in sb.requests[mark:] if r.path.endswith("/notes")]
        assert [r.path.split("/")[-2] for r in note_requests] == [str(target)]
        assert second.changed["service_tickets"] == 1
        assert second.changed["service_tickets_notes"] == len(
            sb.ids("service/tickets/{parentId}/notes", target)
        )
        assert _count(pipeline, "service_tickets_notes") == _expected_count(
            sb, "service_tickets_notes"
        )
        assert set(_tables_in(pipeline)) >= {"service_tickets", "service_tickets_notes"}
        assert "company_companies" not in _tables_in(pipeline)


def test_unknown_table_is_a_one_line_error() -> None:
    with pytest.raises(ConfigurationError) as err:
        resolve_tables(["service_ticket"])
    assert "service_ticket" in str(err.value) and "\n" not in str(err.value)


def test_start_date_bounds_the_backfill(tmp_path) -> None:
    with Sandbox(scale=400, seed=5) as sb:
        pipeline = duckdb_pipeline(tmp_path)
        stamps = sorted(
            sb.get("service/tickets", i)["_info"]["lastUpdated"] for i in sb.ids("service/tickets")
        )
        start = stamps[len(stamps) // 2]
        summary = run_sync(
            pipeline, tables=["service_tickets"], start_date=start, **source_args(sb)
        )
        expected = sum(1 for s in stamps if s >= start)
        assert summary.changed["service_tickets"] == expected
        # the count check counts the same bounded set on both sides
        assert [(c.api, c.warehouse) for c in summary.counts] == [(expected, expected)]
        # a full refresh drops the state and the table and loads everything
        again = run_sync(pipeline, tables=["service_tickets"], full_refresh=True, **source_args(sb))
        assert again.changed["service_tickets"] == len(stamps)
        assert _count(pipeline, "service_tickets") == len(stamps)


def test_api_version_can_be_pinned_per_table(tmp_path) -> None:
    with Sandbox(scale=400, seed=5) as sb:
        pipeline = duckdb_pipeline(tmp_path)
        run_sync(
            pipeline,
            tables=["service_tickets", "company_companies"],
            api_versions={"service_tickets": "2024.1"},
            **source_args(sb),
        )
        accepts = Counter(
            (r.path.rsplit("/", 1)[-1], r.accept) for r in sb.requests if r.method == "GET"
        )
        assert accepts[("tickets", "application/vnd.connectwise.com+json; version=2024.1")] >= 1
        assert accepts[("companies", "application/vnd.connectwise.com+json; version=2025.8")] >= 1
        cols = {
            r[0]
            for r in duckdb_rows(
                pipeline,
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'connectwise' AND table_name = 'service_tickets'",
            )
        }
        assert "required_date" in cols and "estimated_start_date" not in cols


def test_user_conditions_filter_every_request_and_the_count_check(tmp_path) -> None:
    with Sandbox(scale=400, seed=5) as sb:
        pipeline = duckdb_pipeline(tmp_path)
        open_only = {"service_tickets": "closedFlag = False"}
        summary = run_sync(
            pipeline, tables=["service_tickets"], conditions=open_only, **source_args(sb)
        )
        expected = sum(
            1 for i in sb.ids("service/tickets") if not sb.get("service/tickets", i)["closedFlag"]
        )
        assert 0 < expected < sb.count("service/tickets")
        assert summary.changed["service_tickets"] == expected
        assert [(c.api, c.warehouse) for c in summary.counts] == [(expected, expected)]
        ticket_pages = [
            r for r in sb.requests if r.path.endswith("/service/tickets") and "pageid" in r.query
        ]
        assert all("closedFlag = False" in r.query.get("conditions", "") for r in ticket_pages)


def test_malformed_user_condition_is_a_one_line_api_error(tmp_path) -> None:
    from sources.connectwise.errors import ApiRequestError, find_connectwise_error

    with Sandbox(scale=300, seed=5) as sb:
        pipeline = duckdb_pipeline(tmp_path)
        with pytest.raises(Exception) as err:
            run_sync(
                pipeline,
                tables=["service_tickets"],
                conditions={"service_tickets": 'summary = "unterminated'},
                **source_args(sb),
            )
        found = find_connectwise_error(err.value)
        assert isinstance(found, ApiRequestError) and found.status == 400
        assert "service/tickets" in str(found) and "\n" not in str(found)
        with pytest.raises(ConfigurationError, match="per-parent"):
            run_sync(
                pipeline,
                tables=["service_tickets_notes"],
                conditions={"service_tickets_notes": "id > 1"},
                **source_args(sb),
            )


def test_first_sync_appends_then_runs_merge(tmp_path, fresh_sandbox) -> None:
    """A table's first sync loads without a merge (nothing to merge into); from the next
    run on, changed records replace their rows: no duplicates, list rows replaced too."""
    sb = fresh_sandbox
    pipeline = duckdb_pipeline(tmp_path)
    tables = ["service_tickets"]
    run_sync(pipeline, tables=tables, **source_args(sb))
    schema = pipeline.default_schema
    assert schema.get_table("service_tickets")["write_disposition"] == "append"
    ticket = sb.ids("service/tickets")[0]
    sb.clock.advance(120)
    sb.update("service/tickets", ticket, {"summary": "changed once"})
    sb.clock.advance(120)
    run_sync(pipeline, tables=tables, **source_args(sb))
    assert pipeline.default_schema.get_table("service_tickets")["write_disposition"] == "merge"
    rows = duckdb_rows(
        pipeline, f"SELECT summary FROM connectwise.service_tickets WHERE id = {ticket}"
    )
    assert rows == [("changed once",)]
    total = sb.count("service/tickets")
    assert duckdb_rows(
        pipeline, "SELECT count(*), count(DISTINCT id) FROM connectwise.service_tickets"
    ) == [(total, total)]
    fields = len(sb.get("service/tickets", ticket).get("customFields") or [])
    assert duckdb_rows(
        pipeline,
        "SELECT count(*) FROM connectwise.service_tickets__custom_fields "
        f"WHERE record_id = {ticket}",
    ) == [(fields,)]


def test_a_new_machine_merges_into_an_existing_warehouse(tmp_path, fresh_sandbox) -> None:
    """Pipeline state lost locally (a new machine, a wiped pipelines dir): dlt restores it
    from the warehouse, and the run merges — no row twice."""
    sb = fresh_sandbox
    tables = ["service_tickets"]
    first = duckdb_pipeline(tmp_path)
    run_sync(first, tables=tables, **source_args(sb))
    sb.clock.advance(120)
    ticket = sb.ids("service/tickets")[1]
    sb.update("service/tickets", ticket, {"summary": "changed on the old machine's watch"})
    sb.clock.advance(120)
    again = duckdb_pipeline(tmp_path, state_dir="new-machine-state")
    run_sync(again, tables=tables, **source_args(sb))
    total = sb.count("service/tickets")
    assert duckdb_rows(
        again, "SELECT count(*), count(DISTINCT id) FROM connectwise.service_tickets"
    ) == [(total, total)]
    assert duckdb_rows(
        again, f"SELECT summary FROM connectwise.service_tickets WHERE id = {ticket}"
    ) == [("changed on the old machine's watch",)]

"""Big collections are walked as parallel id ranges: every record exactly once, the same
rows as one sequential walk, faults included, and records created mid-walk are not lost."""

from __future__ import annotations

import threading

import pytest

from cwsync.sandbox import Sandbox
from cwsync.sandbox.faults import KINDS
from pipelines.sync import run_sync
from sources.connectwise.paginator import SPLIT_AFTER_PAGES, forward_only_pages, split_pages

from .conftest import duckdb_pipeline, duckdb_rows, sandbox_client, source_args


def _ids(pages) -> list[int]:
    return [r["id"] for page in pages for r in page.records]


def test_split_walk_returns_every_record_once_in_parallel_ranges(sandbox) -> None:
    api = sandbox_client(sandbox)
    path = "time/entries"
    sequential = _ids(forward_only_pages(api, path, {}, page_size=50))
    assert len(sequential) > 50 * (SPLIT_AFTER_PAGES + 8)  # big enough to split
    mark = len(sandbox.requests)
    split = _ids(split_pages(api, path, {}, split=4, page_size=50))
    assert sorted(split) == sequential  # none lost, none twice
    walked = [r for r in sandbox.requests[mark:] if r.path.endswith("/time/entries")]
    ranged = [r for r in walked if "id <= " in (r.query.get("conditions") or "")]
    assert len({r.query["conditions"] for r in ranged}) == 3  # 4 ranges, the last open
    assert any(r.query.get("orderby") == "id desc" for r in walked)  # the one top-id probe
    # a user filter stays on every request of every range
    filtered = _ids(
        split_pages(api, path, {"conditions": "billableOption = 'Billable'"}, split=4, page_size=20)
    )
    assert sorted(filtered) == _ids(
        forward_only_pages(api, path, {"conditions": "billableOption = 'Billable'"}, page_size=20)
    )


def test_records_created_during_a_split_walk_are_not_lost(fresh_sandbox) -> None:
    sb = fresh_sandbox
    api = sandbox_client(sb)
    path = "time/entries"
    template = sb.get(path, sb.ids(path)[0])
    created: list[int] = []
    walk = split_pages(api, path, {}, split=3, page_size=50)
    seen = _ids([next(walk) for _ in range(SPLIT_AFTER_PAGES)])

    def create() -> None:
        body = {
            k: template[k]
            for k in ("company", "member", "chargeToId", "chargeToType", "timeStart", "timeEnd")
            if k in template
        }
        created.append(sb.create(path, body)["id"])

    # created after the top id was read: only the open last range can pick it up
    first = next(walk)
    thread = threading.Thread(target=create)
    thread.start()
    thread.join()
    seen += _ids([first, *walk])
    assert created and created[0] in seen
    assert len(seen) == len(set(seen)) == sb.count(path)


def test_split_sync_loads_the_same_rows_as_a_sequential_one(tmp_path, sandbox) -> None:
    one = duckdb_pipeline(tmp_path, "one")
    many = duckdb_pipeline(tmp_path, "many")
    args = source_args(sandbox, page_size=40)
    tables = ["time_entries", "service_tickets", "company_contacts"]
    run_sync(one, tables=tables, split_ranges=1, deletes="off", **args)
    summary = run_sync(many, tables=tables, split_ranges=4, deletes="off", **args)
    assert not summary.mismatches
    for table in tables:
        query = f"SELECT id, _info__last_updated FROM connectwise.{table} ORDER BY id"
        assert duckdb_rows(one, query) == duckdb_rows(many, query)
        assert len(duckdb_rows(many, query)) == sandbox.count(table.replace("_", "/", 1))


def test_split_sync_under_faults_is_exact(tmp_path) -> None:
    with Sandbox(
        scale="small",
        seed=3,
        fault_rate=0.1,
        fault_kinds=list(KINDS),
        slow_seconds=0.3,
        retry_after=0,
    ) as sb:
        pipeline = duckdb_pipeline(tmp_path)
        run_sync(
            pipeline,
            tables=["time_entries"],
            deletes="off",
            **source_args(sb, page_size=40, split_ranges=4, max_attempts=12),
        )
        sb.faults.rate = 0.0
        assert any(r.fault for r in sb.requests)
        rows = duckdb_rows(
            pipeline, "SELECT count(*), count(DISTINCT id) FROM connectwise.time_entries"
        )
        assert rows == [(sb.count("time/entries"), sb.count("time/entries"))]


@pytest.mark.timeout(180)
def test_many_split_tables_at_once_never_stall(tmp_path) -> None:
    """More split tables than extract workers, few run-wide permits, slow responses: a
    table whose consumer dlt left suspended holds permits, and the others still finish."""
    tables = [
        "service_tickets",
        "time_entries",
        "company_contacts",
        "company_companies",
        "company_configurations",
        "schedule_entries",
        "procurement_products",
        "finance_invoices",
        "expense_entries",
    ]
    with Sandbox(scale="small", seed=4, latency_ms=15) as sb:
        pipeline = duckdb_pipeline(tmp_path)
        summary = run_sync(
            pipeline,
            tables=tables,
            deletes="off",
            **source_args(sb, page_size=10, split_ranges=4, max_in_flight=1),
        )
        assert not summary.mismatches
        for table in tables:
            path = table.replace("_", "/", 1)
            rows = duckdb_rows(
                pipeline, f"SELECT count(*), count(DISTINCT id) FROM connectwise.{table}"
            )
            assert rows == [(sb.count(path), sb.count(path))], table


def test_a_transform_runs_where_the_page_was_fetched_and_only_its_result_is_kept(
    sandbox,
) -> None:
    """``transform`` turns each page into what the reader keeps (the source: Arrow tables)
    in the thread that fetched it, range walkers included; the result is the same walk."""
    api = sandbox_client(sandbox)
    path = "time/entries"
    threads: set[str] = set()

    def ids_of(page) -> list[int]:
        threads.add(threading.current_thread().name)
        return [r["id"] for r in page.records]

    walked = [i for ids in split_pages(api, path, {}, split=3, page_size=50, transform=ids_of)
              for i in ids]  # fmt: skip
    assert sorted(walked) == _ids(forward_only_pages(api, path, {}, page_size=50))
    assert len(walked) == len(set(walked))
    assert any(name.startswith("cw-range") for name in threads)  # ranges: in the walkers
    short = list(forward_only_pages(api, "service/boards", {}, transform=lambda p: len(p.records)))
    assert short == [len(_ids(forward_only_pages(api, "service/boards", {})))]

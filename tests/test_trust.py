"""Deletes, the count check and the run log, against the sandbox and real DuckDB files."""

from __future__ import annotations

from cwsync.sandbox import Sandbox
from pipelines.sync import run_sync, sweep_interval_over

from .conftest import duckdb_pipeline, duckdb_rows, source_args

TABLES = ["service_tickets", "service_tickets_notes", "company_companies"]


def _deleted(pipeline, table: str) -> set[int]:
    rows = duckdb_rows(
        pipeline, f"SELECT id FROM connectwise.{table} WHERE _cw_deleted_at IS NOT NULL"
    )
    return {r[0] for r in rows}


def test_deleted_records_are_marked_with_their_children(tmp_path) -> None:
    with Sandbox(scale=400, seed=5) as sb:
        pipeline = duckdb_pipeline(tmp_path)
        first = run_sync(pipeline, tables=TABLES, **source_args(sb))
        assert first.mismatches == [] and len(first.counts) == 2
        tickets = sb.ids("service/tickets")
        gone = [t for t in tickets if sb.ids("service/tickets/{parentId}/notes", t)][:3]
        notes = {n for t in gone for n in sb.ids("service/tickets/{parentId}/notes", t)}
        for rid in gone:
            sb.delete("service/tickets", rid)
        # the list endpoints never show deletes: an incremental run alone sees nothing…
        quiet = run_sync(pipeline, tables=TABLES, deletes="off", **source_args(sb))
        assert {c.table: c.diff for c in quiet.counts}["service_tickets"] == len(gone)
        # …the id sweep does
        swept = run_sync(pipeline, tables=TABLES, deletes="now", **source_args(sb))
        sweep = {s.table: s for s in swept.deletes}["service_tickets"]
        assert sweep.marked == len(gone) and sweep.children == len(notes)
        assert sweep.live == len(tickets) - len(gone)
        assert _deleted(pipeline, "service_tickets") == set(gone)
        assert _deleted(pipeline, "service_tickets_notes") == notes
        assert swept.mismatches == []
        # the sweep read ids only
        sweeps = [
            r
            for r in sb.requests
            if r.path.endswith("/service/tickets") and r.query.get("fields") == "id"
        ]
        assert sweeps and all(r.query.get("pagesize") == "1000" for r in sweeps)
        runs = duckdb_rows(
            pipeline,
            "SELECT requests, count_mismatches, deleted_marked FROM connectwise._cwsync_runs "
            "ORDER BY started_at",
        )
        assert [r[2] for r in runs] == [0, 0, len(gone)]
        assert [r[1] for r in runs] == [0, 1, 0]
        assert all(r[0] > 0 for r in runs)
        # a row marked by mistake (say, by a callback) whose record the API still has is
        # un-marked by the next sweep
        alive = next(t for t in tickets if t not in gone)
        with pipeline.sql_client() as sql:
            sql.execute_sql(
                f"UPDATE connectwise.service_tickets SET _cw_deleted_at = now() WHERE id = {alive}"
            )
        again = run_sync(pipeline, tables=TABLES, deletes="now", **source_args(sb))
        assert {s.table: s for s in again.deletes}["service_tickets"].unmarked == 1
        assert _deleted(pipeline, "service_tickets") == set(gone)


def test_hard_deletes_remove_rows_and_their_custom_fields(tmp_path) -> None:
    with Sandbox(scale=400, seed=5) as sb:
        pipeline = duckdb_pipeline(tmp_path)
        run_sync(pipeline, tables=TABLES, **source_args(sb))
        victim = sb.ids("service/tickets")[0]
        sb.delete("service/tickets", victim)
        run_sync(pipeline, tables=TABLES, deletes="now", hard_deletes=True, **source_args(sb))
        assert duckdb_rows(
            pipeline, f"SELECT count(*) FROM connectwise.service_tickets WHERE id = {victim}"
        ) == [(0,)]
        assert duckdb_rows(
            pipeline,
            "SELECT count(*) FROM connectwise.service_tickets__custom_fields "
            f"WHERE record_id = {victim}",
        ) == [(0,)]
        assert duckdb_rows(
            pipeline,
            f"SELECT count(*) FROM connectwise.service_tickets_notes WHERE parent_id = {victim}",
        ) == [(0,)]


def test_mass_delete_guard_refuses_unless_forced(tmp_path) -> None:
    with Sandbox(scale=400, seed=5) as sb:
        pipeline = duckdb_pipeline(tmp_path)
        run_sync(pipeline, tables=["service_tickets"], **source_args(sb))
        tickets = sb.ids("service/tickets")
        gone = tickets[: len(tickets) // 5]  # 20% > the 10% guard
        for rid in gone:
            sb.delete("service/tickets", rid)
        refused = run_sync(pipeline, tables=["service_tickets"], deletes="now", **source_args(sb))
        (sweep,) = refused.deletes
        assert sweep.refused and "refusing" in sweep.refused and "--force-deletes" in sweep.refused
        assert _deleted(pipeline, "service_tickets") == set()
        assert any("refusing" in line for line in refused.lines())
        forced = run_sync(
            pipeline,
            tables=["service_tickets"],
            deletes="now",
            force_deletes=True,
            **source_args(sb),
        )
        assert forced.deletes[0].marked == len(gone)
        assert _deleted(pipeline, "service_tickets") == set(gone)


def _age_sweeps(pipeline, hours: int) -> None:
    with pipeline.sql_client() as sql:
        sql.execute_sql(
            f"UPDATE connectwise._cwsync_deletes SET swept_at = swept_at - INTERVAL {hours} HOUR"
        )


def test_deletes_follow_the_schedule(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SOURCES__CONNECTWISE__DELETES_EVERY_HOURS", "1")
    monkeypatch.setenv(
        "SOURCES__CONNECTWISE__DELETES_EVERY_HOURS_BY_TABLE", '{"company_companies": 0}'
    )
    with Sandbox(scale=400, seed=5) as sb:
        pipeline = duckdb_pipeline(tmp_path)
        first = run_sync(pipeline, tables=TABLES, **source_args(sb))
        assert first.deletes == []  # the backfill is the baseline
        _age_sweeps(pipeline, hours=2)  # two hours pass
        sb.delete("service/tickets", sb.ids("service/tickets")[0])
        second = run_sync(pipeline, tables=TABLES, **source_args(sb))
        assert [s.table for s in second.deletes] == ["service_tickets"]  # companies: never
        assert second.deletes[0].marked == 1
        third = run_sync(pipeline, tables=TABLES, **source_args(sb))
        assert third.deletes == []  # swept moments ago


def test_a_sweep_is_due_a_little_before_its_interval_is_over() -> None:
    # runs that check start a little earlier or later each time: a daily sweep checked
    # hourly stays daily instead of slipping an hour whenever a run starts early
    assert sweep_interval_over(24 * 3600 - 300, 24)
    assert not sweep_interval_over(24 * 3600 - 900, 24)  # the slack is 10 minutes at most
    assert sweep_interval_over(3600 - 300, 1)  # and a tenth of a shorter interval
    assert not sweep_interval_over(3600 - 420, 1)
    assert not sweep_interval_over(0, 0.001) and sweep_interval_over(3.3, 0.001)


def _snapshot(pipeline, tables) -> dict[str, list[tuple]]:
    return {
        t: duckdb_rows(pipeline, f"SELECT id, _info__last_updated FROM connectwise.{t} ORDER BY id")
        for t in tables
    }


def test_full_and_incremental_runs_under_ten_percent_faults_equal_fault_free(tmp_path) -> None:
    tables = ["service_tickets", "service_tickets_notes", "time_entries", "company_companies"]
    with Sandbox(scale=600, seed=13, slow_seconds=0.2, retry_after=0) as sb:
        sb.clock.freeze("2026-06-01T12:00:00Z")
        clean = duckdb_pipeline(tmp_path, "clean")
        faulty = duckdb_pipeline(tmp_path, "faulty")
        args = source_args(sb, page_size=50, max_attempts=12)
        run_sync(clean, tables=tables, **args)
        sb.faults.rate = 0.10
        first = run_sync(faulty, tables=tables, **args)
        assert first.retries > 0
        sb.faults.rate = 0.0
        assert _snapshot(faulty, tables) == _snapshot(clean, tables)
        # a working day later: edits, new notes, deletions
        sb.clock.advance(3600)
        for rid in sb.ids("time/entries")[::9]:
            sb.update("time/entries", rid, {"notes": "edited"})
        for tid in sb.ids("service/tickets")[::5]:
            sb.create("service/tickets/{parentId}/notes", {"text": "new note"}, parent_id=tid)
            sb.update("service/tickets", tid, {"summary": "follow-up"})
        run_sync(clean, tables=tables, **args)
        sb.faults.rate = 0.10
        second = run_sync(faulty, tables=tables, **args)
        sb.faults.rate = 0.0
        assert second.retries > 0
        assert _snapshot(faulty, tables) == _snapshot(clean, tables)
        assert duckdb_rows(
            faulty, "SELECT count(*) FROM connectwise.time_entries WHERE notes = 'edited'"
        ) == [(len(sb.ids("time/entries")[::9]),)]


def test_schema_drift_new_fields_and_type_changes_do_not_fail_or_lose_values(tmp_path) -> None:
    tables = ["service_tickets", "company_companies"]
    with Sandbox(scale=400, seed=5) as sb:
        pipeline = duckdb_pipeline(tmp_path)
        # a tenant pinned to an old model: requiredDate, integer budgetHours, one company type
        run_sync(pipeline, tables=tables, api_version="2024.1", **source_args(sb))
        cols = _columns(pipeline, "service_tickets")
        assert "required_date" in cols and "estimated_start_date" not in cols
        assert cols["budget_hours"] == "DOUBLE"  # decimals are typed for what they will hold
        assert "type__id" in _columns(pipeline, "company_companies")
        old_dates = dict(
            duckdb_rows(
                pipeline,
                "SELECT id, required_date FROM connectwise.service_tickets "
                "WHERE required_date IS NOT NULL",
            )
        )
        assert old_dates
        # the pin is lifted: a renamed field, int -> decimal, object -> array
        for tid in sb.ids("service/tickets"):
            sb.update("service/tickets", tid, {"budgetHours": 1.25})
        for cid in sb.ids("company/companies"):
            sb.update("company/companies", cid, {"phoneNumber": "555-0100"})
        run_sync(pipeline, tables=tables, api_version="2025.8", **source_args(sb))
        cols = _columns(pipeline, "service_tickets")
        assert "estimated_start_date" in cols and "required_date" in cols
        assert not [c for c in cols if "__v_" in c]
        new_dates = dict(
            duckdb_rows(
                pipeline,
                "SELECT id, estimated_start_date FROM connectwise.service_tickets "
                "WHERE estimated_start_date IS NOT NULL",
            )
        )
        assert new_dates == old_dates  # the same values under the new name
        assert duckdb_rows(
            pipeline, "SELECT DISTINCT budget_hours FROM connectwise.service_tickets"
        ) == [(1.25,)]
        # the array of types lands in a nested table, one row per type
        typed = duckdb_rows(
            pipeline,
            "SELECT count(DISTINCT c.id) FROM connectwise.company_companies c "
            "JOIN connectwise.company_companies__types t ON t.record_id = c.id",
        )[0][0]
        assert typed == sum(
            1
            for cid in sb.ids("company/companies")
            if sb.get("company/companies", cid).get("types")
        )


def _columns(pipeline, table: str) -> dict[str, str]:
    return dict(
        duckdb_rows(
            pipeline,
            "SELECT column_name, data_type FROM information_schema.columns "
            f"WHERE table_schema = 'connectwise' AND table_name = '{table}'",
        )
    )

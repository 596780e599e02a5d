"""The key end-to-end paths on every warehouse the suite has: DuckDB files and the real
PostgreSQL on 127.0.0.1 (a dataset of its own per test, dropped afterwards).

Covers, on each: a full sync equals the sandbox's counts; an incremental run merges
changed records (no duplicates, new values) and fetches notes of changed tickets; the id
sweep marks deleted records and their per-parent rows; the count check sees a delete
before the sweep and agrees after it. Also ``cwsync run``/``verify --destination
postgres`` as a user runs them.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from cwsync.sandbox import Sandbox
from pipelines.reconcile import verify_counts
from pipelines.sync import run_sync
from sources.connectwise.client import ConnectWiseClient

from .conftest import (
    POSTGRES_URL,
    WAREHOUSES,
    drop_postgres_dataset,
    source_args,
    warehouse_pipeline,
    warehouse_rows,
)

TABLES = [
    "service_tickets",
    "service_tickets_notes",
    "company_companies",
    "time_entries",
    "finance_agreements",
    "company_entity_types",  # replaced in full (no _info)
]
NOTES = "service/tickets/{parentId}/notes"


def _count(pipeline, table: str, live: bool = False) -> int:
    where = " WHERE _cw_deleted_at IS NULL" if live else ""
    return warehouse_rows(pipeline, f"SELECT count(*) FROM connectwise.{table}{where}")[0][0]


def _notes(sb: Sandbox) -> int:
    return sum(len(sb.ids(NOTES, t)) for t in sb.ids("service/tickets"))


@pytest.fixture(scope="module", params=WAREHOUSES)
def loaded(request, tmp_path_factory) -> Iterator[tuple[Sandbox, object]]:
    """A tenant of its own, fully synced once into each warehouse kind."""
    tmp = tmp_path_factory.mktemp(request.param)
    with Sandbox(scale=300, seed=13) as sb:
        pipeline = warehouse_pipeline(request.param, tmp)
        try:
            first = run_sync(pipeline, tables=TABLES, **source_args(sb))
            assert first.mismatches == []
            yield sb, pipeline
        finally:
            if request.param == "postgres":
                drop_postgres_dataset(pipeline.dataset_name)


def test_full_sync_equals_the_sandbox(loaded) -> None:
    sb, pipeline = loaded
    for table, path in [
        ("service_tickets", "service/tickets"),
        ("company_companies", "company/companies"),
        ("time_entries", "time/entries"),
        ("finance_agreements", "finance/agreements"),
        ("company_entity_types", "company/entityTypes"),
    ]:
        assert _count(pipeline, table) == sb.count(path), table
    assert _count(pipeline, "service_tickets_notes") == _notes(sb)
    # flattened references and custom fields made it, typed
    ticket = sb.get("service/tickets", sb.ids("service/tickets")[0])
    row = warehouse_rows(
        pipeline,
        "SELECT summary, board__name, company__id FROM connectwise.service_tickets WHERE id = %s",
        ticket["id"],
    )
    assert row == [(ticket["summary"], ticket["board"]["name"], ticket["company"]["id"])]
    fields = warehouse_rows(
        pipeline, "SELECT count(*) FROM connectwise.service_tickets__custom_fields"
    )[0][0]
    assert fields > 0


def test_incremental_run_merges_changes(loaded) -> None:
    sb, pipeline = loaded
    tickets = sb.ids("service/tickets")
    picked = tickets[3:8]
    for n, tid in enumerate(picked):
        sb.update("service/tickets", tid, {"summary": f"merged on every warehouse {n}"})
        sb.create(NOTES, {"text": f"note {n}", "internalAnalysisFlag": True}, parent_id=tid)
    new_company = sb.create("company/companies", {"identifier": "WhNewCo", "name": "Wh New Co"})
    # list rows: one ticket's custom field gets a new value, one company's types empty
    fields = sb.get("service/tickets", tickets[10])["customFields"]
    changed = {**fields[0], "value": "changed on every warehouse"}
    sb.update("service/tickets", tickets[10], {"customFields": [changed]})
    typed = next(c for c in sb.ids("company/companies") if sb.get("company/companies", c)["types"])
    sb.update("company/companies", typed, {"types": []})
    summary = run_sync(pipeline, tables=TABLES, deletes="off", **source_args(sb))
    assert summary.mismatches == []
    assert summary.rows["service_tickets"] <= len(picked) + 2  # the watermark may re-read one
    rows = warehouse_rows(
        pipeline,
        "SELECT id, summary FROM connectwise.service_tickets WHERE summary LIKE %s",
        "merged on every warehouse%",
    )
    assert sorted(r[0] for r in rows) == sorted(picked)
    for table in ("service_tickets", "service_tickets_notes", "company_companies"):
        total, distinct = warehouse_rows(
            pipeline, f"SELECT count(*), count(DISTINCT id) FROM connectwise.{table}"
        )[0]
        assert total == distinct, table
    assert _count(pipeline, "service_tickets_notes") == _notes(sb)
    assert warehouse_rows(
        pipeline, "SELECT name FROM connectwise.company_companies WHERE id = %s", new_company["id"]
    ) == [("Wh New Co",)]
    rows = warehouse_rows(
        pipeline,
        "SELECT id, value FROM connectwise.service_tickets__custom_fields WHERE record_id = %s",
        tickets[10],
    )
    assert len(rows) == len(fields) and (changed["id"], changed["value"]) in rows
    assert warehouse_rows(
        pipeline,
        "SELECT count(*) FROM connectwise.company_companies__types WHERE record_id = %s",
        typed,
    ) == [(0,)]
    # the merge's staging copies are emptied after the load, not kept until the next run
    with pipeline.sql_client() as client:
        with client.with_staging_dataset():
            staging = client.fully_qualified_dataset_name()
        for table in ("service_tickets", "service_tickets__custom_fields"):
            assert client.execute_sql(f"SELECT count(*) FROM {staging}.{table}") == [(0,)], table


def test_deleted_records_are_marked_with_their_notes(loaded) -> None:
    sb, pipeline = loaded
    with_notes = [t for t in sb.ids("service/tickets") if sb.ids(NOTES, t)][-2:]
    notes = {n for t in with_notes for n in sb.ids(NOTES, t)}
    for tid in with_notes:
        sb.delete("service/tickets", tid)
    summary = run_sync(pipeline, tables=TABLES, deletes="now", **source_args(sb))
    sweep = {s.table: s for s in summary.deletes}["service_tickets"]
    assert sweep.marked == len(with_notes) and sweep.children == len(notes)
    marked = warehouse_rows(
        pipeline, "SELECT id FROM connectwise.service_tickets WHERE _cw_deleted_at IS NOT NULL"
    )
    assert set(with_notes) <= {r[0] for r in marked}
    marked_notes = warehouse_rows(
        pipeline,
        "SELECT id FROM connectwise.service_tickets_notes WHERE _cw_deleted_at IS NOT NULL",
    )
    assert notes <= {r[0] for r in marked_notes}
    assert summary.mismatches == []
    assert _count(pipeline, "service_tickets", live=True) == sb.count("service/tickets")


def test_count_check_sees_a_delete_until_the_sweep(loaded) -> None:
    sb, pipeline = loaded
    run_sync(pipeline, tables=["company_companies"], deletes="off", **source_args(sb))
    info = sb.info
    client = ConnectWiseClient(
        company_id=info["company_id"],
        public_key=info["public_key"],
        private_key=info["private_key"],
        client_id=info["client_id"],
        base_url=info["base_url"],
    )
    before = {c.table: c.diff for c in verify_counts(pipeline, client, ["company_companies"])}
    assert before == {"company_companies": 0}
    sb.delete("company/companies", sb.ids("company/companies")[-1])
    stale = {c.table: c.diff for c in verify_counts(pipeline, client, ["company_companies"])}
    assert stale == {"company_companies": 1}  # the warehouse has one row the API lost
    run_sync(pipeline, tables=["company_companies"], deletes="now", **source_args(sb))
    after = {c.table: c.diff for c in verify_counts(pipeline, client, ["company_companies"])}
    assert after == {"company_companies": 0}


# -- the CLI against Postgres ------------------------------------------------------------------
def test_cli_run_and_verify_on_postgres(tmp_path) -> None:
    from .test_cli_run import _env, _summary

    dataset = f"cwtest_cli_{uuid.uuid4().hex[:10]}"
    with Sandbox(scale=200, seed=2) as sb:
        env = _env(tmp_path, sb)
        env["DESTINATION__POSTGRES__CREDENTIALS"] = POSTGRES_URL
        common = [
            "--destination",
            "postgres",
            "--dataset",
            dataset,
            "--pipelines-dir",
            str(tmp_path / "state"),
        ]
        try:
            run = subprocess.run(
                [sys.executable, "-m", "cwsync", "run", *common, "--resources", "service_tickets"],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=180,
            )
            assert run.returncode == 0, run.stderr
            assert "Traceback" not in run.stderr and "adbc" not in run.stderr
            _, _, tables = _summary(run.stdout)
            assert tables["service_tickets"] == sb.count("service/tickets")
            verify = subprocess.run(
                [sys.executable, "-m", "cwsync", "verify", *common],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert verify.returncode == 0, verify.stdout + verify.stderr
            assert "1 of 1 tables match" in verify.stdout
        finally:
            drop_postgres_dataset(dataset)

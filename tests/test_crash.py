"""Crash safety: ``kill -9`` a real ``cwsync run`` during extract, normalize or load, run
again, and the warehouse holds exactly what an uninterrupted run gives."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from cwsync.sandbox import Sandbox
from pipelines.sync import run_sync

from .conftest import duckdb_pipeline, duckdb_rows, source_args

TABLES = "service_tickets,service_tickets_notes,time_entries,company_companies"
CHECKED = ["service_tickets", "service_tickets_notes", "time_entries", "company_companies"]


def _env(sb: Sandbox) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOURCES__")}
    info = sb.info
    for key in ("company_id", "public_key", "private_key", "client_id", "base_url"):
        env[f"SOURCES__CONNECTWISE__{key.upper()}"] = info[key]
    env["SOURCES__CONNECTWISE__PAGE_SIZE"] = "100"
    env["SOURCES__CONNECTWISE__REQUESTS_PER_SECOND"] = "0"
    env["RUNTIME__LOG_LEVEL"] = "WARNING"
    return env


def _cmd(workdir: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "cwsync",
        "run",
        "--resources",
        TABLES,
        "--duckdb-file",
        str(workdir / "wh.duckdb"),
        "--pipelines-dir",
        str(workdir / "state"),
        "--no-verify",
    ]


def _stage_seen(workdir: Path, stage: str) -> bool:
    """True once the pipeline has a load package in ``stage`` (normalize / load)."""
    root = workdir / "state" / "cwsync"
    if stage == "normalize":
        folder = root / "normalize" / "extracted"
    else:
        folder = root / "load" / "normalized"
    return folder.exists() and any(folder.iterdir())


def _run_and_kill(sb: Sandbox, workdir: Path, phase: str) -> bool:
    """Start ``cwsync run`` and SIGKILL it in ``phase``; False when it finished first."""
    mark = len(sb.requests)
    proc = subprocess.Popen(
        _cmd(workdir), env=_env(sb), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if phase == "extract" and len(sb.requests) - mark >= 40:
                break
            if phase in ("normalize", "load") and _stage_seen(workdir, phase):
                break
            time.sleep(0.005)
        if proc.poll() is not None:
            return False
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        return True
    finally:
        if proc.poll() is None:
            proc.kill()


def _finish(sb: Sandbox, workdir: Path) -> None:
    done = subprocess.run(_cmd(workdir), env=_env(sb), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def _snapshot(workdir: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(workdir / "wh.duckdb"), read_only=True) as db:
        out = {}
        for table in CHECKED:
            out[table] = db.execute(
                f"SELECT id, _info__last_updated FROM connectwise.{table} ORDER BY id"
            ).fetchall()
        out["custom_fields"] = db.execute(
            "SELECT record_id, id, value FROM connectwise.service_tickets__custom_fields "
            "ORDER BY 1, 2"
        ).fetchall()
        return out


@pytest.fixture(scope="module")
def tenant():
    with Sandbox(scale=2000, seed=21) as sb:
        sb.clock.freeze("2026-06-01T12:00:00Z")
        yield sb


@pytest.fixture(scope="module")
def reference(tenant, tmp_path_factory) -> dict[str, list[tuple]]:
    workdir = tmp_path_factory.mktemp("reference")
    _finish(tenant, workdir)
    return _snapshot(workdir)


@pytest.mark.parametrize("phase", ["extract", "normalize", "load"])
def test_killed_run_then_rerun_equals_uninterrupted(tenant, reference, tmp_path, phase) -> None:
    killed = _run_and_kill(tenant, tmp_path, phase)
    assert killed, f"the run finished before it could be killed in {phase}"
    _finish(tenant, tmp_path)
    got = _snapshot(tmp_path)
    for table, rows in reference.items():
        assert len(got[table]) == len(rows), table  # nothing lost, nothing doubled
        assert got[table] == rows, table


def test_killed_incremental_run_does_not_skip_changes(tenant, tmp_path) -> None:
    _finish(tenant, tmp_path)
    tenant.clock.advance(120)
    changed = tenant.ids("time/entries")[::7]
    for rid in changed:
        tenant.update("time/entries", rid, {"notes": "after the crash"})
    _run_and_kill(tenant, tmp_path, "load")  # a small change set may finish first
    _finish(tenant, tmp_path)
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as db:
        got = db.execute(
            "SELECT count(*) FROM connectwise.time_entries WHERE notes = 'after the crash'"
        ).fetchone()[0]
        dupes = db.execute(
            "SELECT count(*) - count(DISTINCT id) FROM connectwise.time_entries"
        ).fetchone()[0]
    assert got == len(changed) and dupes == 0


def test_a_package_left_pending_is_finished_and_the_run_still_syncs(tmp_path, fresh_sandbox):
    """dlt's run() loads a pending package and returns without extracting: run_sync
    finishes the leftover first, then syncs, so nothing is silently skipped."""
    from sources.connectwise import connectwise_source

    sb = fresh_sandbox
    pipeline = duckdb_pipeline(tmp_path)
    leftover = connectwise_source(tables=["service_priorities"], **source_args(sb))
    pipeline.extract(leftover, loader_file_format="parquet")
    pipeline.normalize()
    assert pipeline.has_pending_data
    summary = run_sync(pipeline, tables=["service_tickets"], **source_args(sb))
    assert not pipeline.has_pending_data
    assert summary.changed.get("service_tickets") == sb.count("service/tickets")
    assert duckdb_rows(pipeline, "SELECT count(*) FROM connectwise.service_priorities") == [
        (sb.count("service/priorities"),)
    ]


@pytest.mark.parametrize("refusals", [1, 2])
def test_a_load_out_of_the_memory_cap_is_finished_one_job_at_a_time(
    tmp_path, fresh_sandbox, monkeypatch, refusals: int
) -> None:
    """DuckDB's memory cap is shared by the load jobs running at once; when a job runs
    out of it beside the others, the run gives up on the load at once (no retries in
    the same database: see out_of_memory), opens the database again and finishes the
    load one job at a time; a job that runs out again there is loaded with the database
    not held (each job's close frees its memory). Every row is loaded once."""
    import duckdb as duckdb_module
    from dlt.destinations.impl.duckdb.sql_client import DuckDbSqlClient

    real = DuckDbSqlClient.execute_sql
    refused: list[str | None] = []

    def capped(self, sql, *args, **kwargs):  # type: ignore[no-untyped-def]
        loads_time_entries = sql.startswith("INSERT") and '."time_entries"' in sql
        if loads_time_entries and len(refused) < refusals:
            refused.append(os.environ.get("LOAD__WORKERS"))
            raise duckdb_module.OutOfMemoryException(
                "Out of Memory Error: could not allocate block of size 256.0 KiB (test)"
            )
        return real(self, sql, *args, **kwargs)

    monkeypatch.setattr(DuckDbSqlClient, "execute_sql", capped)
    sb = fresh_sandbox
    pipeline = duckdb_pipeline(tmp_path)
    workers = os.environ.get("LOAD__WORKERS")
    summary = run_sync(pipeline, tables=["time_entries", "service_tickets"], **source_args(sb))
    # the first refusal beside other jobs, the second (if any) with the job alone
    assert refused == [workers, "1"][:refusals]
    assert os.environ.get("LOAD__WORKERS") == workers
    assert "LOAD__RAISE_ON_MAX_RETRIES" not in os.environ
    assert not pipeline.has_pending_data
    assert summary.changed["time_entries"] == sb.count("time/entries")
    assert summary.changed["service_tickets"] == sb.count("service/tickets")
    assert duckdb_rows(
        pipeline, "SELECT count(*), count(DISTINCT id) FROM connectwise.time_entries"
    ) == [(sb.count("time/entries"),) * 2]


def test_a_merge_whose_delete_ran_out_of_memory_is_finished_in_a_reopened_database(
    tmp_path, fresh_sandbox, monkeypatch
) -> None:
    """What DuckDB 2.0 does when a merge's DELETE runs out of the memory cap: the rows it
    had marked stay marked by its aborted transaction, so every retry of the merge fails
    with "Conflict on tuple deletion" until the database is opened again. The run
    reopens the file and finishes the load one job at a time; every row is there once.
    (The emulation below keys "until reopened" on the database instance itself: an
    in-memory catalog attached to it lives exactly as long as it does.)"""
    import duckdb as duckdb_module
    from dlt.destinations.impl.duckdb.sql_client import DuckDbSqlClient

    real = DuckDbSqlClient.execute_sql
    failures: list[str] = []

    def marked(client) -> bool:  # type: ignore[no-untyped-def]
        rows = client._conn.execute(
            "SELECT count(*) FROM duckdb_databases() WHERE database_name = 'cw_oom_marks'"
        ).fetchone()
        return bool(rows and rows[0])

    def delete_out_of_memory(self, sql, *args, **kwargs):  # type: ignore[no-untyped-def]
        if sql.startswith("DELETE") and '."time_entries"' in sql:
            if not failures:
                self._conn.execute("ATTACH ':memory:' AS cw_oom_marks")
                failures.append("out of memory")
                raise duckdb_module.OutOfMemoryException(
                    "Out of Memory Error: could not allocate block of size 4.0 KiB (test)"
                )
            if marked(self):
                failures.append("conflict")
                raise duckdb_module.TransactionException(
                    "TransactionContext Error: Conflict on tuple deletion!"
                )
        return real(self, sql, *args, **kwargs)

    sb = fresh_sandbox
    pipeline = duckdb_pipeline(tmp_path)
    tables = ["time_entries", "service_tickets"]
    run_sync(pipeline, tables=tables, **source_args(sb))  # the first sync appends
    changed = sb.ids("time/entries")[:3]
    for rid in changed:
        sb.update("time/entries", rid, {"notes": "changed again"})
    monkeypatch.setattr(DuckDbSqlClient, "execute_sql", delete_out_of_memory)
    summary = run_sync(pipeline, tables=tables, **source_args(sb))
    # the load failed on it, and the load of the rest ran in a database opened afresh
    assert failures[0] == "out of memory" and "conflict" not in failures
    assert not pipeline.has_pending_data
    assert summary.changed["time_entries"] == len(changed)
    assert duckdb_rows(
        pipeline, "SELECT count(*), count(DISTINCT id) FROM connectwise.time_entries"
    ) == [(sb.count("time/entries"),) * 2]
    assert duckdb_rows(
        pipeline, "SELECT count(*) FROM connectwise.time_entries WHERE notes = 'changed again'"
    ) == [(len(changed),)]

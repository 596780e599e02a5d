"""A run opens its DuckDB file once: dlt's per-job connections share one held database
(``pipelines.duckdb_hold``), and the file is free again when the run returns."""

from __future__ import annotations

import duckdb
import pytest

from cwsync.sandbox import Sandbox
from pipelines.duckdb_hold import HeldDuckDB
from pipelines.sync import run_sync

from .conftest import duckdb_pipeline, duckdb_rows, source_args

MARKER = "cwsync_test_opened"  # an in-memory catalog: lives exactly as long as the database


def _count_opens(monkeypatch: pytest.MonkeyPatch, path: str) -> list[int]:
    """Spy on ``duckdb.connect``: one entry per time ``path`` was opened as a database
    (not handed out again from DuckDB's cache of open databases)."""
    real = duckdb.connect
    opened: list[int] = []

    def connect(database: str = ":memory:", *args, **kwargs):  # type: ignore[no-untyped-def]
        conn = real(database, *args, **kwargs)
        if str(database) == path:
            rows = conn.execute(
                "SELECT count(*) FROM duckdb_databases() WHERE database_name = ?", [MARKER]
            ).fetchone()
            if not rows or not rows[0]:
                conn.execute(f"ATTACH ':memory:' AS {MARKER}")
                opened.append(1)
        return conn

    monkeypatch.setattr(duckdb, "connect", connect)
    return opened


def test_a_run_opens_its_duckdb_file_once(tmp_path, monkeypatch) -> None:
    tables = ["service_tickets", "time_entries", "company_companies"]
    with Sandbox(scale=400, seed=5) as sb:
        pipeline = duckdb_pipeline(tmp_path)
        path = str(tmp_path / "cwtest.duckdb")
        run_sync(pipeline, tables=tables, **source_args(sb))
        sb.update("service/tickets", sb.ids("service/tickets")[0], {"summary": "changed"})
        sb.update("time/entries", sb.ids("time/entries")[0], {"notes": "changed"})
        opened = _count_opens(monkeypatch, path)
        summary = run_sync(pipeline, tables=tables, **source_args(sb))
        monkeypatch.undo()
    # the changed rows went through dlt's load jobs (parquet into staging, merge) …
    assert summary.changed["service_tickets"] == 1 and summary.changed["time_entries"] == 1
    assert (
        summary.load_info is not None
        and len(summary.load_info.load_packages[0].jobs["completed_jobs"]) >= 4
    )
    # … which each took a connection of their own, all to the one open database
    assert opened == [1]
    # and the file is checkpointed and released: a read-only open (another configuration,
    # which DuckDB refuses while the file is open in this process) sees the change
    assert duckdb_rows(
        pipeline, "SELECT count(*) FROM connectwise.service_tickets WHERE summary = 'changed'"
    ) == [(1,)]


def test_the_checkpoint_runs_beside_the_reads_after_the_load(tmp_path, monkeypatch) -> None:
    import threading

    import pipelines.sync as sync

    seen: list[int] = []
    real = sync.drop_stale_list_rows

    def after_the_load(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(len(started))  # checkpoints started so far
        return real(*args, **kwargs)

    monkeypatch.setattr(sync, "drop_stale_list_rows", after_the_load)
    started: list[int] = []
    real_start = HeldDuckDB.start_checkpoint

    def start(self):  # type: ignore[no-untyped-def]
        started.append(1)
        return real_start(self)

    monkeypatch.setattr(HeldDuckDB, "start_checkpoint", start)
    with Sandbox(scale=400, seed=5) as sb:
        pipeline = duckdb_pipeline(tmp_path)
        run_sync(pipeline, tables=["service_tickets"], **source_args(sb))
        assert not any(t.name == "cw-checkpoint" for t in threading.enumerate())
        sb.update("service/tickets", sb.ids("service/tickets")[0], {"summary": "changed"})
        run_sync(pipeline, tables=["service_tickets"], **source_args(sb))
        # finished when the run returns, the file released and holding the change
        assert not any(t.name == "cw-checkpoint" for t in threading.enumerate())
    assert started == [1, 1]
    assert seen == [1, 2]  # each started before the reads after its load
    assert duckdb_rows(
        pipeline, "SELECT count(*) FROM connectwise.service_tickets WHERE summary = 'changed'"
    ) == [(1,)]


class _FailingCursor:
    def execute(self, sql: str) -> None:
        raise duckdb.IOException("No space left on device")

    def close(self) -> None:
        pass


class _Connection:
    closed = False

    def cursor(self) -> _FailingCursor:
        return _FailingCursor()

    def close(self) -> None:
        self.closed = True


def test_a_failed_background_checkpoint_fails_the_run() -> None:
    held = HeldDuckDB(_Connection())
    held.start_checkpoint()
    with pytest.raises(duckdb.IOException, match="No space left"):
        held.finish_checkpoint()
    held.finish_checkpoint()  # reported once


def test_the_file_is_not_closed_under_a_running_checkpoint(tmp_path, monkeypatch) -> None:
    import time

    from pipelines.duckdb_hold import duckdb_held_open

    events: list[str] = []

    class SlowCursor(_FailingCursor):
        def execute(self, sql: str) -> None:
            time.sleep(0.3)
            events.append(sql)

    class Connection(_Connection):
        def cursor(self) -> SlowCursor:
            return SlowCursor()

        def close(self) -> None:
            events.append("close")

    pipeline = duckdb_pipeline(tmp_path)
    monkeypatch.setattr(duckdb, "connect", lambda *a, **k: Connection())
    with duckdb_held_open(pipeline) as held:
        assert held is not None
        held.start_checkpoint()
    assert events == ["CHECKPOINT", "close"]


def test_the_load_runs_duckdb_queries_on_the_cores_shared_by_its_jobs(
    tmp_path, monkeypatch
) -> None:
    import os

    import pipelines.sync as sync

    seen: list[tuple] = []
    real = sync.drop_stale_list_rows

    def after_the_load(pipeline, *args, **kwargs):  # type: ignore[no-untyped-def]
        with pipeline.sql_client() as sql:
            seen.append(tuple(sql.execute_sql("SELECT current_setting('threads')")[0]))
        return real(pipeline, *args, **kwargs)

    monkeypatch.setattr(sync, "drop_stale_list_rows", after_the_load)
    with Sandbox(scale=400, seed=5) as sb:
        pipeline = duckdb_pipeline(tmp_path)
        run_sync(pipeline, tables=["service_tickets"], **source_args(sb))
    workers = int(os.environ["LOAD__WORKERS"])
    expected = sync.duckdb_threads(workers)
    assert seen == [(expected,)]
    assert expected == max(1, len(os.sched_getaffinity(0)) // workers)
    assert sync.duckdb_threads(1) >= sync.duckdb_threads(64) == 1
    assert sync.duckdb_threads("not a number") == sync.duckdb_threads(sync.DUCKDB_LOAD_WORKERS)


def test_a_first_sync_loads_under_the_smaller_append_cap(tmp_path, monkeypatch) -> None:
    """A load that only appends (every table's first sync) runs under DuckDB's smaller
    cap; a load that merges (the next run), under the default one; the configuration is
    put back after the load either way."""
    from dlt.destinations.impl.duckdb.sql_client import DuckDbSqlClient

    import pipelines.sync as sync

    caps: list[str] = []
    real = DuckDbSqlClient.execute_sql

    def loading(self, sql, *args, **kwargs):  # type: ignore[no-untyped-def]
        if sql.startswith("INSERT") and '."service_tickets"' in sql:
            caps.append(self._conn.execute("SELECT current_setting('memory_limit')").fetchone()[0])
        return real(self, sql, *args, **kwargs)

    monkeypatch.setattr(DuckDbSqlClient, "execute_sql", loading)
    with Sandbox(scale=400, seed=5) as sb:
        pipeline = duckdb_pipeline(tmp_path)
        run_sync(pipeline, tables=["service_tickets"], **source_args(sb))
        config = pipeline.destination_client().config.credentials.global_config
        assert config["memory_limit"] == sync.DUCKDB_MEMORY_LIMIT
        sb.update("service/tickets", sb.ids("service/tickets")[0], {"summary": "merged"})
        run_sync(pipeline, tables=["service_tickets"], **source_args(sb))

    def mib(limit: str) -> str:  # how DuckDB shows a limit given in MB
        tenths = int(limit.removesuffix("MB")) * 1000**2 * 10 // 1024**2  # DuckDB truncates
        return f"{tenths / 10:.1f} MiB"

    assert caps == [mib(sync.DUCKDB_APPEND_MEMORY_LIMIT), mib(sync.DUCKDB_MEMORY_LIMIT)]


def test_parquet_for_a_duckdb_file_is_written_uncompressed(tmp_path) -> None:
    """The extract's parquet files for a DuckDB file are written without compression (they
    are read from this disk and deleted); other destinations keep dlt's default (snappy)."""
    import glob
    import os

    import dlt
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipelines.sync import is_local_duckdb

    from .conftest import postgres_pipeline

    @dlt.resource(name="rows")
    def rows():  # type: ignore[no-untyped-def]
        yield pa.table({"id": list(range(100)), "name": ["x" * 20] * 100})

    def codecs(pipeline) -> set[str]:  # type: ignore[no-untyped-def]
        pipeline.extract(rows(), loader_file_format="parquet")
        files = glob.glob(f"{pipeline.working_dir}/**/rows.*.parquet", recursive=True)
        assert files
        return {pq.ParquetFile(f).metadata.row_group(0).column(0).compression for f in files}

    duck = duckdb_pipeline(tmp_path, name="cw_plain_parquet")
    assert is_local_duckdb(duck)
    assert codecs(duck) == {"UNCOMPRESSED"}
    elsewhere = postgres_pipeline(tmp_path, name="cw_snappy_parquet")
    assert not is_local_duckdb(elsewhere)
    assert "CW_SNAPPY_PARQUET__DATA_WRITER__COMPRESSION" not in os.environ
    assert codecs(elsewhere) == {"SNAPPY"}

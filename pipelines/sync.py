"""Running the ConnectWise source through a dlt pipeline and summarising the run.

Used by ``cwsync run`` and ``cwsync demo`` (and the Airflow DAGs): builds the pipeline
for a destination, picks parquet files where the destination loads them, runs (with
``refresh="drop_sources"`` for a full re-sync) and reports rows per table, requests and
seconds.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import dlt
import orjson
from dlt.common.pipeline import LoadInfo
from dlt.destinations.sql_client import SqlClientBase
from dlt.pipeline.exceptions import PipelineStepFailed

from sources.connectwise import connectwise_source, table_conditions
from sources.connectwise.client import ConnectWiseClient, RequestStats
from sources.connectwise.first_look import FirstLook
from sources.connectwise.settings import BY_TABLE, DATASET_NAME

from .duckdb_hold import HeldDuckDB, duckdb_held_open, is_local_duckdb
from .duckdb_merge import install as install_duckdb_merge
from .endpoints import default_tables, register_from_config
from .memory import tune_process_memory
from .reconcile import (
    CountCheck,
    DeleteSweep,
    client_of,
    drop_stale_list_rows,
    loaded_tables,
    source_schema,
    sweep_deletes,
    verify_counts,
)
from .run_caches import run_caches
from .schema_reads import read_schemas_when_changed
from .views import build_views, drop_views

PIPELINE_NAME = "cwsync"
DUCKDB_MEMORY_LIMIT = "192MB"
# a load that only appends (every table's first sync) streams parquet into the tables: it
# needs less of DuckDB's memory than merges do (see appends_cap)
DUCKDB_APPEND_MEMORY_LIMIT = "128MB"
DUCKDB_LOAD_WORKERS = 4
log = logging.getLogger("cwsync.pipeline")


@dataclass
class RunSummary:
    """What one sync did."""

    rows: dict[str, int]  # table -> rows loaded in this run (nested tables included)
    requests: int
    retries: int
    records: int  # records read from the API
    seconds: float
    load_info: LoadInfo | None = field(default=None, repr=False)
    # setup tables that were replaced with the same content as before
    unchanged: frozenset[str] = frozenset()
    counts: list[CountCheck] = field(default_factory=list)  # API /count vs warehouse
    deletes: list[DeleteSweep] = field(default_factory=list)
    sync_requests: int = 0  # requests of the sync itself (without count check and sweeps)
    views: list[str] = field(default_factory=list)  # BI views refreshed after the load
    views_error: str | None = None  # why the views could not be refreshed
    tables: list[str] = field(default_factory=list)  # the tables this run synced
    started_at: datetime | None = None
    baselines: list[str] = field(default_factory=list)  # first sweep records: nothing swept

    @property
    def mismatches(self) -> list[CountCheck]:
        return [c for c in self.counts if c.diff]

    @property
    def changed(self) -> dict[str, int]:
        """Tables whose content changed, with the rows loaded into them."""
        return {
            t: n
            for t, n in sorted(self.rows.items())
            if n and not t.startswith("_dlt") and t.split("__", 1)[0] not in self.unchanged
        }

    def lines(self) -> list[str]:
        changed = self.changed
        sweep_only = not self.tables  # run_deletes: no table synced
        if sweep_only:
            out = [
                f"delete sweep of {len(self.deletes)} tables ({self.requests:,} requests, "
                f"{self.retries:,} retries, {self.seconds:.1f}s)"
            ]
            if self.baselines:
                out.append(f"deletes: first sweep record (no sweep): {', '.join(self.baselines)}")
        else:
            extra = self.requests - self.sync_requests if self.sync_requests else 0
            checks = f" + {extra:,} to check counts and deletes" if extra else ""
            out = [
                f"{len(changed)} tables changed, {sum(changed.values()):,} rows "
                f"({self.records:,} records read in {self.sync_requests or self.requests:,} "
                f"requests{checks}, {self.retries:,} retries, {self.seconds:.1f}s)"
            ]
        width = max((len(t) for t in changed), default=0)
        out += [f"  {t:<{width}}  {n:>9,}" for t, n in changed.items()]
        for sweep in self.deletes:
            if sweep.refused:
                out.append(f"deletes: {sweep.refused}")
            elif sweep.marked or sweep.unmarked or sweep_only:
                out.append(
                    f"deletes: {sweep.table}: {sweep.marked:,} rows gone"
                    f" (+{sweep.children:,} per-parent rows), {sweep.unmarked:,} back"
                )
        if self.counts:
            out += count_table(self.counts, only=set(changed) | {c.table for c in self.mismatches})
        if self.views_error:
            out.append(f"views: not refreshed: {self.views_error}")
        return out


def count_table(checks: Sequence[CountCheck], only: set[str] | None = None) -> list[str]:
    """The API's count next to the warehouse's live rows, with the difference."""
    shown = [c for c in checks if only is None or c.table in only]
    bad = [c for c in checks if c.diff]
    head = f"counts: {len(checks) - len(bad)} of {len(checks)} tables match the API" + (
        f", {len(bad)} DIFFER" if bad else ""
    )
    if not shown:
        return [head]
    width = max(len(c.table) for c in shown)
    lines = [head, f"  {'table':<{width}}  {'api':>9}  {'warehouse':>9}  {'diff':>6}"]
    lines += [f"  {c.table:<{width}}  {c.api:>9,}  {c.warehouse:>9,}  {c.diff:>+6,}" for c in shown]
    return lines


def make_pipeline(
    destination: Any = "duckdb",
    *,
    dataset_name: str = DATASET_NAME,
    pipeline_name: str = PIPELINE_NAME,
    pipelines_dir: str | None = None,
    duckdb_path: str | None = None,
    duckdb_memory_limit: str | None = DUCKDB_MEMORY_LIMIT,
) -> dlt.Pipeline:
    """A dlt pipeline for ``destination`` (a name or a dlt destination object); for
    DuckDB, ``duckdb_path`` names the database file and ``duckdb_memory_limit`` caps the
    memory DuckDB may use while loading (None: DuckDB's default, 80% of RAM)."""
    install_duckdb_merge()  # DuckDB merges delete by IN (see duckdb_merge.py)
    if destination == "duckdb" and duckdb_path:
        from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

        credentials = DuckDbCredentials(duckdb_path)
        # 4 load jobs at a time, not dlt's 20: as fast on DuckDB (it parallelizes each
        # INSERT itself) and ~60 MB less resident memory at the medium tenant's load
        os.environ.setdefault("LOAD__WORKERS", str(DUCKDB_LOAD_WORKERS))
        config: dict[str, Any] = {"threads": duckdb_threads(os.environ["LOAD__WORKERS"])}
        if duckdb_memory_limit:
            # DuckDB takes up to 80% of RAM by default while merging; capped, it spills to
            # disk: the medium tenant's load peaks at ~380 MB RSS with 128 MB (~460 MB
            # with 256 MB, ~1.3 GB uncapped) and takes as long. The cap is shared by the
            # jobs running at once: at 128 MB, one large-tenant incremental run in two
            # ran out of it (a 20k-row merge beside others); none did in six at 192 or
            # 256 MB. A load that still runs out finishes one job at a time.
            config["memory_limit"] = duckdb_memory_limit
        credentials.global_config = config
        destination = dlt.destinations.duckdb(credentials)
    # a loaded package keeps its folder and state, not its files: kept, the full load of
    # the large benchmark tenant left 530 MB of parquet behind, and every run adds more
    os.environ.setdefault("LOAD__DELETE_COMPLETED_JOBS", "true")
    # rows come as Arrow tables (parquet); each carries its load id, which the list-table
    # cleanup (reconcile.drop_stale_list_rows) and the run history rely on
    os.environ.setdefault("NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID", "true")
    pipeline = dlt.pipeline(
        pipeline_name=pipeline_name,
        destination=destination,
        dataset_name=dataset_name,
        pipelines_dir=pipelines_dir,
    )
    read_schemas_when_changed(pipeline)  # not the whole schema file on every access
    if is_local_duckdb(pipeline):
        # the parquet files go from this disk into DuckDB and are deleted: written without
        # compression (dlt's default is snappy), for this pipeline only (a bucket-staged
        # destination uploads its files, and pays for their size)
        os.environ.setdefault(f"{pipeline_name.upper()}__DATA_WRITER__COMPRESSION", "none")
    return pipeline


@contextmanager
def appends_cap(held: HeldDuckDB | None, appends: bool) -> Iterator[bool]:
    """For a load that only ``appends`` (a first sync, a full refresh), DuckDB's memory
    cap is :data:`DUCKDB_APPEND_MEMORY_LIMIT` within the block, when the pipeline has the
    default cap (:data:`DUCKDB_MEMORY_LIMIT`); yields whether it was lowered.

    Appends stream parquet into the tables; merges need the larger cap (a delete joins the
    changed ids with the table; at 160 MB most large incremental replays ran out of it).
    The large benchmark tenant's first sync peaks at 446-469 MB of resident memory (the
    extract's peak) instead of 499-514 MB, for a slower load: 15.7-17.0 s against 13.2 s
    (bench/RESULTS.md)."""
    if not appends or held is None or held.settings.get("memory_limit") != DUCKDB_MEMORY_LIMIT:
        yield False
        return
    held.set_memory_limit(DUCKDB_APPEND_MEMORY_LIMIT)
    try:
        yield True
    finally:
        held.set_memory_limit(DUCKDB_MEMORY_LIMIT)


def duckdb_threads(load_workers: str | int) -> int:
    """Threads of each DuckDB query while ``load_workers`` load jobs run at once: the
    process's cores shared among them, at least one.

    DuckDB gives each query a thread per core; with 4 jobs at once on 2 cores that was 8
    threads contending for 2 cores. One thread a query there: the large benchmark
    tenant's full load 34.4 s -> 23.9 s (peak RSS 501 -> 463 MB), an incremental run's
    load 2.05-2.38 s -> 1.81-1.98 s (4 replays each, alternated)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    try:
        workers = max(1, int(load_workers))
    except (TypeError, ValueError):
        workers = DUCKDB_LOAD_WORKERS
    return max(1, cores // workers)


def file_format_for(pipeline: dlt.Pipeline) -> str | None:
    """``parquet`` when the destination loads it (DuckDB does, ~6x faster than inserts).

    Postgres takes parquet only through the ADBC driver; without it dlt would fall back to
    inserts file by file with a warning each, so the destination's default is kept."""
    caps = pipeline.destination.capabilities()
    if "parquet" not in caps.supported_loader_file_formats:
        return None
    if pipeline.destination.destination_name == "postgres":
        try:
            import adbc_driver_postgresql  # noqa: F401
        except ImportError:
            return None
    return "parquet"


def empty_merge_staging(
    pipeline: dlt.Pipeline, tables: Sequence[str], sql: SqlClientBase | None = None
) -> None:
    """Empty the staging copies of ``tables`` (those that have one) after the load.

    A merge loads the changed rows into the staging dataset first, and dlt leaves them
    there until the next load of the same table. Emptied at once, DuckDB's checkpoint does
    not write them to the file (~1 s of the large benchmark tenant's incremental run) and
    they take no room in the warehouse. (dlt's own ``truncate_staging_dataset`` fails the
    load after a full refresh, which drops the staging dataset.) ``sql``: an open client
    of the pipeline to use (one is opened otherwise)."""
    if not tables:
        return
    with client_of(pipeline, sql) as client, client.with_staging_dataset():
        present = client.execute_sql(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            client.dataset_name,
        )
        staged = sorted(set(tables) & {row[0] for row in present or []})
        if staged:
            client.truncate_tables(*staged)


def recover_interrupted(pipeline: dlt.Pipeline) -> list[str]:
    """Clean up after a run killed while dlt committed a normalized package.

    dlt renames the normalized package into place and then deletes the extracted one; a
    run killed between the two leaves a half-deleted extracted copy that the next run would
    try to normalize again (and fail on). The committed copy holds all the data, so the
    stale extracted copy is removed. Returns the load ids cleaned.
    """
    root = Path(pipeline.working_dir)
    extracted = root / "normalize" / "extracted"
    cleaned: list[str] = []
    if not extracted.is_dir():
        return cleaned
    for package in extracted.iterdir():
        committed = [root / "load" / stage / package.name for stage in ("normalized", "loaded")]
        if package.is_dir() and any(p.exists() for p in committed):
            shutil.rmtree(package, ignore_errors=True)
            cleaned.append(package.name)
            log.warning("removed the stale copy of interrupted load package %s", package.name)
    return cleaned


@run_caches()  # for the whole run: its steps and what runs after the load
def run_sync(
    pipeline: dlt.Pipeline,
    *,
    tables: Sequence[str] | None = None,
    start_date: str | None = None,
    full_refresh: bool = False,
    client: ConnectWiseClient | None = None,
    verify: bool = True,
    deletes: str = "auto",
    hard_deletes: bool = False,
    force_deletes: bool = False,
    max_delete_share: float = 0.10,
    record_run: bool = True,
    views: bool = True,
    stats: RequestStats | None = None,
    schema_name: str | None = None,
    **source_args: Any,
) -> RunSummary:
    """Sync the tenant (configured through dlt, or ``client``) into ``pipeline``.

    After the load: the delete sweep for the tables that are due (``deletes``: ``auto`` =
    per the schedule, ``now`` = every synced table, ``off``; :func:`run_deletes` runs it
    alone), the count check (``verify``), one row in ``_cwsync_runs`` (``record_run``) and
    the BI views (``views``, see :mod:`pipelines.views`). ``stats`` counts the run's
    requests (its ``observer`` sees each one: the progress display). ``schema_name`` runs
    the source under another schema (and state) name than ``connectwise``: pipelines that
    load parts of the tenant into one dataset in parallel each keep their own.
    """
    if deletes not in ("auto", "now", "off"):
        raise ValueError("deletes must be auto, now or off")
    tune_process_memory()  # before the sync (or DuckDB) starts its threads
    with duckdb_held_open(pipeline) as held:  # one checkpoint after the load, not one per job
        started_at = datetime.now(timezone.utc)
        started = time.perf_counter()
        kwargs: dict[str, Any] = dict(source_args)
        if start_date:
            kwargs["start_date"] = start_date
        # the Arrow types of the tables' pages, kept for the next run (local, like the state)
        kwargs.setdefault(
            "page_types_dir",
            os.path.join(pipeline.working_dir, "page_types", schema_name or "connectwise"),
        )
        # the records re-read at the cursor, when many (local too; see boundary_store.py)
        kwargs.setdefault(
            "boundary_dir",
            os.path.join(pipeline.working_dir, "boundary", schema_name or "connectwise"),
        )
        # an incremental run reads every table's first page as the extract starts, and the
        # tables with nothing new end there (see sources/connectwise/first_look.py)
        look = None if full_refresh else kwargs.setdefault("first_look", FirstLook())
        source, stats, filters = _prepare_source(tables, client, stats, schema_name, kwargs)
        before = (stats.requests, stats.retries, stats.records)
        selected = list(source.resources.keys())
        finish_pending(pipeline)
        drop_list_table_keys(pipeline, source.name)  # also brings the schema from the warehouse
        if look is not None:
            look.start(source, pipeline.state.get("sources", {}).get(source.name, {}))
        # tables with rows before this run (the others are loaded for the first time: no
        # list row can be left behind in them)
        had_rows = loaded_tables(pipeline) if not full_refresh else set(selected)
        appends_only = full_refresh or not had_rows.intersection(selected)  # first syncs
        if full_refresh and views:
            drop_views(pipeline)  # Postgres will not drop tables that views depend on
        try:
            # held open, a job that ran out of memory cannot succeed on a retry (see
            # out_of_memory): the load gives up at once and is finished below
            with (
                _environment(LOAD__RAISE_ON_MAX_RETRIES="1" if held is not None else None),
                appends_cap(held, appends_only),
            ):
                info = pipeline.run(
                    source,
                    loader_file_format=file_format_for(pipeline),
                    refresh="drop_sources" if full_refresh else None,
                )
            normalized = pipeline.last_trace.last_normalize_info
        except PipelineStepFailed as exc:
            if exc.step != "load" or not out_of_memory(exc):
                raise
            normalized = pipeline.last_trace.last_normalize_info
            info = finish_out_of_memory(pipeline, held)
        rows = dict(normalized.row_counts) if normalized else {}
        if look is not None and look.unchanged:
            log.info("%d tables unchanged since their cursor: not extracted", len(look.unchanged))
        newest_load = max(info.loads_ids) if info is not None and info.loads_ids else None
        loaded = [t for t, n in rows.items() if n]
        # one client (and schema read) for the cleanup; none when nothing was loaded
        with pipeline.sql_client() if loaded else nullcontext() as sql:
            empty_merge_staging(pipeline, loaded, sql)
            if held is not None and loaded:
                held.start_checkpoint()  # the reads below run beside it
            drop_stale_list_rows(
                pipeline,
                [t for t in selected if rows.get(t)],
                through=newest_load,
                first_loads=[t for t in selected if t not in had_rows],
                sql=sql,
            )
        source_state = pipeline.state.get("sources", {}).get(source.name, {})
        summary = RunSummary(
            rows=rows,
            requests=stats.requests - before[0],
            retries=stats.retries - before[1],
            records=stats.records - before[2],
            seconds=time.perf_counter() - started,
            load_info=info,
            unchanged=frozenset(source_state.get("replaced_unchanged") or ()),
            tables=selected,
            started_at=started_at,
        )
        api = client or stats.client
        if api is None:  # pragma: no cover - the source always registers its client
            return summary
        if deletes != "off":
            summary.deletes, summary.baselines = sweep_due(
                pipeline,
                api,
                selected,
                now=deletes == "now",
                hard=hard_deletes,
                force=force_deletes,
                max_share=max_delete_share,
                at=started_at,
                filters=filters,
            )
        if verify:
            bound = start_date or dlt.config.get("sources.connectwise.start_date", str)
            summary.counts = verify_counts(
                pipeline, api, selected, start_date=bound, filters=filters
            )
        summary.seconds = time.perf_counter() - started
        summary.sync_requests = summary.requests
        summary.requests = stats.requests - before[0]
        if record_run:
            record(pipeline, summary)
        if views:
            refresh_views(pipeline, summary, incremental=not full_refresh)
        return summary  # leaving the block waits for the checkpoint and raises its error


def run_deletes(
    pipeline: dlt.Pipeline,
    *,
    tables: Sequence[str] | None = None,
    now: bool = False,
    client: ConnectWiseClient | None = None,
    hard_deletes: bool = False,
    force_deletes: bool = False,
    max_delete_share: float = 0.10,
    record_run: bool = True,
    stats: RequestStats | None = None,
    schema_name: str | None = None,
    **source_args: Any,
) -> RunSummary:
    """Only the delete sweep, without an incremental extract: of the ``tables`` that are
    due (``now``: all of them), as :func:`run_sync` runs it after a load, with the client
    configured as for a sync. A pipeline without local state first takes its state and
    schema from the destination. The summary's ``tables`` (those synced) is empty;
    ``record_run`` logs it like a run (``_cwsync_runs``, ``_cwsync_deletes``)."""
    started_at = datetime.now(timezone.utc)
    started = time.perf_counter()
    source, stats, filters = _prepare_source(tables, client, stats, schema_name, source_args)
    before = (stats.requests, stats.retries, stats.records)
    selected = list(source.resources.keys())
    finish_pending(pipeline)
    pipeline.sync_destination()  # the state and schema the last run left in the destination
    api = client or stats.client
    summary = RunSummary(rows={}, requests=0, retries=0, records=0, seconds=0.0)
    summary.started_at = started_at
    if api is not None:
        summary.deletes, summary.baselines = sweep_due(
            pipeline,
            api,
            selected,
            now=now,
            hard=hard_deletes,
            force=force_deletes,
            max_share=max_delete_share,
            at=started_at,
            filters=filters,
        )
    summary.requests = stats.requests - before[0]
    summary.retries = stats.retries - before[1]
    summary.records = stats.records - before[2]
    summary.seconds = time.perf_counter() - started
    if record_run and (summary.deletes or summary.baselines):
        record(pipeline, summary)
    return summary


def _prepare_source(
    tables: Sequence[str] | None,
    client: ConnectWiseClient | None,
    stats: RequestStats | None,
    schema_name: str | None,
    kwargs: dict[str, Any],
) -> tuple[Any, RequestStats, dict[str, str]]:
    """The source for ``tables`` (under ``schema_name``), the request counters its client
    updates (``stats.client`` is that client) and the tables' user filters."""
    register_from_config()  # extra_endpoints declared in configuration
    if tables is None:
        tables = default_tables()  # every endpoint not in disabled_tables
    filters = table_conditions(
        kwargs.get("conditions") or dlt.config.get("sources.connectwise.conditions", dict)
    )
    if stats is None:
        stats = client.stats if client is not None else RequestStats()
    elif client is not None:
        client.stats = stats
    source = connectwise_source(tables=tables, client=client, stats=stats, **kwargs)
    if schema_name and schema_name != source.name:
        source = source.clone(with_name=schema_name)
    return source, stats, filters


def out_of_memory(exc: BaseException) -> bool:
    """Whether a failed load ran out of the destination's memory (DuckDB's cap), or failed
    on what that left behind: DuckDB refuses every later delete of the rows a delete
    that ran out of memory had marked ("Conflict on tuple deletion") until the database
    is opened again, so dlt's retries of the merge job end with that message (see
    ``HeldDuckDB.close``). No two jobs of a load delete the same rows otherwise."""
    seen: set[int] = set()
    error: BaseException | None = exc
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        text = str(error)
        if (
            "Out of Memory Error" in text
            or "Conflict on tuple deletion" in text
            or type(error).__name__ == "OutOfMemoryException"
        ):
            return True
        error = error.__cause__ or error.__context__
    return False


@contextmanager
def _environment(**values: str | None) -> Iterator[None]:
    """Set the environment variables given (None: leave as is) for the block."""
    before = {key: os.environ.get(key) for key, value in values.items() if value is not None}
    os.environ.update({key: value for key, value in values.items() if value is not None})
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def finish_out_of_memory(pipeline: dlt.Pipeline, held: HeldDuckDB | None) -> LoadInfo:
    """Finish a load that ran out of DuckDB's memory cap with several jobs at once.

    Held open, the database is closed and opened again (the checkpoint writes and frees
    what the load kept in memory, and clears the rows a failed delete left marked) and
    the rest of the load runs one job at a time in it, each job with the whole cap:
    about a second more than the load alone (the large benchmark tenant's incremental
    run), where dlt's five retries of the job, each failing on the marked rows, and then
    a job-by-job load with a checkpoint per job took ~4.5 s more. A load that runs out
    again finishes job by job without the database held (each job's close checkpoints
    it)."""
    log.warning("the load ran out of the warehouse's memory cap; finishing it one job at a time")
    if held is not None:
        held.close()
        held.open()
        try:
            with _environment(LOAD__WORKERS="1", LOAD__RAISE_ON_MAX_RETRIES="1"):
                return pipeline.load()
        except PipelineStepFailed as exc:
            if exc.step != "load" or not out_of_memory(exc):
                raise
        held.close()
    try:
        return load_one_job_at_a_time(pipeline)
    finally:
        if held is not None:
            held.open()


def load_one_job_at_a_time(pipeline: dlt.Pipeline) -> LoadInfo:
    """Finish a load that ran out of DuckDB's memory cap with several jobs at once (a big
    table's merge beside others) by loading its remaining jobs one at a time, each with
    the whole cap (with the database not held open, each job's close checkpoints what it
    loaded and frees that memory). Slower (dlt's sequential loop), so only as the
    fallback."""
    with _environment(LOAD__WORKERS="1"):
        return pipeline.load()


def finish_pending(pipeline: dlt.Pipeline) -> None:
    """Load what an interrupted or failed run left: dlt's ``run()`` would load it and
    return without extracting anything new."""
    recover_interrupted(pipeline)
    if pipeline.has_pending_data:
        log.warning("finishing the load left by an interrupted run first")
        pipeline.normalize()
        pipeline.load()


def drop_list_table_keys(pipeline: dlt.Pipeline, schema_name: str) -> list[str]:
    """Clear the primary key that list tables (``<table>__custom_fields``…) of schemas
    written by earlier versions hold: ``(record_id, id or _idx)``. dlt keeps a stored key
    that the hints no longer give, and deletes on "primary key OR merge key": a join that
    DuckDB and Postgres cannot hash, out of DuckDB's memory cap at millions of rows. List
    tables merge on ``record_id`` alone. The schema comes from the destination when the
    pipeline has none locally (a fresh Airflow task). Returns the tables changed."""
    if schema_name not in pipeline.schema_names and pipeline.destination is not None:
        pipeline.sync_destination()
    if schema_name not in pipeline.schema_names:
        return []
    schema = pipeline.schemas[schema_name]
    changed = []
    for name, table in schema.tables.items():
        parent = name.split("__", 1)[0]
        if parent == name or parent not in BY_TABLE or table.get("parent"):
            continue
        keyed = [c for c in table.get("columns", {}).values() if c.get("primary_key")]
        for column in keyed:
            column.pop("primary_key")
        if keyed:
            changed.append(name)
    if changed:
        pipeline.schemas.save_schema(schema)
        log.info("list tables merge on record_id alone now: %s", ", ".join(changed))
    return changed


def sweep_due(
    pipeline: dlt.Pipeline,
    api: ConnectWiseClient,
    tables: Sequence[str],
    *,
    now: bool = False,
    hard: bool = False,
    force: bool = False,
    max_share: float = 0.10,
    at: datetime | None = None,
    filters: dict[str, str] | None = None,
) -> tuple[list[DeleteSweep], list[str]]:
    """The delete sweep of those ``tables`` that are due (``now``: every one): (sweeps,
    tables seen for the first time, whose load is the baseline and needs no sweep)."""
    due, baselines = _deletes_due(pipeline, tables, now=now)
    if not due:
        return [], baselines
    sweeps = sweep_deletes(
        pipeline, api, due, hard=hard, max_share=max_share, force=force, at=at, filters=filters
    )
    return sweeps, baselines


def refresh_views(pipeline: dlt.Pipeline, summary: RunSummary, incremental: bool = True) -> None:
    """Rebuild the BI views (see ``build_views``); a failure is reported in the summary,
    the load stands."""
    try:
        summary.views = build_views(pipeline, incremental=incremental).views
    except Exception as exc:  # the data is loaded; say why the views are stale
        log.warning("views not refreshed: %s", exc, exc_info=log.isEnabledFor(logging.INFO))
        summary.views_error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def deletes_schedule() -> tuple[float, dict[str, float]]:
    """Hours between delete sweeps: the default and per-table overrides (0 = never),
    from ``sources.connectwise.deletes_every_hours`` and ``…deletes_every_hours_by_table``."""
    default = dlt.config.get("sources.connectwise.deletes_every_hours", float)
    overrides = dlt.config.get("sources.connectwise.deletes_every_hours_by_table", dict)
    return (24.0 if default is None else float(default)), {
        str(k): float(v) for k, v in (overrides or {}).items()
    }


# A sweep is due a little before its interval is over: the runs that check it start a few
# seconds or minutes earlier or later from one time to the next (a faster sync before
# them, a busy scheduler); without the slack a daily sweep checked by hourly runs would
# slip to every 25 hours whenever a run starts a moment early.
SWEEP_SLACK_SECONDS = 600.0
SWEEP_SLACK_SHARE = 0.1  # of the interval, when that is less than SWEEP_SLACK_SECONDS


def sweep_interval_over(elapsed_seconds: float, every_hours: float) -> bool:
    """Whether a sweep ``elapsed_seconds`` ago is old enough for one every ``every_hours``."""
    interval = every_hours * 3600
    slack = min(SWEEP_SLACK_SECONDS, SWEEP_SLACK_SHARE * interval)
    return elapsed_seconds >= interval - slack


def _last_sweeps(pipeline: dlt.Pipeline) -> dict[str, datetime]:
    if "_cwsync_deletes" not in loaded_tables(pipeline):
        return {}
    with pipeline.sql_client() as sql:
        name = sql.make_qualified_table_name("_cwsync_deletes")
        rows = sql.execute_sql(
            f"SELECT table_name, max(swept_at) FROM {name} WHERE refused IS NULL GROUP BY 1"
        )
    out = {}
    for table, when in rows:
        if isinstance(when, str):
            when = datetime.fromisoformat(when.replace("Z", "+00:00"))
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        out[str(table)] = when
    return out


def _deletes_due(
    pipeline: dlt.Pipeline, selected: Sequence[str], *, now: bool
) -> tuple[list[str], list[str]]:
    """(tables to sweep now, tables loaded for the first time: their baseline)."""
    candidates = [t for t in selected if t in BY_TABLE and BY_TABLE[t].incremental]
    present = loaded_tables(pipeline)
    candidates = [t for t in candidates if t in present]
    if now:
        return candidates, []
    default, overrides = deletes_schedule()
    last = _last_sweeps(pipeline)
    due, baselines = [], []
    current = datetime.now(timezone.utc)
    for table in candidates:
        every = overrides.get(table, default)
        if every <= 0:
            continue
        if table not in last:
            baselines.append(table)  # just backfilled: complete as of now
        elif sweep_interval_over((current - last[table]).total_seconds(), every):
            due.append(table)
    return due, baselines


def record(pipeline: dlt.Pipeline, summary: RunSummary) -> None:
    """Append this run to ``_cwsync_runs`` (and its sweeps and baselines to
    ``_cwsync_deletes``); a sweep on its own that swept nothing (only first records of
    tables: baselines) is no run."""
    started_at = summary.started_at or datetime.now(timezone.utc)
    sweeps, baselines = summary.deletes, summary.baselines
    finished = datetime.now(timezone.utc)
    load_id = (
        summary.load_info.loads_ids[0]
        if summary.load_info and summary.load_info.loads_ids
        else None
    )
    mismatches = [c for c in summary.counts if c.diff]
    run_row = {
        "load_id": load_id,
        "started_at": started_at,
        "finished_at": finished,
        "seconds": round(summary.seconds, 3),
        "requests": summary.requests,
        "retries": summary.retries,
        "records": summary.records,
        "rows": sum(summary.changed.values()),
        "tables_changed": len(summary.changed),
        "changed": orjson.dumps(summary.changed).decode(),
        "counts": orjson.dumps(
            {c.table: {"api": c.api, "warehouse": c.warehouse} for c in summary.counts}
        ).decode(),
        "count_mismatches": len(mismatches),
        "deleted_marked": sum(s.marked for s in sweeps),
        "tables": orjson.dumps(list(summary.tables)).decode(),  # synced, changed or not
    }
    sweep_rows = [
        {
            "table_name": s.table,
            "swept_at": started_at,
            "live": s.live,
            "marked": s.marked,
            "unmarked": s.unmarked,
            "children": s.children,
            "refused": s.refused,
            "baseline": False,
        }
        for s in sweeps
    ] + [
        {
            "table_name": t,
            "swept_at": started_at,
            "live": None,
            "marked": 0,
            "unmarked": 0,
            "children": 0,
            "refused": None,
            "baseline": True,
        }
        for t in baselines
    ]
    resources = []
    if summary.tables or sweeps:
        resources.append(
            dlt.resource(
                [run_row],
                name="_cwsync_runs",
                write_disposition="append",
                columns={
                    "started_at": {"data_type": "timestamp"},
                    "finished_at": {"data_type": "timestamp"},
                },
            )
        )
    if sweep_rows:
        resources.append(
            dlt.resource(
                sweep_rows,
                name="_cwsync_deletes",
                write_disposition="append",
                columns={
                    "swept_at": {"data_type": "timestamp"},
                    "live": {"data_type": "bigint", "nullable": True},
                    "refused": {"data_type": "text", "nullable": True},
                },
            )
        )
    if resources:
        pipeline.run(resources, schema=source_schema(pipeline))

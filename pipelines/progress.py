"""Progress of a run, per table: live bars on a terminal, periodic lines in logs, and the
closing per-table summary (new, updated, deleted, total, requests, retries, seconds).

The source reports every request, retry and page through ``RequestStats.observer`` with
the API path; :class:`Tracker` maps paths to tables (``service/tickets/42/notes`` ->
``service_tickets_notes``, ``…/count`` counts as a request of its table) and keeps the
counters. Totals come from the API's ``/count`` (records changed since the table's cursor
for incremental tables), fetched in the background while the run starts.

The display is ``rich`` (already installed with dlt): a bar per active table with
records/total, records/s and ETA, redrawn in place. Without a terminal (cron, CI, Airflow
logs) it prints one line every ``every`` seconds instead; ``quiet`` prints nothing.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO, Any

from sources.connectwise.settings import BY_TABLE, all_endpoints

_ID_SEGMENT = re.compile(r"/\d+(?=/|$)")


def table_of_path(path: str) -> str | None:
    """The table an API path reads: ``service/tickets`` -> ``service_tickets``,
    ``service/tickets/42/notes`` -> ``service_tickets_notes``, ``…/count`` -> its table."""
    text = path.split("?", 1)[0].strip("/").lower()
    if text.endswith("/count"):
        text = text[: -len("/count")]
    endpoints = all_endpoints()
    top = {e.path.lower(): e.table for e in endpoints if not e.is_child}
    if text in top:
        return top[text]
    generic = _ID_SEGMENT.sub("/{id}", text)
    return next((e.table for e in endpoints if e.is_child and e.path.lower() == generic), None)


@dataclass
class TableProgress:
    table: str
    records: int = 0
    requests: int = 0
    retries: int = 0
    total: int | None = None  # from /count; None while unknown (or per-parent tables)
    first: float | None = None  # monotonic time of its first request
    last: float | None = None  # …and of its latest page (the read, without later checks)

    @property
    def seconds(self) -> float:
        return (self.last - self.first) if self.first is not None and self.last else 0.0


@dataclass
class Tracker:
    """Counters per table, fed by the source's observer hook (thread-safe)."""

    tables: dict[str, TableProgress] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    started: float = field(default_factory=time.monotonic)
    closed: bool = False  # the run is over: no more totals to fetch

    def get(self, table: str) -> TableProgress:
        with self.lock:
            if table not in self.tables:
                self.tables[table] = TableProgress(table)
            return self.tables[table]

    def observe(self, path: str, requests: int, retries: int, records: int) -> None:
        table = table_of_path(path)
        if table is None:
            return
        now = time.monotonic()
        with self.lock:
            tp = self.tables.get(table)
            if tp is None:
                tp = self.tables[table] = TableProgress(table)
            tp.requests += requests
            tp.retries += retries
            tp.records += records
            if tp.first is None:
                tp.first = now
            if not requests and not retries:  # a page was read (maybe empty)
                tp.last = now

    def set_total(self, table: str, total: int) -> None:
        self.get(table).total = total

    def snapshot(self) -> list[TableProgress]:
        with self.lock:
            return [TableProgress(**vars(t)) for t in self.tables.values()]


def cursor_of(pipeline: Any, table: str) -> str | None:
    """The incremental cursor (``lastUpdated``) a table's next run starts from."""
    try:
        resources = pipeline.state["sources"]["connectwise"]["resources"]
        return resources[table]["incremental"]["_info.lastUpdated"]["last_value"]
    except (KeyError, TypeError, AttributeError):
        return None


def fetch_totals(
    tracker: Tracker,
    client: Any,
    tables: Sequence[str],
    cursors: dict[str, str | None],
    filters: dict[str, str] | None = None,
    workers: int = 2,
) -> None:
    """Set each top-level table's total from ``/count`` (records changed since its cursor);
    errors leave a total unknown (the run itself reports real failures)."""
    from pipelines.reconcile import api_count
    from sources.connectwise.conditions import all_of, updated_since

    def one(table: str) -> None:
        if tracker.closed:
            return
        endpoint = BY_TABLE[table]
        cursor = cursors.get(table) if endpoint.incremental else None
        conditions = all_of(
            (filters or {}).get(table), updated_since(cursor, endpoint.cursor) if cursor else None
        )
        try:
            tracker.set_total(table, api_count(client, endpoint, conditions))
        except Exception:  # a total is a nicety; the sync reports real failures
            return

    wanted = [t for t in tables if t in BY_TABLE and not BY_TABLE[t].is_child]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cw-total") as pool:
        list(pool.map(one, wanted))


# -- display -------------------------------------------------------------------------------
def _eta(tp: TableProgress) -> str:
    if not tp.total or not tp.records or tp.seconds <= 0 or tp.records >= tp.total:
        return ""
    rate = tp.records / tp.seconds
    return f", ETA {_duration((tp.total - tp.records) / rate)}"


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def progress_line(tracker: Tracker) -> str:
    """One line for logs: records so far and the busiest unfinished tables."""
    tables = tracker.snapshot()
    records = sum(t.records for t in tables)
    elapsed = max(1e-6, time.monotonic() - tracker.started)
    busy = sorted(
        (t for t in tables if t.total is None or t.records < t.total),
        key=lambda t: -(t.last or 0),
    )[:3]
    parts = [
        f"{t.table} {t.records:,}" + (f"/{t.total:,}" if t.total is not None else "") + _eta(t)
        for t in busy
    ]
    return (
        f"progress: {records:,} records from {len(tables)} tables in {_duration(elapsed)} "
        f"({records / elapsed:,.0f}/s)" + (f"; {'; '.join(parts)}" if parts else "")
    )


class Display:
    """Draws a tracker while a run goes: ``live`` (rich bars), ``lines`` or ``quiet``."""

    def __init__(
        self,
        tracker: Tracker,
        mode: str = "auto",
        *,
        every: float = 30.0,
        stream: IO[str] | None = None,
    ) -> None:
        self.tracker = tracker
        self.stream = stream or sys.stderr
        if mode == "auto":
            mode = "live" if getattr(self.stream, "isatty", lambda: False)() else "lines"
        if mode not in ("live", "lines", "quiet"):
            raise ValueError("mode must be auto, live, lines or quiet")
        self.mode = mode
        self.every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Display:
        if self.mode != "quiet":
            target = self._live if self.mode == "live" else self._lines
            self._thread = threading.Thread(target=target, name="cw-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _lines(self) -> None:
        while not self._stop.wait(self.every):
            print(progress_line(self.tracker), file=self.stream, flush=True)

    def _live(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        columns = (
            TextColumn("{task.description:<32}"),
            BarColumn(bar_width=28),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>9}"),
            TimeRemainingColumn(),
        )
        console = Console(file=self.stream)
        tasks: dict[str, Any] = {}
        with Progress(*columns, console=console, transient=True, refresh_per_second=4) as bars:
            while not self._stop.wait(0.25):
                now = time.monotonic()
                for tp in self.tracker.snapshot():
                    running = now - tp.first if tp.first is not None else 0.0
                    rate = f"{tp.records / running:,.0f}/s" if running > 0.05 else ""
                    done = tp.total is not None and tp.records >= tp.total
                    if tp.table not in tasks:
                        tasks[tp.table] = bars.add_task(tp.table, total=tp.total, rate=rate)
                    bars.update(
                        tasks[tp.table],
                        completed=tp.records,
                        total=tp.total,
                        rate=rate,
                        visible=not done,
                    )


# -- the closing summary -------------------------------------------------------------------
@dataclass
class TableRow:
    table: str
    new: int
    updated: int
    deleted: int
    total: int | None
    requests: int
    retries: int
    seconds: float


def live_counts(pipeline: Any, tables: Iterable[str]) -> dict[str, tuple[int, int]]:
    """(rows, live rows) per loaded table; tables not loaded yet are left out."""
    from pipelines.reconcile import loaded_tables
    from sources.connectwise import DELETED_AT

    present = loaded_tables(pipeline)
    wanted = [t for t in tables if t in present]
    if not wanted:
        return {}
    schema = pipeline.schemas["connectwise"]
    out: dict[str, tuple[int, int]] = {}
    with pipeline.sql_client() as sql:
        for table in wanted:
            name = sql.make_qualified_table_name(table)
            if DELETED_AT in schema.get_table_columns(table):
                rows, live = sql.execute_sql(
                    f"SELECT count(*), count(*) - count({DELETED_AT}) FROM {name}"
                )[0]
            else:
                rows = live = sql.execute_sql(f"SELECT count(*) FROM {name}")[0][0]
            out[table] = (int(rows), int(live))
    return out


def summary_rows(
    tables: Sequence[str],
    before: dict[str, tuple[int, int]],
    after: dict[str, tuple[int, int]],
    loaded: dict[str, int],
    deleted: dict[str, int],
    tracker: Tracker,
    unchanged: Iterable[str] = (),
) -> list[TableRow]:
    """Per table: rows new (not there before), updated (loaded, already there), deleted
    (marked by this run's sweep), live total, and the table's requests/retries/seconds."""
    progress = {t.table: t for t in tracker.snapshot()}
    same = set(unchanged)
    rows = []
    for table in tables:
        tp = progress.get(table, TableProgress(table))
        n_loaded = 0 if table in same else loaded.get(table, 0)
        new = max(0, after.get(table, (0, 0))[0] - before.get(table, (0, 0))[0])
        new = min(new, n_loaded)
        rows.append(
            TableRow(
                table=table,
                new=new,
                updated=max(0, n_loaded - new),
                deleted=deleted.get(table, 0),
                total=after[table][1] if table in after else None,
                requests=tp.requests,
                retries=tp.retries,
                seconds=tp.seconds,
            )
        )
    return rows


def format_summary(rows: Sequence[TableRow], only_active: bool = True) -> list[str]:
    """The closing table; by default only tables that changed or needed a retry."""
    shown = [r for r in rows if not only_active or r.new or r.updated or r.deleted or r.retries]
    if not shown:
        return ["no table changed"]
    width = max(5, *(len(r.table) for r in shown))
    head = (
        f"{'table':<{width}}  {'new':>8}  {'updated':>8}  {'deleted':>7}  {'total':>9}  "
        f"{'requests':>8}  {'retries':>7}  {'seconds':>7}"
    )
    lines = [head]
    for r in shown:
        total = f"{r.total:,}" if r.total is not None else "-"
        lines.append(
            f"{r.table:<{width}}  {r.new:>8,}  {r.updated:>8,}  {r.deleted:>7,}  {total:>9}  "
            f"{r.requests:>8,}  {r.retries:>7,}  {r.seconds:>7.1f}"
        )
    if len(shown) > 1:
        lines.append(
            f"{'all':<{width}}  {sum(r.new for r in shown):>8,}  "
            f"{sum(r.updated for r in shown):>8,}  {sum(r.deleted for r in shown):>7,}  "
            f"{sum(r.total or 0 for r in shown):>9,}  {sum(r.requests for r in rows):>8,}  "
            f"{sum(r.retries for r in rows):>7,}  {'':>7}"
        )
    return lines

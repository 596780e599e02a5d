"""A first look at every incremental table as the extract starts: unchanged tables end there.

An incremental run reads ``lastUpdated >= [cursor]`` from every table. On most runs most
tables hold nothing new: their first (and only) page is empty, or holds just the records
the previous run remembered at its cursor, unchanged (the inclusive cursor reads them
again; see :class:`.watermark.Boundary`). Walked the usual way, such a table still costs
its read into Arrow, its boundary digests, its normalizer, its state written again. A
run of the large benchmark tenant with nothing new took 1.84-1.95 s that way.

So :meth:`FirstLook.start` reads the first page of every incremental table that has a
cursor, a few at a time under the client's request budget, exactly as the table's walk
would read it (same conditions, page size, ``Accept`` version, forward-only), while the
extract runs: the requests go out at once and dlt starts on the tables in the same
order. A table is **unchanged** when that page is short (the walk would end with it) and
each of its records is one the previous run remembered, with the same content digest
(the digest the extract computes: of the record's bytes in the body, links cut). The
walk of an unchanged table ends before it starts (:meth:`FirstLook.judged_unchanged`):
no rows, its state untouched, the per-parent tables under it fed nothing. That is safe:
the cursor stays where it was, so the next run reads the same records again, or more,
never fewer.

The other tables' first pages are handed to their walks (:meth:`FirstLook.take`): no
page is read twice, the run makes the requests it made before. A page is known to be a
change from its headers already, when its ``next`` link names a last record the previous
run did not remember (or it is bigger than those records could be): its walk goes on
without waiting to judge the body. Up to :data:`HELD_BYTES` of bodies read ahead and not
yet taken are held for their walks; past that, a walk reads its first page again (one
request more).

The looks do not hold up the extract. When the unchanged tables were taken out of the
source before the extract started, the medium benchmark tenant's incremental run waited
4.8 s for its 112 first pages at 150 ms a request: 9.2-10.2 s in all, 8.2-8.8 s this way
(3 runs each, alternated; the same within noise with no latency).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson

from .boundary_store import BoundaryStore
from .client import ConnectWiseClient, Page
from .conditions import all_of, updated_since
from .paginator import first_query
from .settings import BY_TABLE, Endpoint
from .watermark import content_digest, span_digests

log = logging.getLogger("cwsync.connectwise")
_NEXT_PAGE_ID = re.compile(r'[?&]pageId=(\d+)[^>]*>\s*;\s*rel="?next"?', re.IGNORECASE)

CURSOR_PATH = "_info.lastUpdated"
HELD_BYTES = 48 * 1024 * 1024  # first pages held for their walks, bodies summed
# the most a record takes in a body, to tell a page bigger than the records remembered at
# the cursor from its Content-Length (a bigger record: its table is read as changed)
RECORD_BYTES_MAX = 64 * 1024
_RECORD_START = b'{"id":'  # every record starts so; nested references too (an upper bound)


def kept_cursor(resource_state: Mapping[str, Any]) -> str | None:
    """The cursor an incremental table's previous run left in its resource state (None:
    none yet, a first sync), where ``dlt.sources.incremental`` keeps it."""
    kept = (resource_state.get("incremental") or {}).get(CURSOR_PATH) or {}
    return kept.get("last_value")


def walk_params(
    endpoint: Endpoint,
    resource_state: Mapping[str, Any],
    start: str | None,
    user_filter: str | None,
    advance: bool,
) -> tuple[str | None, dict[str, Any]]:
    """(the cursor an incremental table's walk starts from, the walk's parameters), from
    its resource state: the one rule the extract and the first look share."""
    cursor = kept_cursor(resource_state) or start
    since = updated_since(cursor, endpoint.cursor) if cursor and advance else None
    conditions = all_of(user_filter, since)
    return cursor, ({"conditions": conditions} if conditions else {})


@dataclass
class _Table:
    endpoint: Endpoint
    version: str | None
    user_filter: str | None


@dataclass
class _Look:
    table: str
    spec: _Table
    params: dict[str, Any]
    remembered: Mapping[str, bytes]  # what the previous run remembered at the cursor


@dataclass
class _Pending:
    params: dict[str, Any]  # the walk's parameters the page was read with
    future: Future[tuple[Page | None, bool]]  # (the page, whether unchanged)
    decided: threading.Event  # set when the look can tell changed from unchanged
    changed: threading.Event  # set when the headers told it changed (before the body)


def _last_id(link: str | None) -> int | None:
    """The id of a forward-only page's last record, from its ``next`` link ("the
    following pageId in the header will be the last Id you got"); None when the link
    does not say, or names no record (an empty page repeats the pageId asked for)."""
    found = _NEXT_PAGE_ID.search(link or "")
    last = int(found.group(1)) if found else 0
    return last if last > 0 else None


def _unchanged_bound(remembered: int) -> int:
    """The most bytes a page of ``remembered`` records can take and still be unchanged:
    :data:`RECORD_BYTES_MAX` each, and the brackets (a bigger page holds other records)."""
    return 2 + remembered * RECORD_BYTES_MAX


class FirstLook:
    """The first pages of a run's incremental tables, read as the extract starts.

    :func:`.connectwise_source` registers its tables (``first_look=``); the pipeline calls
    :meth:`start` before running the source; each table's walk asks
    :meth:`judged_unchanged` and, when not, :meth:`take`\\ s its first page."""

    def __init__(self, held_bytes: int = HELD_BYTES) -> None:
        self.held_bytes = held_bytes
        self._tables: dict[str, _Table] = {}
        self._client: ConnectWiseClient | None = None
        self._store: BoundaryStore | None = None
        self._start: str | None = None
        self._page_size = 0
        self._looks: dict[str, _Pending] = {}  # table -> its look, until judged or taken
        self._lock = threading.Lock()
        self._held = 0  # bytes of the bodies read and not yet taken by their walks
        self._left_out: list[str] = []

    @property
    def unchanged(self) -> list[str]:
        """The tables judged unchanged so far in this run (not extracted)."""
        with self._lock:
            return sorted(self._left_out)

    def register(
        self,
        client: ConnectWiseClient,
        store: BoundaryStore,
        *,
        start: str | None,
        page_size: int,
        tables: Mapping[str, tuple[str | None, str | None]],
    ) -> None:
        """The source's client, boundary store, start date and page size, and its
        incremental tables: ``{table: (api version, user filter)}``."""
        self._client, self._store = client, store
        self._start, self._page_size = start, page_size
        self._tables = {
            table: _Table(BY_TABLE[table], version, user_filter)
            for table, (version, user_filter) in tables.items()
            if BY_TABLE[table].forward_only
        }

    def start(self, source: Any, source_state: Mapping[str, Any]) -> int:
        """Start reading the first page of every registered table that ``source``
        selects and that has a cursor in ``source_state`` (the state the extract will run
        with), a few at a time under the client's request budget; returns how many. The
        extract does not wait for them: each table's walk waits for its own."""
        client, store = self._client, self._store
        if client is None or store is None:
            return 0
        selected = set(source.resources.selected.keys())
        states = source_state.get("resources") or {}
        looks: list[_Look] = []
        for table, spec in self._tables.items():
            state = states.get(table) or {}
            if table not in selected or not kept_cursor(state):
                continue  # a first sync reads everything anyway
            cursor, params = walk_params(spec.endpoint, state, self._start, spec.user_filter, True)
            remembered = store.read(table, state.get("boundary"), cursor)
            looks.append(_Look(table, spec, params, remembered))
        if not looks:
            return 0
        workers = max(1, min(len(looks), client.budget.max_in_flight))
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cw-first")
        try:
            for look in looks:  # in the order the extract takes the tables up
                decided, changed = threading.Event(), threading.Event()
                future = pool.submit(self._look, look, client, decided, changed)
                self._looks[look.table] = _Pending(dict(look.params), future, decided, changed)
        finally:
            pool.shutdown(wait=False)  # its threads end with the last look
        return len(looks)

    def judged_unchanged(self, table: str, params: Mapping[str, Any]) -> bool:
        """Whether ``table``'s first page, read for a walk with ``params``, holds nothing
        new: then its walk ends there, the table not extracted and its state untouched.
        Waits until the look can tell (a page known changed from its headers: no longer);
        False when there was no look, or it failed (the walk reads the page, or raises)."""
        with self._lock:
            pending = self._looks.get(table)
        if pending is None or pending.params != dict(params):
            return False
        pending.decided.wait()
        if pending.changed.is_set():
            return False  # told by the headers: the body is the walk's to wait for
        future = pending.future
        if future.exception() is not None or not future.result()[1]:  # ends right after
            return False
        with self._lock:
            self._looks.pop(table, None)
            self._left_out.append(table)
        return True

    def take(self, table: str, params: Mapping[str, Any]) -> Page | None:
        """The first page read for ``table``'s walk with ``params`` (once; None when
        none was read or kept, or it was read with other parameters). Waits for a page
        still on its way; raises what reading it raised."""
        with self._lock:
            pending = self._looks.pop(table, None)
        if pending is None or pending.params != dict(params):
            return None
        page, _ = pending.future.result()
        if page is not None and page.body is not None:
            with self._lock:
                self._held -= len(page.body)
        return page

    def _look(
        self,
        look: _Look,
        client: ConnectWiseClient,
        decided: threading.Event,
        changed: threading.Event,
    ) -> tuple[Page | None, bool]:
        """(the table's first page, whether the table is unchanged); sets ``changed``
        and ``decided`` when the headers show a page too big to be unchanged, ``decided``
        alone at the end. A changed page past :attr:`held_bytes` of bodies not yet taken
        is let go (None): its walk reads it again."""
        bound = _unchanged_bound(len(look.remembered))

        def on_headers(headers: Mapping[str, str]) -> None:
            try:
                length = int(headers.get("Content-Length") or -1)
            except ValueError:
                length = -1
            last = _last_id(headers.get("Link"))
            if length > bound or (last is not None and str(last) not in look.remembered):
                changed.set()
                decided.set()

        try:
            page = client.get_page(
                look.spec.endpoint.path,
                first_query(look.params, self._page_size),
                forward_only=True,
                api_version=look.spec.version,
                on_headers=on_headers,
            )
            same = False
            if not changed.is_set():
                try:
                    same = self._unchanged(page, look.remembered, client.base_url)
                except Exception:  # the page is the walk's to read and judge: a change here
                    log.debug("first look at %s: read as changed", look.table, exc_info=True)
            if same:
                return page, True
            size = len(page.body) if page.body is not None else 0
            with self._lock:
                if self._held + size > self.held_bytes:
                    return None, False  # its walk reads the page again
                self._held += size
            return page, False
        finally:
            decided.set()

    def _unchanged(self, page: Page, remembered: Mapping[str, bytes], api_base: str) -> bool:
        """Whether ``page`` is short and holds only records ``remembered`` as they are."""
        body = page.body
        if body is not None and body.count(_RECORD_START) >= self._page_size:
            return False  # a full page, or one too big to decode here just to tell
        try:
            records = orjson.loads(body) if body is not None else page.records
        except orjson.JSONDecodeError:
            return False  # the walk reads it again and says what is wrong
        if not isinstance(records, list) or len(records) >= self._page_size:
            return False
        ids = [r.get("id") if isinstance(r, dict) else None for r in records]
        if body is not None:  # read here: counted here (a walk taking the page does not again)
            page.read_elsewhere(len(records), ids[0] if ids else None, ids[-1] if ids else None)
        if not records:
            return True
        if any(rid is None or str(rid) not in remembered for rid in ids):
            return False
        # digested as the extract digests them: the record's bytes in the body, links cut
        digests = span_digests(body, ids, range(len(ids)), api_base) if body is not None else None
        if digests is None:
            digests = [content_digest(r, api_base) for r in records]
        return all(
            remembered.get(str(rid)) == digest for rid, digest in zip(ids, digests, strict=True)
        )

"""ConnectWise callbacks: managing the subscriptions and applying the events.

* :func:`register` / :func:`list_callbacks` / :func:`remove` manage the tenant's
  ``system/callbacks`` entries for this receiver's URL; ``register`` is idempotent (an
  entry with the same url, type, level and objectId is kept, not added again).
* :class:`EventProcessor` applies the journaled events every few seconds: a delete is
  confirmed against the API (a ``fields=id`` read of the ids) and marked through
  :func:`pipelines.reconcile.mark_deleted`, the same path as the delete sweep; added and
  updated records are re-read by id (``id in (...)``, batched so that no URL passes
  ``max_url_length``) in one targeted micro-batch of the source, which leaves the
  incremental cursors alone.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import dlt
import requests

from sources.connectwise import table_conditions
from sources.connectwise.client import ConnectWiseClient
from sources.connectwise.conditions import all_of
from sources.connectwise.errors import ApiRequestError, ConfigurationError
from sources.connectwise.paginator import forward_only_pages
from sources.connectwise.settings import BY_TABLE, ENDPOINTS

from .journal import Journal
from .reconcile import loaded_tables, mark_deleted

log = logging.getLogger("cwsync.callbacks")

# callback Type -> the warehouse tables its records live in
TYPE_TABLES: dict[str, tuple[str, ...]] = {
    "ticket": ("service_tickets", "project_tickets"),
    "company": ("company_companies",),
    "contact": ("company_contacts",),
    "project": ("project_projects",),
    "opportunity": ("sales_opportunities",),
    "activity": ("sales_activities",),
    "invoice": ("finance_invoices",),
    "configuration": ("company_configurations",),
}
TYPES = tuple(t.title() for t in TYPE_TABLES)
CALLBACKS_PATH = "system/callbacks"


# -- system/callbacks ---------------------------------------------------------------
def _request(client: ConnectWiseClient, method: str, path: str, **kwargs: Any) -> Any:
    """One write or read of ``system/callbacks`` with the client's auth (no retries:
    these are interactive commands)."""
    headers = client.headers()
    try:
        response = client.session.request(
            method, client.url(path), headers=headers, timeout=30, **kwargs
        )
    except requests.RequestException as exc:
        raise ApiRequestError(
            f"{method} /{path}: cannot reach the API ({type(exc).__name__})"
        ) from None
    if response.status_code in (401, 403):
        raise ConfigurationError(
            f"{method} /{path}: HTTP {response.status_code}: check the API member's keys and "
            "that its security role may manage callbacks (System > Table Setup)"
        )
    if response.status_code >= 400:
        try:
            body = response.json()
            errors = body.get("errors") or []
            detail = "; ".join(str(e.get("message")) for e in errors if isinstance(e, dict))
            message = detail or str(body.get("message") or "")
        except ValueError:
            message = response.text[:200]
        raise ApiRequestError(f"{method} /{path}: HTTP {response.status_code}: {message}")
    if response.status_code == 204 or not response.content:
        return None
    return response.json()


def list_callbacks(client: ConnectWiseClient, url: str | None = None) -> list[dict]:
    """The tenant's callback entries (only those pointing at ``url`` when given)."""
    entries: list[dict] = []
    for page in forward_only_pages(client, CALLBACKS_PATH, {}):
        entries.extend(page.records)
    if url is not None:
        entries = [e for e in entries if str(e.get("url") or "") == url]
    return entries


def _key(entry: dict) -> tuple[str, str, str, int]:
    return (
        str(entry.get("url") or ""),
        str(entry.get("type") or "").lower(),
        str(entry.get("level") or "").lower(),
        int(entry.get("objectId") or 0),
    )


def normalize_types(types: Sequence[str]) -> list[str]:
    """``ticket,Company`` -> ``["Ticket", "Company"]``; unknown types are an error."""
    out: list[str] = []
    for name in types:
        name = name.strip()
        if not name:
            continue
        if name.lower() not in TYPE_TABLES:
            raise ConfigurationError(f"unknown callback type {name!r}: use {', '.join(TYPES)}")
        if name.title() not in out:
            out.append(name.title())
    if not out:
        raise ConfigurationError(f"no callback type given: use {', '.join(TYPES)}")
    return out


@dataclass
class Registration:
    created: list[dict] = field(default_factory=list)
    kept: list[dict] = field(default_factory=list)


def register(
    client: ConnectWiseClient,
    url: str,
    types: Sequence[str],
    *,
    level: str = "Owner",
    object_id: int = 1,
    description: str = "cwsync",
) -> Registration:
    """Subscribe ``url`` to ``types`` at ``level``; entries that already exist (same url,
    type, level, objectId) are kept, not duplicated."""
    check_url(url)
    existing = {_key(e): e for e in list_callbacks(client, url)}
    result = Registration()
    for kind in normalize_types(types):
        entry = {
            "url": url,
            "type": kind,
            "level": level,
            "objectId": object_id,
            "description": description[:100],
            "inactiveFlag": False,
        }
        found = existing.get(_key(entry))
        if found is not None:
            if found.get("inactiveFlag"):
                patch = [{"op": "replace", "path": "inactiveFlag", "value": False}]
                found = _request(client, "PATCH", f"{CALLBACKS_PATH}/{found['id']}", json=patch)
            result.kept.append(found)
            continue
        created = _request(client, "POST", CALLBACKS_PATH, json=entry)
        existing[_key(created)] = created
        result.created.append(created)
    return result


def remove(client: ConnectWiseClient, url: str, types: Sequence[str] | None = None) -> list[dict]:
    """Delete the entries pointing at ``url`` (of ``types`` only, when given)."""
    wanted = {t.lower() for t in normalize_types(types)} if types else None
    removed = []
    for entry in list_callbacks(client, url):
        if wanted is not None and str(entry.get("type") or "").lower() not in wanted:
            continue
        _request(client, "DELETE", f"{CALLBACKS_PATH}/{entry['id']}")
        removed.append(entry)
    return removed


def check_url(url: str) -> None:
    from .webhook import _origin

    origin = _origin(url)
    if origin is None:
        raise ConfigurationError(f"invalid callback url {url!r}: use https://host/path")
    from sources.connectwise.client import is_loopback

    if origin[0] != "https" and not is_loopback(origin[1]):
        raise ConfigurationError(
            f"callback url {url!r} must be https (run the receiver behind a TLS reverse proxy)"
        )


# -- applying events ----------------------------------------------------------------
@contextmanager
def pipeline_lock(pipelines_dir: str, pipeline_name: str) -> Iterator[None]:
    """An exclusive lock on a pipeline's working state, held while a process runs it
    (``cwsync run`` and the micro-batches of ``cwsync webhook`` take turns)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not a POSIX system: no lock
        yield
        return
    folder = Path(pipelines_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f".{pipeline_name}.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def id_batches(
    client: ConnectWiseClient,
    path: str,
    ids: Sequence[int],
    *,
    user_filter: str | None,
    max_url_length: int,
    extra: dict[str, Any] | None = None,
) -> list[list[int]]:
    """Split ``ids`` so that each ``conditions=(user) and (id in (...))`` request URL of
    ``path`` (with paging parameters) stays within ``max_url_length``."""
    base = len(client.url(path))
    params = {"pageSize": 1000, "pageId": 2**31, **(extra or {})}

    def length(chunk: Sequence[int]) -> int:
        cond = all_of(user_filter, f"id in ({','.join(str(i) for i in chunk)})")
        return base + 1 + len(urlencode({"conditions": cond, **params}))

    batches: list[list[int]] = []
    current: list[int] = []
    for rid in sorted(set(ids)):
        if current and length([*current, rid]) > max_url_length:
            batches.append(current)
            current = []
        current.append(rid)
    if current:
        if length(current) > max_url_length:
            raise ConfigurationError(
                f"max_url_length {max_url_length} is too short for one id of {path}"
            )
        batches.append(current)
    return batches


@dataclass
class BatchResult:
    events: int = 0
    refreshed: dict[str, int] = field(default_factory=dict)  # table -> ids re-read
    deleted: dict[str, int] = field(default_factory=dict)  # table -> rows marked
    skipped: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # table -> error (retried later)
    seconds: float = 0.0


class EventProcessor:
    """Applies pending journal events to the warehouse, one micro-batch at a time."""

    def __init__(
        self,
        journal: Journal,
        client: ConnectWiseClient,
        make_pipeline: Callable[[], dlt.Pipeline],
        *,
        interval_seconds: float = 2.0,
        max_url_length: int = 2000,
        max_attempts: int = 20,
        replay_window_seconds: float = 72 * 3600.0,
        hard_deletes: bool = False,
        source_args: dict[str, Any] | None = None,
        tables: Sequence[str] | None = None,
    ) -> None:
        self.journal = journal
        self.client = client
        self.make_pipeline = make_pipeline
        self.interval = interval_seconds
        self.max_url_length = max_url_length
        self.max_attempts = max_attempts
        self.replay_window = replay_window_seconds
        self.hard_deletes = hard_deletes
        self.source_args = dict(source_args or {})
        self.tables = set(tables) if tables else None  # None: every synced table
        self.batches = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="cw-events", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        last_prune = 0.0
        failures = 0
        while not self._stop.is_set():
            wait = self.interval
            try:
                result = self.run_once()
                failures = 0
                for table, error in result.failed.items():
                    log.warning("callbacks for %s will be retried: %s", table, error)
                if result.events:
                    log.info(
                        "applied %d events: refreshed %s, deleted %s (%.1fs)",
                        result.events,
                        result.refreshed or "-",
                        result.deleted or "-",
                        result.seconds,
                    )
            except Exception as exc:  # logged, retried with backoff (API or warehouse down)
                failures += 1
                wait = min(self.interval * 2**failures, 300.0)
                log.warning(
                    "callback batch failed (retry in %.0fs): %s",
                    wait,
                    " ".join(str(exc).split())[:300],
                )
            if time.monotonic() - last_prune > 3600:
                last_prune = time.monotonic()
                self.journal.prune_bodies(self.replay_window)
            self._stop.wait(wait)

    # -- one batch -------------------------------------------------------------------
    def run_once(self) -> BatchResult:
        started = time.perf_counter()
        events = self.journal.pending()
        result = BatchResult(events=len(events))
        if not events:
            return result
        pipeline = self.make_pipeline()
        with pipeline_lock(pipeline.pipelines_dir, pipeline.pipeline_name):
            pipeline = self.make_pipeline()  # re-read state another process may have moved
            present = loaded_tables(pipeline)
            if not present:  # a state kept elsewhere (another machine ran the backfill)
                try:
                    pipeline.sync_destination()
                except Exception:  # nothing loaded yet, or the destination is unreachable
                    pass
                present = loaded_tables(pipeline)
            if self.tables is not None:
                present &= self.tables
            routed: dict[str, dict[str, set[int]]] = {"deleted": {}, "changed": {}}
            skipped: list[int] = []
            touches: dict[int, list[str]] = {}  # event seq -> the tables it touches
            for event in events:
                tables = [t for t in TYPE_TABLES.get(event.type, ()) if t in present]
                if not tables:
                    skipped.append(event.seq)
                    continue
                touches[event.seq] = tables
                kind = "deleted" if event.action == "deleted" else "changed"
                for table in tables:
                    routed[kind].setdefault(table, set()).add(event.record_id)
            self.journal.finish(skipped, "skipped", "table not synced")
            failed: dict[str, str] = {}  # table -> error
            if routed["deleted"]:
                result.deleted = self._apply_deletes(pipeline, routed["deleted"], failed)
            if routed["changed"]:
                result.refreshed = self._refresh(pipeline, routed["changed"], present, failed)
        done = [seq for seq, tables in touches.items() if not failed.keys() & set(tables)]
        self.journal.finish(done, "done")
        for table, error in failed.items():
            seqs = [seq for seq, tables in touches.items() if table in tables]
            self.journal.retry_later(seqs, f"{table}: {error}", self.max_attempts)
        result.skipped = len(skipped)
        result.failed = dict(failed)
        result.seconds = time.perf_counter() - started
        self.batches += 1
        if failed and not done:
            raise ApiRequestError(
                "; ".join(f"{t}: {e}" for t, e in sorted(failed.items()))[:500]
            )  # nothing went through: the loop backs off
        return result

    def _user_filters(self) -> dict[str, str]:
        value = self.source_args.get("conditions") or dlt.config.get(
            "sources.connectwise.conditions", dict
        )
        return table_conditions(value)

    def _live_ids(self, table: str, ids: set[int]) -> set[int]:
        """Of ``ids``, those the API still has (a delete is applied only when confirmed)."""
        endpoint = BY_TABLE[table]
        live: set[int] = set()
        for chunk in id_batches(
            self.client,
            endpoint.path,
            sorted(ids),
            user_filter=None,
            max_url_length=self.max_url_length,
            extra={"fields": "id"},
        ):
            params = {"conditions": f"id in ({','.join(map(str, chunk))})", "fields": "id"}
            for page in forward_only_pages(self.client, endpoint.path, params):
                live.update(r["id"] for r in page.records if isinstance(r.get("id"), int))
        return live

    def _apply_deletes(
        self, pipeline: dlt.Pipeline, by_table: dict[str, set[int]], failed: dict[str, str]
    ) -> dict[str, int]:
        marked: dict[str, int] = {}
        for table, ids in sorted(by_table.items()):
            try:
                gone = sorted(ids - self._live_ids(table, ids))
                if gone:
                    rows, kids = mark_deleted(pipeline, table, gone, hard=self.hard_deletes)
                    marked[table] = rows + kids
            except Exception as exc:  # this table's events retry; the others go on
                failed[table] = _one_line(exc)
        return marked

    def _refresh(
        self,
        pipeline: dlt.Pipeline,
        by_table: dict[str, set[int]],
        present: set[str],
        failed: dict[str, str],
    ) -> dict[str, int]:
        """Re-read the ids of every table in one run per round; when such a run fails,
        each table is tried alone, so one failing table holds up no other."""
        try:
            return self._refresh_together(pipeline, by_table, present)
        except Exception as exc:
            if len(by_table) == 1:
                failed.update({t: _one_line(exc) for t in by_table})
                return {}
        refreshed: dict[str, int] = {}
        for table, ids in sorted(by_table.items()):
            try:
                refreshed.update(self._refresh_together(pipeline, {table: ids}, present))
            except Exception as exc:
                failed[table] = _one_line(exc)
        return refreshed

    def _refresh_together(
        self, pipeline: dlt.Pipeline, by_table: dict[str, set[int]], present: set[str]
    ) -> dict[str, int]:
        from .sync import run_sync

        filters = self._user_filters()
        rounds: dict[str, list[list[int]]] = {
            table: id_batches(
                self.client,
                BY_TABLE[table].path,
                sorted(ids),
                user_filter=filters.get(table),
                max_url_length=self.max_url_length,
            )
            for table, ids in by_table.items()
        }
        refreshed = {table: len(ids) for table, ids in by_table.items()}
        args = {k: v for k, v in self.source_args.items() if k != "conditions"}
        while any(rounds.values()):
            conditions = {}
            for table, chunks in rounds.items():
                if chunks:
                    ids = chunks.pop(0)
                    conditions[table] = all_of(
                        filters.get(table), f"id in ({','.join(map(str, ids))})"
                    )
            tables = list(conditions)
            tables += [
                e.table for e in ENDPOINTS if e.parent_table in conditions and e.table in present
            ]
            _flush_pending(pipeline)
            run_sync(
                pipeline,
                tables=tables,
                client=self.client,
                verify=False,
                deletes="off",
                record_run=False,
                conditions=conditions,
                advance_cursors=False,
                **args,
            )
            trace = pipeline.last_trace
            if trace is None or not any(step.step == "extract" for step in trace.steps):
                raise ApiRequestError("the micro-batch was not extracted (a load was pending)")
        return refreshed


def _flush_pending(pipeline: dlt.Pipeline) -> None:
    """Load what an earlier, failed load left behind: with a package pending, dlt's
    ``run`` loads only that package and does not extract the data it was given."""
    if pipeline.has_pending_data:
        from .sync import recover_interrupted

        recover_interrupted(pipeline)
        pipeline.normalize()
        pipeline.load()


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__

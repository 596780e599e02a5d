"""SQLite storage of the sandbox tenant: one table per collection, JSON bodies.

Each collection table holds ``id INTEGER PRIMARY KEY, parent_id, last_updated, body``;
``body`` is the record exactly as the latest API version returns it (``_href`` links
carry :data:`~cwsync.sandbox.model.BASE_PLACEHOLDER`), so a page is served by joining
stored text, with no per-record JSON work. ``id`` and ``last_updated`` are real,
indexed columns: forward-only sweeps are primary-key range scans (linear in pages) and
``lastUpdated`` conditions use an index. The database is a temporary file by default,
or a file the caller names (kept, and not re-seeded when it already holds a tenant).
"""

from __future__ import annotations

import os
import queue
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import orjson

from .clock import Clock
from .model import NUMBER, Resource

WriteListener = Callable[["WriteEvent"], None]


@dataclass(frozen=True)
class WriteEvent:
    """One committed change: what the audit trail and callbacks are fed from."""

    resource: Resource
    action: str  # "added" | "updated" | "deleted"
    id: int
    parent_id: int | None
    body: dict | None  # the record after the change (None for deletes)
    member: str
    at: str  # ISO second of the change


class Store:
    """Thread-safe access to the tenant database."""

    def __init__(self, resources: Iterable[Resource], path: str | None = None, *, clock: Clock):
        self.resources = {r.path: r for r in resources}
        self.clock = clock
        self._tmpdir: str | None = None
        if path is None:
            self._tmpdir = tempfile.mkdtemp(prefix="cwsync-sandbox-")
            path = os.path.join(self._tmpdir, "tenant.sqlite")
        self.path = path
        self._pool: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._all: list[sqlite3.Connection] = []
        self._pool_lock = threading.Lock()
        self._write_lock = threading.RLock()
        self.listeners: list[WriteListener] = []
        with self.connection() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            db.execute(
                "CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY, type TEXT,"
                " record_id INTEGER, entered_date TEXT, body TEXT)"
            )
            db.execute("CREATE INDEX IF NOT EXISTS audit_rec ON audit (type, record_id)")
            for res in self.resources.values():
                db.execute(
                    f'CREATE TABLE IF NOT EXISTS "{res.table}" (id INTEGER PRIMARY KEY,'
                    " parent_id INTEGER, last_updated TEXT, body TEXT NOT NULL)"
                )

    # -- connections -------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA synchronous=OFF")
        except sqlite3.Error as exc:
            raise ValueError(f"cannot open the sandbox database {self.path}: {exc}") from None
        db.execute("PRAGMA cache_size=-65536")  # 64 MB page cache per connection
        db.execute("PRAGMA temp_store=MEMORY")
        db.execute("PRAGMA busy_timeout=30000")
        with self._pool_lock:
            self._all.append(db)
        return db

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        try:
            db: sqlite3.Connection | None = self._pool.get_nowait()
        except queue.Empty:
            db = None
        if db is None:  # outside the except: an open error must not chain to queue.Empty
            db = self._connect()
        try:
            yield db
        finally:
            self._pool.put(db)

    def close(self, *, remove: bool = True) -> None:
        with self._pool_lock:
            for db in self._all:
                try:
                    db.close()
                except sqlite3.Error:
                    pass
            self._all.clear()
        if remove and self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    # -- meta ----------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with self.connection() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.connection() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- bulk load -----------------------------------------------------------------
    def bulk_insert(self, res: Resource, rows: Iterable[tuple[int, int | None, dict]]) -> int:
        """Insert generated ``(id, parent_id, body)`` rows in one transaction."""
        dumps = orjson.dumps
        decimals = _decimal_fields(res)

        def encoded() -> Iterator[tuple[int, int | None, str | None, str]]:
            for rid, parent_id, body in rows:
                if decimals:
                    _wire_decimals(body, decimals)
                info = body.get("_info") or {}
                yield rid, parent_id, info.get("lastUpdated"), dumps(body).decode()

        with self._write_lock, self.connection() as db:
            db.execute("BEGIN")
            cur = db.executemany(
                f'INSERT INTO "{res.table}" (id, parent_id, last_updated, body) VALUES (?,?,?,?)',
                encoded(),
            )
            db.execute("COMMIT")
        return cur.rowcount

    def create_indexes(self) -> None:
        with self._write_lock, self.connection() as db:
            for res in self.resources.values():
                db.execute(
                    f'CREATE INDEX IF NOT EXISTS "{res.table}_lu" ON "{res.table}" (last_updated)'
                )
                if res.is_child:
                    db.execute(
                        f'CREATE INDEX IF NOT EXISTS "{res.table}_parent"'
                        f' ON "{res.table}" (parent_id, id)'
                    )
            db.execute("ANALYZE")

    # -- reads ---------------------------------------------------------------------
    def select_bodies(
        self,
        res: Resource,
        where: list[str],
        params: list,
        *,
        order: str = "id",
        limit: int,
        offset: int = 0,
    ) -> list[str]:
        clause = " WHERE " + " AND ".join(f"({w})" for w in where) if where else ""
        # a condition on nothing in the body, in id order: the lastUpdated index alone (it
        # holds each record's id) finds and sorts the page's ids, and only those bodies
        # are read
        ids_only = order == "id" and "body" not in clause
        bound = self.SELECTIVE_IDS if ids_only else self.SELECTIVE
        with self.connection() as db:
            source = f'"{res.table}"'
            if any("last_updated" in w for w in where) and self._few_by_index(
                db, res, clause, params, bound
            ):
                source += f' INDEXED BY "{res.table}_lu"'
                if ids_only:
                    page = f"SELECT id FROM {source}{clause} ORDER BY id LIMIT ? OFFSET ?"
                    sql = f'SELECT body FROM "{res.table}" WHERE id IN ({page}) ORDER BY id'
                    return [row[0] for row in db.execute(sql, [*params, limit, offset])]
            sql = f"SELECT body FROM {source}{clause} ORDER BY {order} LIMIT ? OFFSET ?"
            return [row[0] for row in db.execute(sql, [*params, limit, offset])]

    # matching records up to which a lastUpdated condition is answered from its index:
    # sorting the matching records by id (their bodies too), or only their ids when the
    # condition tests nothing in the body (an incremental run's page: ~8 ms instead of
    # ~60 ms walking 2 M time entries in id order for the 1% changed since the cursor)
    SELECTIVE = 20_000
    SELECTIVE_IDS = 100_000

    def _few_by_index(
        self, db: sqlite3.Connection, res: Resource, clause: str, params: list, bound: int
    ) -> bool:
        """Whether the lastUpdated index finds at most ``bound`` records for this
        condition. SQLite walks a page ordered by id in id order and tests each record,
        so a selective ``lastUpdated >`` condition (an incremental run) read the whole
        table for each page (~2 s a page at 2 M time entries); a real server answers it
        from an index. Counting stops past the bound, so a broad condition costs little."""
        try:
            row = db.execute(
                f'SELECT count(*) FROM (SELECT 1 FROM "{res.table}" INDEXED BY'
                f' "{res.table}_lu"{clause} LIMIT ?)',
                [*params, bound + 1],
            ).fetchone()
        except sqlite3.OperationalError:  # no index, or the condition cannot use it
            return False
        return row[0] <= bound

    def count(self, res: Resource, where: list[str], params: list) -> int:
        sql = f'SELECT count(*) FROM "{res.table}"'
        if where:
            sql += " WHERE " + " AND ".join(f"({w})" for w in where)
        with self.connection() as db:
            return db.execute(sql, params).fetchone()[0]

    def get(self, res: Resource, rid: int, parent_id: int | None = None) -> dict | None:
        sql = f'SELECT body FROM "{res.table}" WHERE id = ?'
        args: list = [rid]
        if parent_id is not None:
            sql += " AND parent_id = ?"
            args.append(parent_id)
        with self.connection() as db:
            row = db.execute(sql, args).fetchone()
        return orjson.loads(row[0]) if row else None

    def get_row(self, res: Resource, rid: int) -> tuple[int | None, dict] | None:
        """-> (parent_id, body) of a record, whatever its parent."""
        with self.connection() as db:
            row = db.execute(
                f'SELECT parent_id, body FROM "{res.table}" WHERE id = ?', (rid,)
            ).fetchone()
        return (row[0], orjson.loads(row[1])) if row else None

    def find_by_label(self, res: Resource, key: str, value: object) -> list[tuple[int, int | None]]:
        """Ids (and parent ids) of records whose top-level ``key`` equals ``value``
        (case-insensitive for strings), for resolving ``{"identifier": ...}`` references."""
        if isinstance(value, str):
            sql = (
                f'SELECT id, parent_id FROM "{res.table}" WHERE '
                f"json_extract(body, ?) = ? COLLATE NOCASE LIMIT 2"
            )
        else:
            sql = f'SELECT id, parent_id FROM "{res.table}" WHERE json_extract(body, ?) = ? LIMIT 2'
        with self.connection() as db:
            return [tuple(r) for r in db.execute(sql, (f'$."{key}"', value))]

    def ids(self, res: Resource, parent_id: int | None = None) -> list[int]:
        sql = f'SELECT id FROM "{res.table}"'
        args: list = []
        if parent_id is not None:
            sql += " WHERE parent_id = ?"
            args.append(parent_id)
        with self.connection() as db:
            return [r[0] for r in db.execute(sql + " ORDER BY id", args)]

    # -- writes --------------------------------------------------------------------
    def next_id(self, db: sqlite3.Connection, res: Resource) -> int:
        row = db.execute(f'SELECT max(id) FROM "{res.table}"').fetchone()
        return (row[0] or 0) + 1

    def write(
        self,
        res: Resource,
        build: Callable[
            [sqlite3.Connection, int | None, dict | None], tuple[int, int | None, dict]
        ],
        *,
        rid: int | None,
        action: str,
        member: str,
    ) -> dict:
        """Run ``build(db, rid, current_body)`` -> (id, parent_id, new_body) and store it.

        ``build`` sees the current record (None for inserts) under the write lock, so
        read-modify-write is atomic. Returns the stored body and notifies listeners.
        """
        with self._write_lock, self.connection() as db:
            current = None
            if rid is not None:
                row = db.execute(f'SELECT body FROM "{res.table}" WHERE id = ?', (rid,)).fetchone()
                current = orjson.loads(row[0]) if row else None
            new_id, parent_id, body = build(db, rid, current)
            _wire_decimals(body, _decimal_fields(res))
            info = body.get("_info") or {}
            db.execute(
                f'INSERT OR REPLACE INTO "{res.table}" (id, parent_id, last_updated, body)'
                " VALUES (?,?,?,?)",
                (new_id, parent_id, info.get("lastUpdated"), orjson.dumps(body).decode()),
            )
            event = WriteEvent(res, action, new_id, parent_id, body, member, self.clock.now_iso())
            self._notify(db, event)
        return body

    def delete(self, res: Resource, rid: int, *, member: str) -> bool:
        with self._write_lock, self.connection() as db:
            row = db.execute(f'SELECT parent_id FROM "{res.table}" WHERE id = ?', (rid,)).fetchone()
            if row is None:
                return False
            db.execute(f'DELETE FROM "{res.table}" WHERE id = ?', (rid,))
            # Children of a deleted parent go with it, as in ConnectWise.
            for child in self.resources.values():
                if child.parent == res.path:
                    db.execute(f'DELETE FROM "{child.table}" WHERE parent_id = ?', (rid,))
            event = WriteEvent(res, "deleted", rid, row[0], None, member, self.clock.now_iso())
            self._notify(db, event)
        return True

    def _notify(self, db: sqlite3.Connection, event: WriteEvent) -> None:
        self._record_audit(db, event)
        for listener in list(self.listeners):
            listener(event)

    # -- audit trail ---------------------------------------------------------------
    def _record_audit(self, db: sqlite3.Connection, event: WriteEvent) -> None:
        kind = event.resource.callback_type or event.resource.model
        text = {
            "added": f"{kind} #{event.id} was created.",
            "updated": f"{kind} #{event.id} was updated.",
            "deleted": f"{kind} #{event.id} was deleted.",
        }[event.action]
        entry = {
            "text": text,
            "enteredDate": event.at,
            "enteredBy": event.member,
            "auditType": kind,
            "auditSubType": event.action.capitalize(),
            "auditSource": "API",
        }
        db.execute(
            "INSERT INTO audit (type, record_id, entered_date, body) VALUES (?,?,?,?)",
            (kind.lower(), event.id, event.at, orjson.dumps(entry).decode()),
        )

    def audit_entries(self, kind: str, rid: int | None, limit: int, offset: int) -> list[str]:
        sql = "SELECT body FROM audit WHERE type = ?"
        args: list = [kind.lower()]
        if rid is not None:
            sql += " AND record_id = ?"
            args.append(rid)
        sql += " ORDER BY seq DESC LIMIT ? OFFSET ?"
        with self.connection() as db:
            return [r[0] for r in db.execute(sql, [*args, limit, offset])]

    def audit_count(self, kind: str, rid: int | None) -> int:
        sql = "SELECT count(*) FROM audit WHERE type = ?"
        args: list = [kind.lower()]
        if rid is not None:
            sql += " AND record_id = ?"
            args.append(rid)
        with self.connection() as db:
            return db.execute(sql, args).fetchone()[0]


def _decimal_fields(res: Resource) -> tuple[str, ...]:
    return tuple(name for name, f in res.fields.items() if f.kind == NUMBER)


def _wire_decimals(body: dict, names: tuple[str, ...]) -> None:
    """Write whole decimals the way ConnectWise does: ``2``, not ``2.0`` (``1.07`` stays).

    Real responses mix ``"actualHours": 2`` and ``"actualHours": 1.07`` in one column,
    which is what a loader must not turn into two columns.
    """
    for name in names:
        value = body.get(name)
        if type(value) is float and value.is_integer():
            body[name] = int(value)

"""The callbacks journal: accepted events, durable before the receiver answers 2xx.

A SQLite file in WAL mode with ``synchronous=FULL`` (every commit fsyncs the WAL). One
writer thread takes the events the receiver accepted, inserts whatever is waiting in one
transaction (group commit: one fsync for many events) and only then releases the
requests, which answer 2xx. ``message_id`` is unique, so a replayed message is refused
atomically. The event processor reads ``pending`` events and marks them ``done``
(or ``skipped`` / ``failed``) once the warehouse has them; a process killed at any point
leaves its accepted events ``pending`` for the next start.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL UNIQUE,
    received_at REAL NOT NULL,
    type TEXT NOT NULL,
    action TEXT NOT NULL,
    record_id INTEGER NOT NULL,
    callback_id INTEGER,
    body BLOB,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    processed_at REAL,
    error TEXT
);
CREATE INDEX IF NOT EXISTS events_state ON events (state, seq);
"""


@dataclass(frozen=True)
class Event:
    """One accepted callback."""

    message_id: str
    type: str  # lower-case callback type: ticket, company, ...
    action: str  # added | updated | deleted
    record_id: int
    callback_id: int | None
    body: bytes
    received_at: float = 0.0
    seq: int = 0
    attempts: int = 0


class Journal:
    """Durable, deduplicated storage of accepted events (thread-safe)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = self._connect()
        self._db.executescript(_SCHEMA)
        self._read_lock = threading.Lock()
        self._reader = self._connect()
        self._queue: queue.SimpleQueue[tuple[Event, Future] | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write_loop, name="cw-journal", daemon=True)
        self._writer.start()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")  # fsync the WAL on every commit
        db.execute("PRAGMA busy_timeout=30000")
        return db

    # -- the receiver's side ---------------------------------------------------------
    def append(self, event: Event) -> Future:
        """Queue ``event``; the future is True once it is on disk, False for a replay
        (its ``message_id`` is already journaled), or an exception."""
        future: Future = Future()
        self._queue.put((event, future))
        return future

    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < 1000:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                batch.append(nxt)
            self._commit(batch)

    def _commit(self, batch: list[tuple[Event, Future]]) -> None:
        results: list[bool] = []
        now = time.time()
        try:
            self._db.execute("BEGIN IMMEDIATE")
            for event, _ in batch:
                cur = self._db.execute(
                    "INSERT OR IGNORE INTO events (message_id, received_at, type, action,"
                    " record_id, callback_id, body) VALUES (?,?,?,?,?,?,?)",
                    (
                        event.message_id,
                        now,
                        event.type,
                        event.action,
                        event.record_id,
                        event.callback_id,
                        event.body,
                    ),
                )
                results.append(cur.rowcount == 1)
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            for _, future in batch:
                future.set_exception(exc)
            return
        for (_, future), fresh in zip(batch, results, strict=True):
            future.set_result(fresh)

    def close(self) -> None:
        self._queue.put(None)
        self._writer.join(10)
        self._db.close()
        self._reader.close()

    # -- the processor's side --------------------------------------------------------
    def pending(self, limit: int = 5000) -> list[Event]:
        with self._read_lock:
            rows = self._reader.execute(
                "SELECT seq, message_id, received_at, type, action, record_id, callback_id,"
                " body, attempts FROM events WHERE state = 'pending' ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            Event(
                message_id=r[1],
                type=r[3],
                action=r[4],
                record_id=r[5],
                callback_id=r[6],
                body=r[7] or b"",
                received_at=r[2],
                seq=r[0],
                attempts=r[8],
            )
            for r in rows
        ]

    def finish(self, seqs: list[int], state: str = "done", error: str | None = None) -> None:
        """Mark events processed (``done``, ``skipped`` or ``failed``)."""
        if not seqs:
            return
        with self._read_lock:
            self._reader.execute("BEGIN IMMEDIATE")
            self._reader.executemany(
                "UPDATE events SET state = ?, processed_at = ?, error = ? WHERE seq = ?",
                [(state, time.time(), error, s) for s in seqs],
            )
            self._reader.execute("COMMIT")

    def retry_later(self, seqs: list[int], error: str, max_attempts: int) -> None:
        """Count a failed attempt; past ``max_attempts`` the events are ``failed``."""
        if not seqs:
            return
        with self._read_lock:
            self._reader.execute("BEGIN IMMEDIATE")
            self._reader.executemany(
                "UPDATE events SET attempts = attempts + 1, error = ?,"
                " state = CASE WHEN attempts + 1 >= ? THEN 'failed' ELSE state END"
                " WHERE seq = ?",
                [(error, max_attempts, s) for s in seqs],
            )
            self._reader.execute("COMMIT")

    def prune_bodies(self, older_than_seconds: float) -> int:
        """Drop the raw bodies of processed events older than the replay window (the
        message ids stay, so a replay is still refused)."""
        with self._read_lock:
            cur = self._reader.execute(
                "UPDATE events SET body = NULL WHERE state != 'pending' AND body IS NOT NULL"
                " AND received_at < ?",
                (time.time() - older_than_seconds,),
            )
        return cur.rowcount

    def counts(self) -> dict[str, int]:
        with self._read_lock:
            rows = self._reader.execute("SELECT state, count(*) FROM events GROUP BY 1").fetchall()
        return {str(state): int(n) for state, n in rows}

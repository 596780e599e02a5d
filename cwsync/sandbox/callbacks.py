"""Callback delivery of the sandbox: what ConnectWise does after a record is saved.

Every committed write (:class:`~cwsync.sandbox.store.WriteEvent`) of a collection that has
a callback type (Ticket, Company, Contact, ...) is matched against the active
``system/callbacks`` entries of that type and level, and POSTed to each entry's ``url`` as
ConnectWise's callback payload (``MessageId``, ``FromUrl``, ``CompanyId``, ``MemberId``,
``Action`` added/updated/deleted, ``Type``, ``ID``, ``Entity`` = the record as a JSON
string, ``Metadata.key_url``, ``CallbackObjectRecId``), signed the way the guide's sample
verifies it: ``x-content-signature`` = base64(HMAC-SHA256(key = SHA-256(signing key),
raw body)). The signing key is served at ``key_url`` on the sandbox's own host as
``{"signing_key": "..."}``.

Delivery never blocks the write: the store's listener only queues the event; a
dispatcher thread matches subscriptions and hands each delivery to a small pool of
sender threads; failures (connection errors, 5xx, 408, 429) are retried with backoff from
a schedule, so a receiver that is down holds up no other delivery.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import queue
import re
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import orjson
import requests

from .http import ApiError, Request, Response
from .model import BASE_PLACEHOLDER
from .store import Store, WriteEvent

SIGNATURE_HEADER = "x-content-signature"
KEY_PATH = "system/callbacks/signingkeys"  # under the API base: .../apis/3.0/system/callbacks/signingkeys/{keyId}
_KEY_RE = re.compile(
    r"^/(v4_6_release|v\d{4}_\d{1,2})/apis/3\.0/system/callbacks/signingkeys/([0-9a-f-]+)/?$",
    re.IGNORECASE,
)

# Levels a subscription may have per type, and the record field whose id must equal the
# entry's objectId ("Owner" = every record of the type; objectId is 1 by convention).
LEVELS: dict[str, dict[str, str | None]] = {
    "ticket": {"owner": None, "board": "board", "status": "status", "project": "project"},
    "company": {"owner": None, "status": "status", "type": "types"},
    "contact": {"owner": None, "type": "types", "company": "company"},
    "project": {"owner": None, "board": "board", "status": "status"},
    "opportunity": {"owner": None, "status": "status", "type": "type"},
    "activity": {"owner": None, "status": "status", "type": "type"},
    "invoice": {"owner": None, "status": "status"},
    "configuration": {"owner": None, "type": "type", "status": "status"},
}

RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})


def sign(body: bytes, signing_key: str) -> str:
    """The ``x-content-signature`` of ``body``, as the guide's sample computes it."""
    key = hashlib.sha256(signing_key.encode("utf-8")).digest()
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode("ascii")


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(
        400,
        "InvalidObject",
        "callbackEntry object is invalid",
        errors=[
            {
                "code": "InvalidField",
                "message": message,
                "resource": "callbackEntry",
                "field": field,
            }
        ],
    )


def validate_entry(payload: dict) -> None:
    """Refuse a ``system/callbacks`` entry with an unknown type or level (400)."""
    kind = str(payload.get("type") or "")
    level = str(payload.get("level") or "")
    levels = LEVELS.get(kind.lower())
    if levels is None:
        raise _invalid("type", f"type must be one of {', '.join(t.title() for t in LEVELS)}.")
    if level.lower() not in levels:
        raise _invalid(
            "level",
            f"level of a {kind} callback must be one of {', '.join(v.title() for v in levels)}.",
        )


@dataclass
class Delivery:
    """One callback POST (after its last attempt)."""

    message_id: str
    callback_id: int
    url: str
    action: str
    type: str
    id: int
    status: int | None  # last HTTP status (None: no answer)
    attempts: int
    delivered: bool
    at: float


class CallbackDispatcher:
    """Matches committed writes with ``system/callbacks`` entries and delivers them."""

    def __init__(
        self,
        store: Store,
        *,
        company_id: str,
        site: Callable[[], str],
        codebase: str,
        signing_key: str,
        key_id: str,
        workers: int = 8,
        max_attempts: int = 6,
        backoff_seconds: float = 0.25,
        timeout: float = 10.0,
    ) -> None:
        self.store = store
        self.company_id = company_id
        self._site = site
        self.codebase = codebase
        self.signing_key = signing_key
        self.key_id = key_id
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.timeout = timeout
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[WriteEvent | None] = queue.SimpleQueue()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cw-callback")
        self._pending = 0
        self._idle = threading.Condition(self._lock)
        self._thread = threading.Thread(target=self._run, name="cw-callbacks", daemon=True)
        self._stopped = False
        self._local = threading.local()
        self._retries: list[tuple[float, int, _Job]] = []
        self._seq = 0
        self._retry_cv = threading.Condition()
        self._retry_thread = threading.Thread(
            target=self._retry_loop, name="cw-callback-retries", daemon=True
        )
        self._thread.start()
        self._retry_thread.start()

    # -- wiring ----------------------------------------------------------------------
    @property
    def key_url(self) -> str:
        return f"http://{self._site()}/{self.codebase}apis/3.0/{KEY_PATH}/{self.key_id}"

    def listener(self, event: WriteEvent) -> None:
        """The store's listener: runs under the write lock, so it only queues."""
        if event.resource.callback_type and not self._stopped:
            with self._lock:
                self._pending += 1
            self._queue.put(event)

    def route(self, api: Callable[[Request], Response]) -> Callable[[Request], Response]:
        """``api`` plus the signing-key endpoint (``GET key_url``, no credentials: the key
        only lets a receiver check that a payload came from this server)."""

        def handler(request: Request) -> Response:
            m = _KEY_RE.match(request.path)
            if m:
                if request.method != "GET":
                    raise ApiError(405, "MethodNotAllowed", "The signing key is read-only.")
                if m.group(2).lower() != self.key_id:
                    raise ApiError(404, "NotFound", "No signing key was found.")
                return Response(200, orjson.dumps({"signing_key": self.signing_key}))
            return api(request)

        return handler

    def stop(self) -> None:
        self._stopped = True
        self._queue.put(None)
        with self._retry_cv:
            self._retry_cv.notify_all()
        self._thread.join(5)
        self._retry_thread.join(5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until every queued write has been delivered (or given up on)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    # -- matching --------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            event = self._queue.get()
            if event is None:
                return
            try:
                targets = self._subscriptions(event)
            except Exception:  # a broken entry must not stop delivery of the others
                targets = []
            with self._lock:
                self._pending += len(targets)
            for entry in targets:
                self._pool.submit(self._deliver, entry, event)
            self._done()

    def _done(self) -> None:
        with self._idle:
            self._pending -= 1
            if self._pending <= 0:
                self._idle.notify_all()

    def _subscriptions(self, event: WriteEvent) -> list[dict]:
        res = self.store.resources.get("system/callbacks")
        if res is None:
            return []
        kind = (event.resource.callback_type or "").lower()
        with self.store.connection() as db:
            rows = db.execute(
                f"SELECT body FROM \"{res.table}\" WHERE lower(json_extract(body, '$.type')) = ?",
                (kind,),
            ).fetchall()
        out = []
        for (text,) in rows:
            entry = orjson.loads(text)
            if entry.get("inactiveFlag") or not entry.get("url"):
                continue
            if entry.get("isSelfSuppressedFlag") and (
                (entry.get("_info") or {}).get("enteredBy") == event.member
            ):
                continue  # the member's own changes are not sent back to it
            if _level_matches(kind, entry, event):
                out.append(entry)
        return out

    # -- delivery --------------------------------------------------------------------
    def payload(self, entry: dict, event: WriteEvent) -> bytes:
        base = f"http://{self._site()}/{self.codebase}apis/3.0"
        entity = None
        if event.body is not None:
            entity = orjson.dumps(event.body).decode().replace(BASE_PLACEHOLDER, base)
        body = {
            "MessageId": str(uuid.uuid4()),
            "FromUrl": self._site(),
            "CompanyId": self.company_id,
            "MemberId": event.member,
            "Action": event.action,
            "Type": (event.resource.callback_type or "").lower(),
            "ID": event.id,
            "ProductInstanceId": None,
            "PartnerId": None,
            "Entity": entity,
            "Metadata": {"key_url": self.key_url},
            "CallbackObjectRecId": entry.get("id"),
        }
        return orjson.dumps(body)

    @property
    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _deliver(self, entry: dict, event: WriteEvent) -> None:
        """First attempt of one delivery (runs on the sender pool)."""
        try:
            body = self.payload(entry, event)
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(body, self.signing_key),
                "User-Agent": "ConnectWise-Callbacks (cwsync sandbox)",
            }
            job = _Job(entry, event, body, headers, orjson.loads(body)["MessageId"])
        except Exception:
            self._done()
            raise
        self._attempt(job)

    def _attempt(self, job: _Job) -> None:
        """One POST; a retryable failure is scheduled again (no sender thread waits)."""
        job.attempts += 1
        try:
            response = self._session.post(
                job.entry["url"], data=job.body, headers=job.headers, timeout=self.timeout
            )
            job.status = response.status_code
            response.close()
        except requests.RequestException:
            job.status = None
        delivered = job.status is not None and job.status < 300
        final = (
            delivered
            or (job.status is not None and job.status not in RETRYABLE)  # refused for good
            or job.attempts >= self.max_attempts
            or self._stopped
        )
        if not final:
            delay = min(self.backoff_seconds * 2 ** (job.attempts - 1), 5.0)
            with self._retry_cv:
                self._seq += 1
                heapq.heappush(self._retries, (time.monotonic() + delay, self._seq, job))
                self._retry_cv.notify()
            return
        with self._lock:
            self.deliveries.append(
                Delivery(
                    job.message_id,
                    int(job.entry.get("id") or 0),
                    job.entry["url"],
                    job.event.action,
                    (job.event.resource.callback_type or "").lower(),
                    job.event.id,
                    job.status,
                    job.attempts,
                    delivered,
                    time.time(),
                )
            )
        self._done()

    def _retry_loop(self) -> None:
        while True:
            with self._retry_cv:
                while not self._stopped and (
                    not self._retries or self._retries[0][0] > time.monotonic()
                ):
                    wait = self._retries[0][0] - time.monotonic() if self._retries else None
                    self._retry_cv.wait(wait)
                if self._stopped:
                    return
                _, _, job = heapq.heappop(self._retries)
            try:
                self._pool.submit(self._attempt, job)
            except RuntimeError:  # the pool is shut down
                return


@dataclass
class _Job:
    entry: dict
    event: WriteEvent
    body: bytes
    headers: dict[str, str]
    message_id: str
    attempts: int = 0
    status: int | None = None


def _level_matches(kind: str, entry: dict, event: WriteEvent) -> bool:
    levels = LEVELS.get(kind, {})
    level = str(entry.get("level") or "").lower()
    if level not in levels:
        return False
    field = levels[level]
    if field is None:
        return True
    if event.body is None:
        return True  # a delete carries no record to compare: every level hears of it
    value = event.body.get(field)
    wanted = entry.get("objectId")
    if isinstance(value, list):
        return any(isinstance(v, dict) and v.get("id") == wanted for v in value)
    return isinstance(value, dict) and value.get("id") == wanted


def new_key_id(seed: int) -> str:
    """A stable id for the sandbox's signing key (its ``key_url`` path)."""
    return str(uuid.UUID(hashlib.sha256(f"{seed}:callback-key-id".encode()).hexdigest()[:32]))

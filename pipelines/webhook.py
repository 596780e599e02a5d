"""The callbacks receiver: HTTP, signature verification, durable acceptance.

An ASGI application served by uvicorn. A ``POST`` (any path) is accepted only when:

* the body is at most ``max_body_bytes`` (413 otherwise, read no further);
* it carries ``x-content-signature`` (401 otherwise) and is a JSON object with
  ``MessageId``, ``Action`` (added/updated/deleted), ``Type``, ``ID`` and
  ``Metadata.key_url`` (400 otherwise);
* ``key_url`` points at the configured ConnectWise host (https, or plain http only on
  loopback; no user info) — any other URL is refused (401) and never fetched, or anyone
  could sign payloads with a key they serve and make the receiver call out anywhere;
* the signature equals base64(HMAC-SHA256(key = SHA-256(signing key), raw body)), the
  guide's sample, with the key fetched from ``key_url`` and cached (401 otherwise;
  503 when the key cannot be fetched now, so the sender retries);
* its ``MessageId`` was never accepted before, and its record is not older than the
  replay window (409 otherwise).

An accepted event is in the journal (fsynced) before the 200 goes out. ``GET /healthz``
answers the journal's counts.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlsplit

import orjson
import requests

from sources.connectwise.client import is_loopback

from .journal import Event, Journal

log = logging.getLogger("cwsync.webhook")

SIGNATURE_HEADER = b"x-content-signature"
ACTIONS = frozenset({"added", "updated", "deleted"})
KEY_RESPONSE_LIMIT = 64 * 1024


class Refused(Exception):
    """A callback the receiver does not accept: HTTP status and a short reason."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def signature(body: bytes, signing_key: str) -> str:
    """base64(HMAC-SHA256(key = SHA-256(signing_key as UTF-8), body)) — the guide's sample."""
    key = hashlib.sha256(signing_key.encode("utf-8")).digest()
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode("ascii")


def _origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URL without user info; None otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return None
    return parts.scheme, parts.hostname.lower(), port or (443 if parts.scheme == "https" else 80)


def trusted_origins(urls: Iterable[str]) -> set[tuple[str, str, int]]:
    """The origins a ``key_url`` may have: those of the configured site and API base.
    A bare site (``na.myconnectwise.net``) means https; plain http is kept only for
    loopback hosts (the sandbox)."""
    out: set[tuple[str, str, int]] = set()
    for url in urls:
        if not url:
            continue
        text = url.strip()
        if "://" not in text:
            text = f"https://{text}"
        origin = _origin(text)
        if origin is None:
            continue
        scheme, host, port = origin
        if scheme == "http" and not is_loopback(host):
            continue
        out.add(origin)
    return out


class KeyCache:
    """Signing keys by ``key_url``, fetched only from trusted origins.

    Fetches are rare and serialized; a ``key_url`` that could not be fetched is not asked
    for again for ``negative_seconds``, and at most ``max_fetches_per_minute`` fetches go
    out, so forged callbacks naming made-up key URLs on the trusted host cannot turn the
    receiver into a load on the ConnectWise server.
    """

    def __init__(
        self,
        origins: set[tuple[str, str, int]],
        *,
        ttl_seconds: float = 3600.0,
        refetch_after_seconds: float = 60.0,
        negative_seconds: float = 60.0,
        max_fetches_per_minute: int = 30,
        timeout: float = 5.0,
        max_keys: int = 64,
    ) -> None:
        if not origins:
            raise ValueError("no trusted ConnectWise host to fetch signing keys from")
        self.origins = origins
        self.ttl = ttl_seconds
        self.refetch_after = refetch_after_seconds
        self.negative = negative_seconds
        self.max_fetches = max_fetches_per_minute
        self.timeout = timeout
        self.max_keys = max_keys
        self.fetches = 0
        self._keys: dict[str, tuple[str, float]] = {}
        self._failed: dict[str, tuple[Refused, float]] = {}
        self._recent: list[float] = []
        self._lock = threading.Lock()
        self._fetch_lock = threading.Lock()
        self._session = requests.Session()
        self._session.trust_env = False  # no proxy or .netrc credentials for key fetches

    def trusted(self, key_url: str) -> bool:
        origin = _origin(key_url)
        return origin is not None and origin in self.origins

    def get(self, key_url: str, *, fresh: bool = False) -> str:
        """The signing key at ``key_url`` (cached); ``fresh`` refetches a key older than
        ``refetch_after_seconds`` (a rotated key). Raises :class:`Refused`.

        Cache hits never wait for a fetch in progress; fetches go one at a time."""
        if not self.trusted(key_url):
            raise Refused(401, "key_url is not on the configured ConnectWise host")
        key = self._cached(key_url, fresh)
        if key is not None:
            return key
        with self._fetch_lock:
            key = self._cached(key_url, fresh)  # another request may have just fetched it
            if key is not None:
                return key
            with self._lock:
                now = time.monotonic()
                failed = self._failed.get(key_url)
                if failed is not None:
                    # a key that is not there is not asked for again for a while; a
                    # server error or timeout only for a few seconds
                    hold = self.negative if failed[0].status == 401 else min(5.0, self.negative)
                    if now - failed[1] < hold:
                        raise failed[0]
                self._recent = [t for t in self._recent if now - t < 60.0]
                if len(self._recent) >= self.max_fetches:
                    raise Refused(503, "too many signing key fetches; try again later")
                self._recent.append(now)
            try:
                key = self._fetch(key_url)
            except Refused as exc:
                with self._lock:
                    if len(self._failed) >= 1024:
                        self._failed.clear()
                    self._failed[key_url] = (exc, time.monotonic())
                raise
            with self._lock:
                if len(self._keys) >= self.max_keys and key_url not in self._keys:
                    self._keys.pop(next(iter(self._keys)))
                self._keys[key_url] = (key, time.monotonic())
            return key

    def _cached(self, key_url: str, fresh: bool) -> str | None:
        with self._lock:
            cached = self._keys.get(key_url)
        if cached is None:
            return None
        key, at = cached
        age = time.monotonic() - at
        if age < self.ttl and not (fresh and age >= self.refetch_after):
            return key  # (fresh but fetched just now: the signature is simply wrong)
        return None

    def _fetch(self, key_url: str) -> str:
        self.fetches += 1
        try:
            response = self._session.get(
                key_url, timeout=self.timeout, allow_redirects=False, stream=True
            )
            raw = response.raw.read(KEY_RESPONSE_LIMIT + 1, decode_content=True)
            response.close()
        except requests.RequestException as exc:
            raise Refused(503, f"signing key unavailable ({type(exc).__name__})") from None
        if response.status_code != 200 or len(raw) > KEY_RESPONSE_LIMIT:
            status = 503 if response.status_code >= 500 else 401
            raise Refused(status, f"signing key not served (HTTP {response.status_code})")
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise Refused(503, "signing key response is not JSON") from None
        key = data.get("signing_key") if isinstance(data, dict) else None
        if not isinstance(key, str) or not key:
            raise Refused(503, "signing key response has no signing_key")
        return key


@dataclass
class ReceiverSettings:
    max_body_bytes: int = 1024 * 1024
    replay_window_seconds: float = 72 * 3600.0


@dataclass
class Stats:
    accepted: int = 0
    refused: int = 0


class Receiver:
    """Checks one callback and journals it; the HTTP-free core of the receiver."""

    def __init__(self, journal: Journal, keys: KeyCache, settings: ReceiverSettings):
        self.journal = journal
        self.keys = keys
        self.settings = settings
        self.stats = Stats()

    def parse(self, body: bytes, signature_header: str | None) -> Event:
        """Validate shape and signature; the event to journal, or :class:`Refused`."""
        if not signature_header:
            raise Refused(401, "missing x-content-signature")
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise Refused(400, "body is not JSON") from None
        if not isinstance(data, dict):
            raise Refused(400, "body is not a JSON object")
        meta = data.get("Metadata")
        key_url = meta.get("key_url") if isinstance(meta, dict) else None
        message_id = data.get("MessageId")
        action = str(data.get("Action") or "").lower()
        kind = data.get("Type")
        rid = data.get("ID")
        if not isinstance(key_url, str) or not key_url:
            raise Refused(400, "no Metadata.key_url")
        if not isinstance(message_id, str) or not message_id or len(message_id) > 200:
            raise Refused(400, "no MessageId")
        if action not in ACTIONS:
            raise Refused(400, "Action is not added, updated or deleted")
        if not isinstance(kind, str) or not kind or len(kind) > 64:
            raise Refused(400, "no Type")
        if not isinstance(rid, int) or isinstance(rid, bool):
            raise Refused(400, "ID is not a number")
        key = self.keys.get(key_url)
        if not _same(signature(body, key), signature_header):
            key = self.keys.get(key_url, fresh=True)  # the key may have been rotated
            if not _same(signature(body, key), signature_header):
                raise Refused(401, "signature does not match")
        self._check_age(data)
        callback_id = data.get("CallbackObjectRecId")
        return Event(
            message_id=message_id,
            type=kind.lower(),
            action=action,
            record_id=rid,
            callback_id=callback_id if isinstance(callback_id, int) else None,
            body=body,
        )

    def _check_age(self, data: dict) -> None:
        """A signed message whose record is older than the replay window is a replay
        (message ids are remembered, but a window bounds what an old capture can do)."""
        entity = data.get("Entity")
        if isinstance(entity, str):
            try:
                entity = orjson.loads(entity)
            except orjson.JSONDecodeError:
                return
        info = entity.get("_info") if isinstance(entity, dict) else None
        updated = info.get("lastUpdated") if isinstance(info, dict) else None
        if not isinstance(updated, str):
            return
        try:
            when = datetime.fromisoformat(updated.replace("Z", "+00:00"))
        except ValueError:
            return
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        age = datetime.now(timezone.utc).timestamp() - when.timestamp()
        if age > self.settings.replay_window_seconds:
            raise Refused(409, "replay: the record is older than the replay window")


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode("ascii"), given.strip().encode("ascii", "replace"))


class WebhookApp:
    """The ASGI application around a :class:`Receiver`."""

    def __init__(self, receiver: Receiver):
        self.receiver = receiver

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        method = scope["method"]
        if method == "GET" and scope["path"].rstrip("/") == "/healthz":
            counts = await asyncio.to_thread(self.receiver.journal.counts)
            await _answer(send, 200, {"ok": True, "events": counts})
            return
        if method != "POST":
            await _answer(send, 405, {"error": "POST callbacks here"})
            return
        try:
            status, answer = await self._post(scope, receive)
        except Refused as exc:
            self.receiver.stats.refused += 1
            log.warning("refused a callback: %s (%s)", exc.reason, exc.status)
            status, answer = exc.status, {"error": exc.reason}
        await _answer(send, status, answer)

    async def _post(self, scope, receive) -> tuple[int, dict]:
        limit = self.receiver.settings.max_body_bytes
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                if int(declared) > limit:
                    raise Refused(413, f"body larger than {limit} bytes")
            except ValueError:
                raise Refused(400, "bad Content-Length") from None
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise Refused(400, "client went away")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise Refused(413, f"body larger than {limit} bytes")
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        sig = headers.get(SIGNATURE_HEADER)
        event = await asyncio.to_thread(
            self.receiver.parse, body, sig.decode("latin-1") if sig else None
        )
        try:
            fresh = await asyncio.wrap_future(self.receiver.journal.append(event))
        except Exception as exc:  # the disk: the sender must retry
            raise Refused(503, f"journal unavailable ({type(exc).__name__})") from None
        if not fresh:
            raise Refused(409, "replay: this MessageId was already accepted")
        self.receiver.stats.accepted += 1
        return 200, {"accepted": event.message_id}


async def _answer(send, status: int, body: dict) -> None:
    data = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})

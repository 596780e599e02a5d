"""The incremental watermark rule: where the next run starts reading.

A run reads ``lastUpdated >= [cursor]`` with forward-only paging, ordered by **id**, not
by ``lastUpdated``. Two kinds of record would be lost by the naive rule "next cursor =
newest ``lastUpdated`` seen":

* records updated in the **same second** as the newest record seen, after it was read
  (``lastUpdated`` has one-second granularity);
* records updated **while the sweep was running** whose id the sweep had already passed:
  they now carry a ``lastUpdated`` newer than the sweep start, but were read (or not at
  all) with their old value.

So the next cursor is::

    next = max(previous, min(newest_seen, sweep_started - lag))

where ``sweep_started`` is the server's own clock (the ``Date`` header of the sweep's
first response, so client clock skew does not matter) and ``lag`` a safety margin for
skew between the API servers. The comparison is **inclusive** (``>=``), so records at
exactly the cursor are read again next time; merging on ``id`` makes re-reading
harmless. When the sweep sees no records, ``newest_seen`` is unbounded and the cursor
moves to ``sweep_started - lag``: nothing older than that can appear later except by
being updated, which stamps a newer ``lastUpdated``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from .body_reader import record_spans
from .conditions import to_utc_iso


def parse_iso(text: str) -> datetime:
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def server_time(date_header: str | None) -> datetime | None:
    """The server clock from an HTTP ``Date`` header (None when absent or unreadable)."""
    if not date_header:
        return None
    try:
        dt = parsedate_to_datetime(date_header)
    except (TypeError, ValueError):
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


@dataclass
class Watermark:
    """Tracks one sweep and computes the next cursor (see the module docstring)."""

    previous: str | None  # the cursor this sweep started from (None: full backfill)
    lag_seconds: float = 0.0
    sweep_started: datetime | None = None
    newest_seen: str | None = None  # ISO strings in the same Z form compare as times

    def saw_response(self, date_header: str | None) -> None:
        """Record the server time of the sweep's first response."""
        if self.sweep_started is None:
            self.sweep_started = server_time(date_header) or datetime.now(timezone.utc)

    def saw(self, last_updated: str | None) -> None:
        if last_updated and (self.newest_seen is None or last_updated > self.newest_seen):
            self.newest_seen = last_updated

    def window_start(self) -> str:
        """Where the lag window of this sweep starts (``sweep_started - lag``)."""
        started = self.sweep_started or datetime.now(timezone.utc)
        return to_utc_iso(started - timedelta(seconds=self.lag_seconds))

    def next_cursor(self) -> str | None:
        if self.sweep_started is None:  # the sweep never got a response: keep the cursor
            return self.previous
        safe = self.sweep_started - timedelta(seconds=self.lag_seconds)
        candidate = safe
        if self.newest_seen is not None:
            candidate = min(candidate, parse_iso(self.newest_seen))
        if self.previous is not None:
            candidate = max(candidate, parse_iso(self.previous))
        return to_utc_iso(candidate)


_LINK_END = b'_href":'  # ends a key, never a string: a string holds no bare quote


def _without_links(text: bytes) -> bytes | None:
    """``text`` (an object serialised with sorted keys) without its ``…_href`` members,
    as if serialised without them; None when a link's value is not a string or null."""
    parts: list[bytes] = []
    pos = 0
    at = text.find(_LINK_END)
    while at >= 0:
        key = text.rfind(b'"', 0, at)  # the key's opening quote
        value = at + len(_LINK_END)
        if text.startswith(b"null", value):
            end = value + 4
        elif text.startswith(b'"', value):
            end = value + 1
            while True:  # the closing quote: one not escaped by an odd run of backslashes
                end = text.find(b'"', end)
                if end < 0:
                    return None
                slashes = end - 1
                while text[slashes] == 0x5C:
                    slashes -= 1
                if (end - 1 - slashes) % 2 == 0:
                    break
                end += 1
            end += 1
        else:
            return None
        before = text[key - 1 : key]
        if before == b"," and key - 1 >= pos:  # ,"k_href":v  -> nothing
            cut_from, cut_to = key - 1, end
        elif before == b"{" or before == b",":  # {"k_href":v,  -> {  (also right after
            # a first member cut with its comma: this one is first now)
            cut_from, cut_to = key, end + (1 if text.startswith(b",", end) else 0)
        else:
            return None
        parts.append(text[pos:cut_from])
        pos = cut_to
        at = text.find(_LINK_END, end)
    if not parts:
        return text
    parts.append(text[pos:])
    return b"".join(parts)


def _without_links_slow(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_links_slow(v) for k, v in value.items() if not k.endswith("_href")}
    if isinstance(value, list):
        return [_without_links_slow(v) for v in value]
    return value


def record_digest(record: dict) -> str:
    """A short content hash of an API record: key order and ``_href`` links (absolute
    URLs that change with the host name, and are not loaded) do not matter. The links
    are cut out of the serialised bytes (~1.6x faster than serialising a copy without
    them, the same bytes); a link that is not a string takes the slow way."""
    text = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    cut = _without_links(text)
    if cut is None:
        cut = orjson.dumps(_without_links_slow(record), option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(cut, digest_size=10).hexdigest()


Content = bytes | memoryview | dict


DIGEST_BYTES = 10  # the boundary's digests (blake2b): 2^-80 that an edit goes unseen


def content_digest(content: Content, api_base: str | None = None) -> bytes:
    """The digest the boundary keeps of a record: of its JSON text as the API sent it (a
    cut of the page body: :func:`.body_reader.record_spans`), or of a decoded record
    serialised again, which gives the same bytes for a compact body like ConnectWise's.
    Plain bytes, no decode, no sort (~8x cheaper than :func:`record_digest`).

    Links are absolute URLs under the API base (``"board_href":"https://host/…/apis/3.0/
    service/boards/1"``); ``api_base`` is cut from them, so another host name or port (a
    restarted sandbox) does not make every remembered record look changed. Only a link
    can match: ``_href":"`` holds bare quotes, which text inside a JSON string never has.
    A record whose bytes change in another way without its content changing (another
    key order) is loaded once more, which is harmless."""
    if isinstance(content, dict):
        content = orjson.dumps(content)
    if api_base:
        content = links_cut(bytes(content), api_base)
    return bytes_digest(content)


def bytes_digest(content: bytes | memoryview) -> bytes:
    """The digest of bytes whose links are cut already (see :func:`links_cut`)."""
    return hashlib.blake2b(content, digest_size=DIGEST_BYTES).digest()


def links_cut(body: bytes, api_base: str | None) -> bytes:
    """``body`` with ``api_base`` cut from its links. A link lies inside one record, so
    a page's body cut once and then cut into records gives each record's bytes cut."""
    return body.replace(_link_under(api_base), _LINK) if api_base else body


_LINK = b'_href":"'


def span_digests(
    body: bytes, ids: Sequence[Any], rows: Sequence[int], api_base: str | None
) -> list[bytes] | None:
    """The digests of records ``rows`` of a list body (``ids``: the page's ids in order),
    each of its bytes with the links cut, as :func:`content_digest` gives them; None when
    the body is not laid out for cutting records from it (see
    :func:`.body_reader.record_spans`). Few rows (a full sync's newest records): each
    record's bytes are cut alone; many (a run right after a bulk change): the links are
    cut from the whole body once (~1 ms of a 2 MB page, which the first way spares the
    pages of a full sync, nearly all of which have a few)."""
    if api_base and len(rows) * 4 < len(ids):
        spans = record_spans(body, ids, rows)
        if spans is None:
            return None
        return [bytes_digest(links_cut(body[a:b], api_base)) for a, b in spans]
    cut = links_cut(body, api_base)
    spans = record_spans(cut, ids, rows)
    if spans is None:
        return None
    view = memoryview(cut)
    return [bytes_digest(view[a:b]) for a, b in spans]


@lru_cache(maxsize=8)
def _link_under(api_base: str) -> bytes:
    """The bytes a link under ``api_base`` starts with (made once per base, not per record)."""
    return _LINK + api_base.rstrip("/").encode()


class Boundary:
    """The records at or after the cursor that a run already loaded, by id and content.

    The inclusive cursor makes every run re-read the records at the boundary (same
    second as the newest, or inside the lag window). Re-reading them is what makes the
    rule safe; re-*loading* them is noise: they would show up as "changed" on every run.
    So a run remembers ``{id: digest}`` of the records it saw at or after the next cursor,
    and the next run skips a record only when its id and its content are both unchanged
    (a record updated again in the same second has new content and is loaded).

    Bounded: past :data:`MAX_ENTRIES` records at the boundary (a bulk import stamping one
    second), nothing is remembered and those records are simply loaded again.

    :mod:`.boundary_store` keeps the remembered records between runs.
    """

    MAX_ENTRIES = 20_000

    def __init__(
        self, previous: Mapping[str, bytes] | None = None, api_base: str | None = None
    ) -> None:
        self.api_base = api_base  # cut from links before digesting (see content_digest)
        # what the previous run remembered, for the cursor this run starts from
        self.previous: Mapping[str, bytes] = previous or {}
        self._window_start: str | None = None
        self._window: dict[str, tuple[str, bytes]] = {}  # id -> (lastUpdated, digest)
        self._top: dict[str, tuple[str, bytes]] = {}  # records at the newest second so far
        self._newest: str | None = None
        self._overflow = False

    def start_window(self, window_start: str) -> None:
        """Records updated at or after ``window_start`` (sweep start - lag) are remembered."""
        if self._window_start is None:
            self._window_start = window_start

    def already_loaded(
        self,
        record_id: Any,
        last_updated: str | None,
        content: Content | None = None,
        *,
        digest: bytes | None = None,
    ) -> bool:
        """Note the record; True when the previous run loaded exactly this content.
        ``content``: the record's JSON text as the API sent it (:func:`content_digest`),
        digested only when the record is remembered or is to be; or its ``digest``."""
        rid = str(record_id)
        known = self.previous.get(rid)
        if known is not None and digest is None:
            digest = content_digest(content, self.api_base)  # type: ignore[arg-type]
        if last_updated is not None and not self._overflow:
            in_window = self._window_start is not None and last_updated >= self._window_start
            at_top = self._newest is None or last_updated >= self._newest
            if in_window or at_top:
                digest = digest or content_digest(content, self.api_base)  # type: ignore[arg-type]
                if in_window:
                    self._window[rid] = (last_updated, digest)
                if at_top:
                    if self._newest is None or last_updated > self._newest:
                        self._newest = last_updated
                        self._top = {}
                    self._top[rid] = (last_updated, digest)
                # every window and newest-second record would be kept (the next cursor
                # is at or before both), so past MAX_ENTRIES of either nothing will be:
                # stop digesting now (a bulk change just before the run: 30k records)
                if max(len(self._window), len(self._top)) > self.MAX_ENTRIES:
                    self._overflow = True
                    self._window, self._top = {}, {}
        return known is not None and known == digest

    def rows_to_check(
        self, ids: pa.Array, last_updated: pa.Array | None, page_newest: str | None
    ) -> list[int]:
        """The rows of a page (its ``id`` and ``lastUpdated`` columns, in page order) that
        :meth:`already_loaded` must see; for the others it would do nothing: their id was
        not remembered by the previous run, and they are neither in the lag window nor
        at the newest second (which, after this page, is ``page_newest`` or newer)."""
        check = None
        if last_updated is not None and not self._overflow:
            top = max(filter(None, (self._newest, page_newest)), default=None)
            floors = [t for t in (self._window_start, top) if t is not None]
            if floors:
                check = pc.fill_null(pc.greater_equal(last_updated, min(floors)), False)
        rows = pc.indices_nonzero(check).to_pylist() if check is not None else []
        if self.previous:
            # a set lookup per id: pc.is_in would hash the whole remembered set (up to
            # MAX_ENTRIES ids) again for every page (~6x slower at 20k)
            known = self.previous
            remembered = [
                i for i, rid in enumerate(ids.to_pylist()) if rid is not None and str(rid) in known
            ]
            if remembered:
                rows = sorted(set(rows).union(remembered))
        return rows

    def remembered(self, next_cursor: str | None) -> dict[str, bytes] | None:
        """``{id: digest}`` to keep for the run that will start from ``next_cursor``;
        None when nothing is to be kept (no cursor, or more than :data:`MAX_ENTRIES`)."""
        if next_cursor is None or self._overflow:
            return None
        seen = {
            rid: digest
            for part in (self._window, self._top)
            for rid, (lu, digest) in part.items()
            if lu >= next_cursor
        }
        return None if len(seen) > self.MAX_ENTRIES else seen

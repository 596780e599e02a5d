"""Walking a collection page by page.

Forward-only (the default, ``pagination-type: forward-only``): pages are ordered by id
and ``pageId=N`` means ``id > N``. ConnectWise always sends a ``next`` link, even after
the last page, and that link is not promised to repeat ``conditions``/``fields``; so the
walk does not follow links at all: it re-sends the caller's parameters with
``pageId`` = the last id it got and stops on a short (or empty) page.

Navigable (``page``/``pageSize``), for collections that do not support forward-only:
``page`` counts up from 1 until a short page or a response without a ``next`` link.
Offsets can shift when records are added or deleted during the walk: a record seen on
an earlier page of the walk is dropped from a later one (a load holds each record once),
and the incremental watermark picks up what moved.

Split (forward-only, ``split`` > 1): forward-only paging is sequential, so a big table
costs one round trip per page however many requests the budget allows in flight. After
:data:`SPLIT_AFTER_PAGES` full pages the walk asks for the highest id (one request,
``orderBy=id desc``), cuts the ids left into up to ``split`` ranges and walks them at the
same time, each forward-only from its lower bound (``pageId``) with ``id <= upper`` added
to the conditions; the last range has no upper bound, so records created meanwhile are
not missed. Pages then arrive in no particular order.
"""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .client import ConnectWiseClient, Page
from .conditions import all_of
from .errors import ApiRequestError

MAX_PAGE_SIZE = 1000
SPLIT_AFTER_PAGES = 3  # full pages walked in one range before splitting the rest
# what a reader makes of a page in the fetching thread (e.g. its Arrow tables)
Transform = Callable[[Page], Any]
_NEXT = re.compile(r'<[^>]*>\s*;\s*rel="?next"?', re.IGNORECASE)


def _base(params: Mapping[str, Any] | None, page_size: int) -> dict[str, Any]:
    """The caller's parameters (those set), sent again on every page, with pageSize."""
    base = {k: v for k, v in (params or {}).items() if v is not None}
    base["pageSize"] = page_size
    return base


def first_query(params: Mapping[str, Any] | None, page_size: int) -> dict[str, Any]:
    """The query of a forward-only walk's first request."""
    base = _base(params, page_size)
    base.pop("orderBy", None)  # forward-only is always ordered by id
    return base


def _apply(page: Page, transform: Transform | None) -> tuple[Any, int, Any, Any]:
    """(the page or what ``transform`` made of it, record count, first id, last id); the
    caller drops the page after this, so only the transformed item stays alive."""
    item = transform(page) if transform is not None else page
    count, first, last = page.summary()
    return item, count, first, last


def _key(record: Any) -> int | str | None:
    """A record's id when it can tell records apart (an int or a string)."""
    key = record.get("id") if isinstance(record, dict) else None
    return key if isinstance(key, (int, str)) and not isinstance(key, bool) else None


def forward_only_pages(
    client: ConnectWiseClient,
    path: str,
    params: Mapping[str, Any] | None = None,
    *,
    page_size: int = MAX_PAGE_SIZE,
    api_version: str | None = None,
    after: int | None = None,
    transform: Transform | None = None,
    seen: dict[str, Any] | None = None,
    first_page: Page | None = None,
) -> Iterator[Any]:
    """Yield every page of ``path`` with forward-only paging, keeping ``params`` on
    every request; ``after`` starts the walk past that id. With ``transform``, each page
    is turned into ``transform(page)`` in the thread that fetched it and only that is
    yielded (the decoded page is not kept while the walk waits). ``seen`` gets the ids
    of the first record of the walk and the last one so far. ``first_page``: the response
    to the walk's first request (:func:`first_query`), read already."""
    base = first_query(params, page_size)
    page_id: int | None = after
    while True:
        query = dict(base)
        if page_id is not None:
            query["pageId"] = page_id
        if first_page is not None:
            page, first_page = first_page, None
        else:
            page = client.get_page(path, query, forward_only=True, api_version=api_version)
        item, count, first, last = _apply(page, transform)
        del page
        if count and page_id is not None and (not isinstance(first, int) or first <= page_id):
            raise ApiRequestError(
                f"/{path}: a forward-only page after id {page_id} started at id {first}"
            )
        if seen is not None:
            seen["count"] = count
            if count:
                seen.setdefault("first", first)
                seen["last"] = last
        yield item
        del item
        if count < page_size:
            return
        if not isinstance(last, int) or (page_id is not None and last <= page_id):
            raise ApiRequestError(f"/{path}: forward-only paging did not advance past id {page_id}")
        page_id = last


def navigable_pages(
    client: ConnectWiseClient,
    path: str,
    params: Mapping[str, Any] | None = None,
    *,
    page_size: int = MAX_PAGE_SIZE,
    api_version: str | None = None,
    transform: Transform | None = None,
) -> Iterator[Any]:
    """Yield every page of ``path`` with ``page``/``pageSize`` paging (``transform``: as
    for :func:`forward_only_pages`)."""
    base = _base(params, page_size)
    base.setdefault("orderBy", "id asc")
    number = 1
    given: set[Any] = set()  # ids of the walk so far (navigable collections are small)
    while True:
        page = client.get_page(path, {**base, "page": number}, api_version=api_version)
        more = bool(_NEXT.search(page.headers.get("Link") or ""))
        count = len(page.records)
        ids = [_key(r) for r in page.records]
        if any(i in given for i in ids if i is not None):
            kept = [
                r for r, i in zip(page.records, ids, strict=True) if i is None or i not in given
            ]
            page = Page(kept, page.headers)
        given.update(i for i in ids if i is not None)
        item, _, _, _ = _apply(page, transform)
        del page
        yield item
        del item
        if count < page_size or not more:
            return
        number += 1


def split_pages(
    client: ConnectWiseClient,
    path: str,
    params: Mapping[str, Any] | None = None,
    *,
    split: int = 4,
    page_size: int = MAX_PAGE_SIZE,
    api_version: str | None = None,
    transform: Transform | None = None,
    first_page: Page | None = None,
) -> Iterator[Any]:
    """Every page of ``path``, forward-only, the tail of a big collection walked as up to
    ``split`` id ranges at once (see the module docstring; ``transform``, ``first_page``:
    as for :func:`forward_only_pages`)."""
    walked = 0
    seen: dict[str, Any] = {}
    for item in forward_only_pages(
        client, path, params, page_size=page_size, api_version=api_version,
        transform=transform, seen=seen, first_page=first_page,
    ):  # fmt: skip
        yield item
        del item
        if seen["count"] < page_size:
            return
        walked += 1
        if walked >= SPLIT_AFTER_PAGES:
            break
    else:  # pragma: no cover - a walk of full pages only ends by the break above
        return
    first_id, last_id = seen.get("first"), seen.get("last")
    assert isinstance(first_id, int) and isinstance(last_id, int)
    conditions = (params or {}).get("conditions")
    top_page = client.get_page(
        path,
        {"conditions": conditions, "orderBy": "id desc", "pageSize": 1, "fields": "id", "page": 1}
        if conditions
        else {"orderBy": "id desc", "pageSize": 1, "fields": "id", "page": 1},
        api_version=api_version,
    )
    top = top_page.records[0].get("id") if top_page.records else None
    if not isinstance(top, int) or top <= last_id:
        top = last_id
    # ids per record seen so far -> records (and pages) left -> ranges
    density = max((last_id - first_id) / max(walked * page_size - 1, 1), 1.0)
    pages_left = (top - last_id) / density / page_size
    ranges = max(1, min(int(split), int(pages_left // 2)))
    step = (top - last_id) / ranges
    bounds = [last_id + round(step * i) for i in range(ranges)] + [None]
    walks = [
        (
            lower,
            {**(params or {}), "conditions": all_of(conditions, f"id <= {upper}")}
            if upper is not None
            else dict(params or {}),
        )
        for lower, upper in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    if len(walks) == 1:
        yield from forward_only_pages(
            client, path, params, page_size=page_size, api_version=api_version, after=last_id,
            transform=transform,
        )  # fmt: skip
        return
    yield from _parallel(client, path, walks, page_size, api_version, transform)


_DONE = object()


def _parallel(
    client: ConnectWiseClient,
    path: str,
    walks: list[tuple[int, dict[str, Any]]],
    page_size: int,
    api_version: str | None,
    transform: Transform | None = None,
) -> Iterator[Any]:
    """Pages of several forward-only walks, as they arrive; the first error stops all.

    Memory: a decoded page is big (~15 MB for 1000 tickets), so pages fetched ahead of
    their consumer are bounded for the whole run: a walker takes a permit from the
    run-wide ``budget.range_pages`` before each request and the consumer gives it back
    once it has taken the page. So that every table always progresses (dlt may leave a
    table's consumer suspended while its pages hold permits), each table also has one
    pass of its own that its walkers use when no run-wide permit is free."""
    out: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()
    permits = client.budget.range_pages
    own = threading.BoundedSemaphore(1)

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def permit() -> threading.BoundedSemaphore | None:
        while not stop.is_set():
            if permits.acquire(blocking=False):
                return permits
            if own.acquire(timeout=0.05):
                return own
        return None

    def walk(after: int, params: dict[str, Any]) -> None:
        walker = forward_only_pages(
            client, path, params, page_size=page_size, api_version=api_version, after=after,
            transform=transform,
        )  # fmt: skip
        try:
            while True:
                taken = permit()
                if taken is None:
                    return
                try:
                    page = next(walker)
                except StopIteration:
                    taken.release()
                    put(_DONE)
                    return
                except BaseException:
                    taken.release()
                    raise
                if not put((taken, page)):
                    taken.release()
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)

    pool = ThreadPoolExecutor(max_workers=len(walks), thread_name_prefix="cw-range")
    held: threading.BoundedSemaphore | None = None  # the permit of the page being consumed
    try:
        for after, params in walks:
            pool.submit(walk, after, params)
        running = len(walks)
        while running:
            item = out.get()
            if item is _DONE:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                held, page = item
                yield page
                held.release()
                held = None
    finally:
        stop.set()  # walkers waiting on the queue or for a permit give up within 0.2 s
        if held is not None:
            held.release()
        pool.shutdown(wait=True, cancel_futures=True)
        while True:  # pages nobody will consume give their permits back
            try:
                item = out.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, tuple):
                item[0].release()


def pages(
    client: ConnectWiseClient,
    path: str,
    params: Mapping[str, Any] | None = None,
    *,
    forward_only: bool = True,
    page_size: int = MAX_PAGE_SIZE,
    api_version: str | None = None,
    split: int = 1,
    transform: Transform | None = None,
    first_page: Page | None = None,
) -> Iterator[Any]:
    """Every page of ``path``: forward-only (split into ``split`` id ranges walked at once
    when the collection is big) or navigable. With ``transform``, each page is yielded as
    ``transform(page)``, computed in the thread that fetched the page. ``first_page``:
    the response to a forward-only walk's first request, read already (see
    :mod:`.first_look`)."""
    if forward_only and split > 1:
        return split_pages(
            client, path, params, split=split, page_size=page_size, api_version=api_version,
            transform=transform, first_page=first_page,
        )  # fmt: skip
    if forward_only:
        return forward_only_pages(
            client, path, params, page_size=page_size, api_version=api_version,
            transform=transform, first_page=first_page,
        )  # fmt: skip
    if first_page is not None:
        raise ValueError("a first page read ahead is for forward-only walks")
    return navigable_pages(
        client, path, params, page_size=page_size, api_version=api_version, transform=transform
    )

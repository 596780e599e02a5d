"""Walking a collection page by page.

Forward-only (the default, ``pagination-type: forward-only``): pages are ordered by id
and ``pageId=N`` means ``id > N``. ConnectWise always sends a ``next`` link, even after
the last page, and that link is not promised to repeat ``conditions``/``fields``; so the
walk does not follow links at all: it re-sends the caller's parameters with
``pageId`` = the last id it got and stops on a short (or empty) page.

Navigable (``page``/``pageSize``), for collections that do not support forward-only:
``page`` counts up from 1 until a short page or a response without a ``next`` link.
Offsets can shift when records are added or deleted during the walk; merging on ``id``
absorbs the duplicates, and the incremental watermark picks up what moved.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from .client import ConnectWiseClient, Page
from .errors import ApiRequestError

MAX_PAGE_SIZE = 1000
_NEXT = re.compile(r'<[^>]*>\s*;\s*rel="?next"?', re.IGNORECASE)


def _base(params: Mapping[str, Any] | None, page_size: int) -> dict[str, Any]:
    """The caller's parameters (those set), sent again on every page, with pageSize."""
    base = {k: v for k, v in (params or {}).items() if v is not None}
    base["pageSize"] = page_size
    return base


def forward_only_pages(
    client: ConnectWiseClient,
    path: str,
    params: Mapping[str, Any] | None = None,
    *,
    page_size: int = MAX_PAGE_SIZE,
    api_version: str | None = None,
) -> Iterator[Page]:
    """Yield every page of ``path`` with forward-only paging, keeping ``params`` on
    every request."""
    base = _base(params, page_size)
    base.pop("orderBy", None)  # forward-only is always ordered by id
    page_id: int | None = None
    while True:
        query = dict(base)
        if page_id is not None:
            query["pageId"] = page_id
        page = client.get_page(path, query, forward_only=True, api_version=api_version)
        yield page
        if len(page.records) < page_size:
            return
        last = page.records[-1].get("id")
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
) -> Iterator[Page]:
    """Yield every page of ``path`` with ``page``/``pageSize`` paging."""
    base = _base(params, page_size)
    base.setdefault("orderBy", "id asc")
    number = 1
    while True:
        page = client.get_page(path, {**base, "page": number}, api_version=api_version)
        yield page
        if len(page.records) < page_size or not _NEXT.search(page.headers.get("Link") or ""):
            return
        number += 1


def pages(
    client: ConnectWiseClient,
    path: str,
    params: Mapping[str, Any] | None = None,
    *,
    forward_only: bool = True,
    page_size: int = MAX_PAGE_SIZE,
    api_version: str | None = None,
) -> Iterator[Page]:
    walk = forward_only_pages if forward_only else navigable_pages
    return walk(client, path, params, page_size=page_size, api_version=api_version)

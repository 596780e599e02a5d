"""The ConnectWise Manage dlt source.

``connectwise_source()`` turns every row of the endpoint table (:mod:`.settings`) into a
dlt resource:

* top-level collections with a ``lastUpdated`` cursor are read incrementally
  (``conditions=lastUpdated >= [cursor]``, forward-only pages of 1000) and merged on
  ``id``; the cursor follows the watermark rule in :mod:`.watermark`;
* collections without ``_info`` (small setup tables) are replaced in full;
* per-parent collections (``service/tickets/{id}/notes``) are dlt transformers fed by
  their parent: they are fetched only for the parents read in this run (those that
  changed), a few parents at a time, and every row carries ``parent_id``.

Configuration comes from the ``sources.connectwise`` section (see ``.dlt/``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dlt
from dlt.sources import DltResource

from .client import ConnectWiseClient, RequestStats
from .conditions import all_of, to_utc_iso, updated_since
from .errors import ConfigurationError
from .normalize import normalize_record
from .paginator import MAX_PAGE_SIZE as PAGE_SIZE_MAX
from .paginator import pages
from .retry import RetryPolicy
from .settings import BY_TABLE, DEFAULT_API_VERSION, ENDPOINTS, PAGE_SIZE, Endpoint
from .throttle import DEFAULT_MAX_IN_FLIGHT, DEFAULT_REQUESTS_PER_SECOND, RequestBudget
from .watermark import Boundary, Watermark, record_digest

__all__ = [
    "DELETED_AT",
    "ENDPOINTS",
    "client_from_config",
    "connectwise_source",
    "resolve_tables",
    "table_conditions",
]

log = logging.getLogger("cwsync.connectwise")

CURSOR_PATH = "_info.lastUpdated"
CUSTOM_FIELD_HINTS = {
    "custom_fields": dlt.mark.make_nested_hints(
        columns=[
            {"name": "value", "data_type": "text", "nullable": True},
            {"name": "caption", "data_type": "text", "nullable": True},
            {"name": "type", "data_type": "text", "nullable": True},
            {"name": "entry_method", "data_type": "text", "nullable": True},
            {"name": "id", "data_type": "bigint", "nullable": True},
            {"name": "record_id", "data_type": "bigint", "nullable": True},
            {"name": "number_of_decimals", "data_type": "bigint", "nullable": True},
        ]
    )
}


def resolve_tables(selected: Sequence[str] | None) -> list[str]:
    """Table names to load for a ``--resources`` selection: unknown names are an error,
    and a per-parent table brings its parent along (the parent's changed rows are what
    it is fetched for, and the parent's cursor must not advance without loading it)."""
    if not selected:
        return [e.table for e in ENDPOINTS]
    wanted: list[str] = []
    for name in selected:
        name = name.strip()
        if not name:
            continue
        if name not in BY_TABLE:
            close = [t for t in BY_TABLE if name.replace("-", "_") in t][:3]
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ConfigurationError(f"unknown table {name!r} in --resources{hint}")
        chain = [name]
        while BY_TABLE[chain[-1]].parent_table:
            chain.append(BY_TABLE[chain[-1]].parent_table)  # type: ignore[arg-type]
        for table in reversed(chain):
            if table not in wanted:
                wanted.append(table)
    return wanted


def client_from_config(**overrides: Any) -> ConnectWiseClient:
    """A client configured like the source (``sources.connectwise`` in ``.dlt/`` or the
    environment), for work outside a pipeline run (``cwsync verify``)."""

    def get(key: str, secret: bool = False) -> Any:
        if key in overrides:
            return overrides[key]
        getter = dlt.secrets.get if secret else dlt.config.get
        value = getter(f"sources.connectwise.{key}")
        if value is None and not secret:
            value = dlt.secrets.get(f"sources.connectwise.{key}")
        return value

    return ConnectWiseClient(
        company_id=get("company_id") or "",
        public_key=get("public_key", True) or "",
        private_key=get("private_key", True) or "",
        client_id=get("client_id", True) or "",
        site=get("site"),
        base_url=get("base_url"),
        api_version=get("api_version") or DEFAULT_API_VERSION,
    )


def table_conditions(value: Mapping[str, str] | None) -> dict[str, str]:
    """Validated per-table ``conditions`` (user filters): top-level tables only."""
    out: dict[str, str] = {}
    for table, text in (value or {}).items():
        endpoint = BY_TABLE.get(str(table))
        if endpoint is None:
            raise ConfigurationError(f"unknown table {table!r} in conditions")
        if endpoint.is_child:
            raise ConfigurationError(
                f"conditions cannot filter the per-parent table {table}: filter its parent "
                f"{endpoint.parent_table} instead"
            )
        if not isinstance(text, str) or not text.strip():
            raise ConfigurationError(f"empty condition for {table}")
        out[str(table)] = text.strip()
    return out


def _parse_versions(value: Mapping[str, str] | str | None) -> dict[str, str]:
    if not value:
        return {}
    if isinstance(value, str):  # "service_tickets=2024.1,company_companies=2025.8"
        pairs = [p.split("=", 1) for p in value.split(",") if p.strip()]
        value = {k.strip(): v.strip() for k, v in pairs}
    for table in value:
        if table not in BY_TABLE:
            raise ConfigurationError(f"unknown table {table!r} in api_versions")
    return dict(value)


@dlt.source(name="connectwise", section="connectwise")
def connectwise_source(
    company_id: str | None = dlt.config.value,
    public_key: str | None = dlt.secrets.value,
    private_key: str | None = dlt.secrets.value,
    client_id: str | None = dlt.secrets.value,
    site: str | None = dlt.config.value,
    base_url: str | None = dlt.config.value,
    api_version: str = DEFAULT_API_VERSION,
    api_versions: dict[str, str] | None = dlt.config.value,
    start_date: str | None = dlt.config.value,
    conditions: dict[str, str] | None = dlt.config.value,
    cursor_lag_seconds: float = 60.0,
    page_size: int = PAGE_SIZE,
    max_attempts: int = 8,
    backoff_seconds: float = 0.5,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    requests_per_second: float = DEFAULT_REQUESTS_PER_SECOND,
    child_workers: int | None = None,
    tables: Sequence[str] | None = None,
    client: ConnectWiseClient | None = None,
    stats: RequestStats | None = None,
    advance_cursors: bool = True,
) -> Iterable[DltResource]:
    """Every collection of the endpoint table as a dlt resource.

    Args:
        company_id, public_key, private_key, client_id: credentials (``.dlt/secrets.toml``).
        site: ConnectWise site, e.g. ``na.myconnectwise.net`` (the API base is discovered).
        base_url: full API base, e.g. ``https://cw.example.com/v4_6_release/apis/3.0``;
            skips discovery (on-premise, the sandbox).
        api_version: model version for the ``Accept`` header; ``api_versions`` pins
            single tables (``{"service_tickets": "2024.1"}``).
        start_date: lower bound of the first backfill (by ``lastUpdated``).
        conditions: per-table filters in the conditions grammar, added to every request of
            that table (``{"service_tickets": 'board/name = "Help Desk"'}``).
        cursor_lag_seconds: safety margin of the watermark (see ``watermark.py``).
        page_size: records per page (max 1000).
        max_attempts: tries per request before the run fails (see ``retry.py``).
        backoff_seconds: first retry delay; doubles per attempt, with jitter, up to 30 s.
        max_in_flight, requests_per_second: the request budget shared by the whole run
            (endpoints are read in parallel; see ``throttle.py``); 0 requests/s = no cap.
        child_workers: threads fetching per-parent collections (default: max_in_flight).
        tables: table names to load (default all); parents of per-parent tables are added.
        client: a ready client (tests); built from the arguments otherwise.
        stats: counters of requests/retries/records to update (the run summary).
        advance_cursors: False for a targeted read (``conditions`` that pick records,
            e.g. ``id in (1,2)``, as the callbacks receiver sends): incremental tables
            are read without the cursor condition and their cursors and boundary state
            stay as they are, since a filtered read proves nothing about other records.
    """
    if not 1 <= int(page_size) <= PAGE_SIZE_MAX:
        raise ConfigurationError(f"page_size must be between 1 and {PAGE_SIZE_MAX}")
    start = to_utc_iso(start_date) if start_date else None
    versions = _parse_versions(api_versions)
    filters = table_conditions(conditions)
    if client is None:
        client = ConnectWiseClient(
            company_id=company_id or "",
            public_key=public_key or "",
            private_key=private_key or "",
            client_id=client_id or "",
            site=site,
            base_url=base_url,
            api_version=api_version,
            retry=RetryPolicy(max_attempts=max_attempts, base_delay=float(backoff_seconds)),
            budget=RequestBudget(int(max_in_flight), float(requests_per_second or 0) or None),
        )
    if stats is not None:
        client.stats = stats
        stats.client = client
    dlt.current.source_schema().add_type_detection("iso_timestamp")

    wanted = resolve_tables(tables)
    built: dict[str, DltResource] = {}
    for table in wanted:
        endpoint = BY_TABLE[table]
        version = versions.get(table)
        if endpoint.is_child:
            parent = built[endpoint.parent_table]  # type: ignore[index]
            built[table] = parent | _child_resource(
                client, endpoint, version, int(page_size), int(child_workers or max_in_flight)
            )
        elif endpoint.incremental:
            built[table] = _incremental_resource(
                client,
                endpoint,
                version,
                start,
                float(cursor_lag_seconds),
                int(page_size),
                filters.get(table),
                advance=advance_cursors,
            )
        else:
            built[table] = _replace_resource(
                client, endpoint, version, int(page_size), filters.get(table)
            )
    return list(built.values())


DELETED_AT = "_cw_deleted_at"  # set by the delete reconciliation; null for live rows


def _hints(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "name": endpoint.table,
        "table_name": endpoint.table,
        "primary_key": endpoint.primary_key,
        "nested_hints": CUSTOM_FIELD_HINTS,
        "columns": {DELETED_AT: {"data_type": "timestamp", "nullable": True}},
    }


def _incremental_resource(
    client: ConnectWiseClient,
    endpoint: Endpoint,
    version: str | None,
    start: str | None,
    lag_seconds: float,
    page_size: int,
    user_filter: str | None = None,
    advance: bool = True,
) -> DltResource:
    cursor_arg = dlt.sources.incremental(CURSOR_PATH, initial_value=start, primary_key=())

    def read(updated: dlt.sources.incremental[str] = cursor_arg) -> Iterator[list[dict]]:
        # The range is applied by the API (conditions), so dlt must not filter rows by
        # the cursor; the next cursor is set by the watermark rule, not by max(seen).
        updated.advance(None)
        cursor = updated.start_value
        mark = Watermark(previous=cursor, lag_seconds=lag_seconds)
        state = dlt.current.resource_state()
        boundary = Boundary(state.get("boundary"), cursor)
        since = updated_since(cursor, endpoint.cursor) if cursor and advance else None
        conditions = all_of(user_filter, since)
        params = {"conditions": conditions} if conditions else {}
        for page in pages(
            client,
            endpoint.path,
            params,
            forward_only=endpoint.forward_only,
            page_size=page_size,
            api_version=version,
        ):
            if mark.sweep_started is None:
                mark.saw_response(page.headers.get("Date"))
                boundary.start_window(mark.window_start())
            rows = []
            for record in page.records:
                info = record.get("_info")
                last_updated = info.get("lastUpdated") if isinstance(info, dict) else None
                mark.saw(last_updated)
                if boundary.already_loaded(record, last_updated):
                    continue
                rows.append(normalize_record(record))
            if rows:
                yield rows
        next_cursor = mark.next_cursor()
        if next_cursor is not None and advance:
            updated.advance(next_cursor)
            state["boundary"] = boundary.state_for(next_cursor)

    return dlt.resource(read, write_disposition="merge", parallelized=True, **_hints(endpoint))


def _replace_resource(
    client: ConnectWiseClient,
    endpoint: Endpoint,
    version: str | None,
    page_size: int,
    user_filter: str | None = None,
) -> DltResource:
    def read() -> Iterator[list[dict]]:
        records: list[dict] = []
        for page in pages(
            client,
            endpoint.path,
            {"conditions": user_filter} if user_filter else {},
            forward_only=endpoint.forward_only,
            page_size=page_size,
            api_version=version,
        ):
            records.extend(page.records)
        # dlt truncates a "replace" table even when its resource yields nothing, so the
        # rows are always loaded; a content digest (kept in the source state, as dlt
        # resets the state of replace resources) tells the run summary whether the table
        # really changed.
        state = dlt.current.source_state()
        digests = state.setdefault("replaced_digests", {})
        unchanged = set(state.get("replaced_unchanged") or [])
        digest = record_digest({"records": records})
        if digests.get(endpoint.table) == digest:
            unchanged.add(endpoint.table)
        else:
            unchanged.discard(endpoint.table)
            digests[endpoint.table] = digest
        state["replaced_unchanged"] = sorted(unchanged)
        if records:
            yield [normalize_record(r) for r in records]

    return dlt.resource(read, write_disposition="replace", parallelized=True, **_hints(endpoint))


def _child_resource(
    client: ConnectWiseClient,
    endpoint: Endpoint,
    version: str | None,
    page_size: int,
    workers: int,
) -> DltResource:
    def fetch_one(parent_id: int) -> list[dict]:
        rows: list[dict] = []
        for page in pages(
            client,
            endpoint.child_path(parent_id),
            {},
            forward_only=endpoint.forward_only,
            page_size=page_size,
            api_version=version,
        ):
            rows.extend(normalize_record(r, parent_id=parent_id) for r in page.records)
        return rows

    def read(parents: list[dict] | dict) -> Iterator[list[dict]]:
        batch = parents if isinstance(parents, list) else [parents]
        ids = [p["id"] for p in batch if isinstance(p, dict) and isinstance(p.get("id"), int)]
        if not ids:
            return
        if workers <= 1 or len(ids) == 1:
            results: Iterable[list[dict]] = map(fetch_one, ids)
            for rows in results:
                if rows:
                    yield rows
            return
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cw-child") as pool:
            for rows in pool.map(fetch_one, ids):
                if rows:
                    yield rows

    return dlt.transformer(read, write_disposition="merge", **_hints(endpoint))

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
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.compute as pc
from dlt.sources import DltResource

from .body_reader import (
    BodyRecords,
    inferred_type,
    read_records,
    reader_schema,
    values_are_text,
)
from .boundary_store import BoundaryStore
from .client import ConnectWiseClient, Page, RequestStats
from .conditions import to_utc_iso
from .errors import ConfigurationError
from .first_look import CURSOR_PATH, FirstLook, kept_cursor, walk_params
from .normalize import CUSTOM_FIELD_TYPES, LIST_INDEX, TIMESTAMP, PageNormalizer, TableBatch
from .page_types import PageTypes
from .paginator import MAX_PAGE_SIZE as PAGE_SIZE_MAX
from .paginator import pages
from .retry import RetryPolicy
from .settings import BY_TABLE, DEFAULT_API_VERSION, ENDPOINTS, PAGE_SIZE, Endpoint
from .throttle import DEFAULT_MAX_IN_FLIGHT, DEFAULT_REQUESTS_PER_SECOND, RequestBudget
from .watermark import Boundary, Watermark, record_digest, span_digests

__all__ = [
    "DELETED_AT",
    "ENDPOINTS",
    "client_from_config",
    "list_tables_of",
    "connectwise_source",
    "resolve_tables",
    "table_conditions",
]

log = logging.getLogger("cwsync.connectwise")


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
    split_ranges: int | None = None,
    tables: Sequence[str] | None = None,
    client: ConnectWiseClient | None = None,
    stats: RequestStats | None = None,
    advance_cursors: bool = True,
    page_types_dir: str | None = None,
    boundary_dir: str | None = None,
    first_look: FirstLook | None = None,
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
        split_ranges: id ranges a big collection's tail is walked in at once (default:
            max_in_flight; 1 = one sequential walk; see ``paginator.py``).
        tables: table names to load (default all); parents of per-parent tables are added.
        client: a ready client (tests); built from the arguments otherwise.
        stats: counters of requests/retries/records to update (the run summary).
        advance_cursors: False for a targeted read (``conditions`` that pick records,
            e.g. ``id in (1,2)``, as the callbacks receiver sends): incremental tables
            are read without the cursor condition and their cursors and boundary state
            stay as they are, since a filtered read proves nothing about other records.
        page_types_dir: a local folder keeping the Arrow type of each table's pages
            between runs, so a run's first pages are read into Arrow too (see
            ``page_types.py``; the pipeline passes its working folder). None: not kept.
        boundary_dir: a local folder keeping the records a run re-reads at the cursor
            when there are many (see ``boundary_store.py``). None: kept in the state.
        first_look: takes the incremental tables, to read their first pages as the
            extract starts and end the walks of the unchanged ones there (see
            ``first_look.py``; the pipeline passes one for each run).
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

    split = int(split_ranges or max_in_flight or 1)
    types = PageTypes(page_types_dir) if page_types_dir else None
    store = BoundaryStore(boundary_dir)
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
                split,
                advance=advance_cursors,
                types=types,
                store=store,
                first_look=first_look,
            )
        else:
            built[table] = _replace_resource(
                client, endpoint, version, int(page_size), filters.get(table), split
            )
    if first_look is not None and advance_cursors:
        first_look.register(
            client,
            store,
            start=start,
            page_size=int(page_size),
            tables={
                t: (versions.get(t), filters.get(t))
                for t in wanted
                if BY_TABLE[t].incremental and not BY_TABLE[t].is_child
            },
        )
    return list(built.values())


DELETED_AT = "_cw_deleted_at"  # set by the delete reconciliation; null for live rows


# A record comes once per load: forward-only pages advance by id (each page starts past
# the one before, checked by the paginator), split ranges are disjoint, and a first page
# read ahead (first_look.py) replaces the walk's first request. So the staged rows need
# no dedup pass before the merge (a window over the staged rows by id: ~3x the cost of
# the insert, time entries of the large benchmark tenant's incremental run 77 -> 23 ms).
MERGE_ONCE: dict[str, Any] = {"disposition": "merge", "deduplicated": True}


def _hints(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "name": endpoint.table,
        "table_name": endpoint.table,
        "primary_key": endpoint.primary_key,
    }


def list_tables_of(table: str, names: Iterable[str]) -> list[str]:
    """The list tables (``<table>__custom_fields``, ``<table>__types``…) among ``names``."""
    return [n for n in names if n.startswith(table + "__")]


def _normalizer(table: str) -> PageNormalizer:
    """A page normalizer that names columns like the pipeline's schema and keeps the
    types the schema already has."""
    try:
        schema = dlt.current.source_schema()
    except Exception:  # outside a pipeline (direct iteration in tests)
        schema = None
    if schema is None:
        from dlt.common.normalizers.naming.snake_case import NamingConvention

        return PageNormalizer(table, NamingConvention().normalize_identifier)

    def known(table_name: str, column: str) -> str | None:
        return schema.tables.get(table_name, {}).get("columns", {}).get(column, {}).get("data_type")

    return PageNormalizer(table, schema.naming.normalize_identifier, known)


def _items(tables: Mapping[str, Any], endpoint: Endpoint, write_disposition: str) -> Iterator[Any]:
    """Arrow tables of one page as dlt items: the endpoint's table as is, list tables as
    table variants merged on record_id (a record's rows replace all it had)."""
    for name, table in tables.items():
        if name == endpoint.table:
            # a (re)loaded record is live: the merge clears a mark set by a delete sweep
            table = table.append_column(
                pa.field(DELETED_AT, TIMESTAMP, nullable=True), pa.nulls(table.num_rows, TIMESTAMP)
            )
            if write_disposition == "append":  # a first sync (see _incremental_resource)
                table = dlt.mark.with_hints(table, dlt.mark.make_hints(write_disposition="append"))
            yield table
            continue
        # Merged on record_id alone: a record's rows replace all it had. No primary key:
        # dlt would delete on "primary key OR merge key", a join DuckDB and Postgres cannot
        # hash (at 6M custom-field rows it ran out of DuckDB's memory cap). Rows are unique
        # without dedup: a record comes once per load (forward-only pages advance by id,
        # split ranges are disjoint, navigable walks drop ids they already gave) and its
        # elements have distinct (id or _idx) keys.
        hints = dlt.mark.make_hints(
            table_name=name,
            write_disposition=write_disposition,
            # not the parent's "id", which a variant would take; a key that schemas of
            # earlier versions hold is cleared by the pipeline (sync.drop_list_table_keys)
            primary_key=[],
            merge_key="record_id" if write_disposition == "merge" else None,
            columns=_list_columns(name),
        )
        yield dlt.mark.with_hints(table, hints, create_table_variant=True)


def _list_columns(name: str) -> list[dict[str, Any]]:
    if name.endswith("__custom_fields"):
        return [
            {"name": c, "data_type": t, "nullable": c != "record_id"}
            for c, t in CUSTOM_FIELD_TYPES.items()
        ]
    return [
        {"name": "record_id", "data_type": "bigint", "nullable": False},
        {"name": LIST_INDEX, "data_type": "bigint", "nullable": False},
    ]


def _incremental_resource(
    client: ConnectWiseClient,
    endpoint: Endpoint,
    version: str | None,
    start: str | None,
    lag_seconds: float,
    page_size: int,
    user_filter: str | None = None,
    split: int = 1,
    advance: bool = True,
    types: PageTypes | None = None,
    store: BoundaryStore | None = None,
    first_look: FirstLook | None = None,
) -> DltResource:
    store = store or BoundaryStore(None)

    def read() -> Iterator[Any]:
        # The range is applied by the API (conditions) and the next cursor is set by the
        # watermark rule, so the cursor is kept in the resource state directly, where
        # dlt.sources.incremental keeps it (resources.<table>.incremental._info.lastUpdated)
        # without its per-row machinery (and its per-resource JSONPath compile: ~0.5 s
        # of an idle run over 112 tables).
        state = dlt.current.resource_state()
        cursor, params = walk_params(endpoint, state, start, user_filter, advance)
        if first_look is not None and first_look.judged_unchanged(endpoint.table, params):
            return  # nothing new since the cursor: not extracted, state untouched
        # The first sync of a table appends: a backfill walks every record once
        # (forward-only by id, ranges disjoint), so there is nothing to merge, and a merge
        # into an empty table costs a delete + dedup pass (medium tenant: load 10.7 s ->
        # 4.2 s). Decided here, after dlt restored state and schema from the destination:
        # no cursor and no data in the table, ever. The cursor is committed with the same
        # load package, so the next run merges.
        first_sync = advance and not kept_cursor(state) and not _has_data(endpoint.table)
        disposition = "append" if first_sync else "merge"
        mark = Watermark(previous=cursor, lag_seconds=lag_seconds)
        kept_boundary = state.get("boundary")
        remembered = store.read(endpoint.table, kept_boundary, cursor)
        boundary = Boundary(remembered, client.base_url)
        normalizer = _normalizer(endpoint.table)
        kept_type = types.load(endpoint.table) if types is not None else None
        normalizer.start_from(kept_type)
        lock = threading.Lock()
        schemas: dict[pa.DataType, tuple[pa.Schema, bool]] = {}

        def tables_of(page: Page) -> dict[str, Any]:
            # Runs in the thread that fetched the page (range walkers too). The body is
            # read straight into Arrow with the type of the pages before, outside the
            # lock (the parse releases the GIL: pages of all tables parse at once); a
            # page the reader refuses is decoded and converted under the table's lock,
            # so at most one decoded page per table is alive; queues hold Arrow tables.
            body, kind = page.body, normalizer.read_type
            inferred = False
            if body is not None and kind is None:  # a first page: the reader types it
                kind = inferred_type(body)
                inferred = kind is not None
            read = None
            if body is not None and kind is not None:
                known = schemas.get(kind)
                if known is None:
                    schemas.clear()
                    known = schemas[kind] = (reader_schema(kind), values_are_text(kind))
                read = read_records(body, known[0], quote_values=known[1])
            with lock:
                if mark.sweep_started is None:
                    mark.saw_response(page.headers.get("Date"))
                    boundary.start_window(mark.window_start())
                if read is not None:
                    if inferred:
                        normalizer.start_from(kind)  # the pages after are read with it
                    tables = _read_tables(page, read, normalizer, mark, boundary)
                    if tables is not None:
                        return tables
                records = []
                for record in page.records:
                    if not isinstance(record, dict):
                        continue
                    info = record.get("_info")
                    last_updated = info.get("lastUpdated") if isinstance(info, dict) else None
                    mark.saw(last_updated)
                    if boundary.already_loaded(record.get("id"), last_updated, record):
                        continue
                    records.append(record)
                refused = body is not None and kind is not None and not inferred  # must widen
                return normalizer.tables(records, fresh_type=refused) if records else {}

        batch = TableBatch(endpoint.table)
        for tables in pages(
            client,
            endpoint.path,
            params,
            forward_only=endpoint.forward_only,
            page_size=page_size,
            api_version=version,
            split=split,
            transform=tables_of,
            first_page=first_look.take(endpoint.table, params) if first_look else None,
        ):
            if batch.add(tables):
                for combined in batch.take():
                    yield from _items(combined, endpoint, disposition)
            del tables
        for combined in batch.take():
            yield from _items(combined, endpoint, disposition)
        ended_with = normalizer.read_type
        if types is not None and ended_with is not None and ended_with != kept_type:
            types.save(endpoint.table, ended_with)
        next_cursor = mark.next_cursor()
        if next_cursor is not None and advance:
            state.setdefault("incremental", {})[CURSOR_PATH] = {
                "initial_value": start,
                "last_value": next_cursor,
            }
            state["boundary"] = store.write(
                endpoint.table, next_cursor, boundary.remembered(next_cursor), kept_boundary
            )

    return dlt.resource(read, write_disposition=MERGE_ONCE, parallelized=True, **_hints(endpoint))


def _read_tables(
    page: Page,
    read: BodyRecords,
    normalizer: PageNormalizer,
    mark: Watermark,
    boundary: Boundary,
) -> dict[str, Any] | None:
    """The tables of a page read into Arrow (:mod:`.body_reader`): the watermark sees
    the page's newest ``lastUpdated``, the boundary the rows it must (digests of their
    bytes in the body, not decoded), and the records the previous run loaded as they are
    now are left out. None: nothing done, the page takes the usual
    way (its ``lastUpdated`` values are not text)."""
    ids = read.column("id")
    if ids is None:
        ids = pa.nulls(len(read), pa.int64())
    last_updated = read.column(*CURSOR_PATH.split("."))
    if last_updated is not None and pa.types.is_null(last_updated.type):
        last_updated = None
    if last_updated is not None and not pa.types.is_string(last_updated.type):
        return None  # not text: the Python walk says what it is
    newest = pc.max(last_updated).as_py() if last_updated is not None else None
    first, last = (ids[0].as_py(), ids[-1].as_py()) if len(read) else (None, None)
    page.read_elsewhere(len(read), first, last)
    mark.saw(newest)
    rows = boundary.rows_to_check(ids, last_updated, newest)
    loaded: set[int] = set()
    if rows:  # their digests, of their bytes in the body (of the decoded page if need be)
        id_list = ids.to_pylist()
        body, digests = page.body, None
        stamps = last_updated.to_pylist() if last_updated is not None else [None] * len(read)
        if body is not None:
            digests = span_digests(body, id_list, rows, boundary.api_base)
        if digests is not None:
            loaded = {
                r
                for r, digest in zip(rows, digests, strict=True)
                if boundary.already_loaded(id_list[r], stamps[r], digest=digest)
            }
        else:
            records = page.records
            loaded = {r for r in rows if boundary.already_loaded(id_list[r], stamps[r], records[r])}
    if loaded:
        read = read.filter([r not in loaded for r in range(len(read))])
    tables = normalizer.tables_from_struct(read.records)
    if tables is None:  # a shape only the Python walk takes
        keep = [r for i, r in enumerate(page.records) if i not in loaded and isinstance(r, dict)]
        tables = normalizer.tables(keep)
    return tables


def _has_data(table: str) -> bool:
    """Whether the pipeline's schema has seen rows of ``table`` (True when unknown)."""
    try:
        schema = dlt.current.source_schema()
        return table in schema.data_table_names(seen_data_only=True)
    except Exception:
        return True


def _replace_resource(
    client: ConnectWiseClient,
    endpoint: Endpoint,
    version: str | None,
    page_size: int,
    user_filter: str | None = None,
    split: int = 1,
) -> DltResource:
    def read() -> Iterator[Any]:
        records: list[dict] = []
        for page in pages(
            client,
            endpoint.path,
            {"conditions": user_filter} if user_filter else {},
            forward_only=endpoint.forward_only,
            page_size=page_size,
            api_version=version,
            split=split,
        ):
            records.extend(r for r in page.records if isinstance(r, dict))
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
            yield from _items(_normalizer(endpoint.table).tables(records), endpoint, "replace")

    return dlt.resource(read, write_disposition="replace", parallelized=True, **_hints(endpoint))


def _child_resource(
    client: ConnectWiseClient,
    endpoint: Endpoint,
    version: str | None,
    page_size: int,
    workers: int,
) -> DltResource:
    def fetch_one(parent_id: int) -> list[dict]:
        records: list[dict] = []
        for page in pages(
            client,
            endpoint.child_path(parent_id),
            {},
            forward_only=endpoint.forward_only,
            page_size=page_size,
            api_version=version,
        ):
            records.extend(r for r in page.records if isinstance(r, dict))
        return records

    def read(parents: Any, meta: Any = None) -> Iterator[Any]:
        if getattr(meta, "create_table_variant", False):
            return  # a list table of the parent (custom fields…), not parent rows
        if isinstance(parents, pa.Table):
            ids = [i for i in parents.column("id").to_pylist() if isinstance(i, int)]
        else:
            batch = parents if isinstance(parents, list) else [parents]
            ids = [p["id"] for p in batch if isinstance(p, dict) and isinstance(p.get("id"), int)]
        if not ids:
            return
        if workers <= 1 or len(ids) == 1:
            results: Iterable[list[dict]] = map(fetch_one, ids)
            yield from _collect(ids, results)
            return
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cw-child") as pool:
            yield from _collect(ids, pool.map(fetch_one, ids))

    def _collect(ids: Sequence[int], results: Iterable[list[dict]]) -> Iterator[Any]:
        normalizer = _normalizer(endpoint.table)
        records: list[dict] = []
        owners: list[int] = []
        for parent_id, rows in zip(ids, results, strict=True):
            records.extend(rows)
            owners.extend([parent_id] * len(rows))
            if len(records) >= page_size:
                yield from _items(normalizer.tables(records, owners), endpoint, "merge")
                records, owners = [], []
        if records:
            yield from _items(normalizer.tables(records, owners), endpoint, "merge")

    return dlt.transformer(read, write_disposition="merge", **_hints(endpoint))

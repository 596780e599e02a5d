"""Proof that the warehouse matches the API: row counts per table, and deletes.

* :func:`verify_counts` compares the API's ``/count`` with the live rows
  (``_cw_deleted_at IS NULL``) of each loaded top-level table.
* :func:`sweep_deletes` reads only ids (``fields=id``, forward-only pages of 1000) and
  marks rows whose record no longer exists: ``_cw_deleted_at`` = the sweep time, also on
  the per-parent rows of a deleted parent; rows whose id is live again are un-marked.
  With ``hard=True`` such rows (and their nested ``__custom_fields`` rows) are deleted
  instead. A mass-delete guard refuses to touch more than ``max_share`` of a table.
* :func:`mark_deleted` is the one place that marks rows, so other sources of deletes (the
  callbacks receiver) feed the same column the same way.

Everything goes through the destination's dlt SQL client, so it works on every SQL
destination dlt loads (DuckDB, Postgres, BigQuery, Snowflake, …).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import dlt
from dlt.destinations.sql_client import SqlClientBase

from sources.connectwise import DELETED_AT, list_tables_of
from sources.connectwise.client import ConnectWiseClient
from sources.connectwise.conditions import all_of, to_utc_iso, updated_since
from sources.connectwise.errors import ConnectWiseError
from sources.connectwise.paginator import forward_only_pages
from sources.connectwise.settings import BY_TABLE, Endpoint, all_endpoints

BATCH = 500


class MassDeleteRefused(ConnectWiseError):
    """A sweep would mark more of a table as deleted than the guard allows."""


@dataclass
class CountCheck:
    table: str
    api: int
    warehouse: int

    @property
    def diff(self) -> int:
        return self.warehouse - self.api


@dataclass
class DeleteSweep:
    table: str
    live: int  # ids the API has
    marked: int = 0  # rows newly marked (or deleted, when hard)
    unmarked: int = 0  # rows live again
    children: int = 0  # per-parent rows marked/deleted with their parent
    refused: str | None = None  # the guard's message when it refused


def source_schema(pipeline: dlt.Pipeline):
    """The pipeline's ConnectWise schema: ``connectwise``, or the pipeline's own schema
    name when the source runs under another one (each Airflow group has its own)."""
    if not pipeline.schemas:
        return None
    name = "connectwise" if "connectwise" in pipeline.schemas else pipeline.default_schema_name
    return pipeline.schemas.get(name) if name else None


def loaded_tables(pipeline: dlt.Pipeline, schema: Any = None) -> set[str]:
    """Tables of the ConnectWise schema (``schema``, when already read) that have received
    data."""
    schema = schema if schema is not None else source_schema(pipeline)
    if schema is None:
        return set()
    return set(schema.data_table_names(seen_data_only=True))


def client_of(pipeline: dlt.Pipeline, sql: SqlClientBase | None) -> Any:
    """``sql`` as it is, or a new SQL client of the pipeline (to use in ``with``); each new
    client costs dlt a fresh read of the schema (~30 ms at 130 tables)."""
    return nullcontext(sql) if sql is not None else pipeline.sql_client()


def _qualified(client, table: str) -> str:
    return client.make_qualified_table_name(table)


def _warehouse_live_count(sql, table: str, has_deleted: bool, since: str | None) -> int:
    where = [f"{DELETED_AT} IS NULL"] if has_deleted else []
    args = []
    if since:
        where.append("_info__last_updated >= %s")
        args.append(datetime.fromisoformat(since.replace("Z", "+00:00")))
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    rows = sql.execute_sql(f"SELECT count(*) FROM {_qualified(sql, table)}{clause}", *args)
    return int(rows[0][0])


def _has_column(pipeline: dlt.Pipeline, table: str, column: str) -> bool:
    schema = source_schema(pipeline)
    return column in schema.get_table_columns(table)


def api_count(client: ConnectWiseClient, endpoint: Endpoint, conditions: str | None = None) -> int:
    params = {"conditions": conditions} if conditions else {}
    body = client.get_json(f"{endpoint.path}/count", params)
    return int(body["count"]) if isinstance(body, dict) else int(body)


def verify_counts(
    pipeline: dlt.Pipeline,
    client: ConnectWiseClient,
    tables: Iterable[str] | None = None,
    start_date: str | None = None,
    filters: dict[str, str] | None = None,
) -> list[CountCheck]:
    """API ``/count`` vs live warehouse rows for each loaded top-level table.

    With a ``start_date`` (the backfill bound), both sides count only records updated
    since then; a table's user filter (``filters``) bounds the API's count. Per-parent tables are not counted: their ``/count`` needs one request per
    parent.
    """
    since = to_utc_iso(start_date) if start_date else None
    present = loaded_tables(pipeline)
    wanted = [e for e in all_endpoints() if not e.is_child and e.table in present]
    if tables is not None:
        chosen = set(tables)
        wanted = [e for e in wanted if e.table in chosen]

    def conditions_for(endpoint: Endpoint) -> str | None:
        bounded = since if endpoint.incremental else None
        return all_of(
            (filters or {}).get(endpoint.table),
            updated_since(bounded, endpoint.cursor) if bounded else None,
        )

    # the API side in parallel, under the client's request budget
    workers = max(1, getattr(client.budget, "max_in_flight", 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cw-count") as pool:
        api = list(pool.map(lambda e: api_count(client, e, conditions_for(e)), wanted))
    checks: list[CountCheck] = []
    with pipeline.sql_client() as sql:
        for endpoint, api_rows in zip(wanted, api, strict=True):
            bounded = since if endpoint.incremental else None
            warehouse = _warehouse_live_count(
                sql, endpoint.table, _has_column(pipeline, endpoint.table, DELETED_AT), bounded
            )
            checks.append(CountCheck(endpoint.table, api_rows, warehouse))
    return checks


def _batches(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), BATCH):
        yield ids[start : start + BATCH]


def _in(ids: Sequence[int]) -> str:
    return ",".join(str(int(i)) for i in ids)


def mark_deleted(
    pipeline: dlt.Pipeline,
    table: str,
    ids: Sequence[int],
    *,
    at: datetime | None = None,
    hard: bool = False,
) -> tuple[int, int]:
    """Mark (or delete, with ``hard``) rows of ``table`` by id, and the per-parent rows
    whose ``parent_id`` is one of them. Returns (rows, per-parent rows) affected."""
    if not ids:
        return 0, 0
    at = at or datetime.now(timezone.utc)
    children = [e.table for e in all_endpoints() if e.parent_table == table]
    present = loaded_tables(pipeline)
    schema = source_schema(pipeline)
    done = kids = 0
    with pipeline.sql_client() as sql:
        for batch in _batches(sorted(ids)):
            id_list = _in(batch)
            for child in children:
                if child not in present:
                    continue
                kids += _apply(sql, schema, child, f"parent_id IN ({id_list})", at, hard)
            done += _apply(sql, schema, table, f"id IN ({id_list})", at, hard)
    return done, kids


def _apply(sql, schema, table: str, where: str, at: datetime, hard: bool) -> int:
    name = _qualified(sql, table)
    if hard:
        count = int(sql.execute_sql(f"SELECT count(*) FROM {name} WHERE {where}")[0][0])
        for nested in _nested_tables(schema, table):
            sql.execute_sql(
                f"DELETE FROM {_qualified(sql, nested)} WHERE record_id IN "
                f"(SELECT id FROM {name} WHERE {where})"
            )
        sql.execute_sql(f"DELETE FROM {name} WHERE {where}")
        return count
    where = f"{where} AND {DELETED_AT} IS NULL"
    count = int(sql.execute_sql(f"SELECT count(*) FROM {name} WHERE {where}")[0][0])
    if count:
        sql.execute_sql(f"UPDATE {name} SET {DELETED_AT} = %s WHERE {where}", at)
    return count


def _nested_tables(schema, table: str) -> list[str]:
    """The list tables of ``table`` (``<table>__custom_fields``…) that hold data."""
    return list_tables_of(table, schema.data_table_names(seen_data_only=True))


# pipeline local state: per "<schema>.<table>", the newest load id whose list rows are
# clean (every record loaded at or before it has no list rows older than itself)
LISTS_CLEAN_KEY = "cwsync_list_rows_clean_through"


def drop_stale_list_rows(
    pipeline: dlt.Pipeline,
    tables: Iterable[str],
    through: str | None = None,
    first_loads: Iterable[str] = (),
    sql: SqlClientBase | None = None,
) -> int:
    """Delete list-table rows (custom fields, types…) left behind by a record that was
    loaded again with fewer or no elements: rows older than their record's last load.

    Merging a list table on ``record_id`` replaces all the rows of a record that brings
    some, so only a record loaded with an empty list can leave rows behind: one without
    a list row of its own load. Those records are found first (few, often none), then
    their older rows. ``through``: the newest load id of this run; the tables are then
    clean through it and the next run looks only at records and list rows loaded after
    it, which DuckDB finds without reading the older row groups (large tenant, 6M custom
    field rows: 0.4 s -> 0.01 s per table). A pipeline without that note (local state
    lost) checks every record; a run killed before this step is healed by the next,
    which checks from the last clean load on. ``first_loads``: tables that had no rows
    before this run, clean as loaded (nothing is checked). ``sql``: an open client of the
    pipeline to use (one is opened otherwise)."""
    tables = list(tables)
    if not tables:
        return 0
    schema = source_schema(pipeline)
    if schema is None:
        return 0
    present = set(schema.data_table_names(seen_data_only=True))
    fresh = set(first_loads)
    mark = through if through and is_load_id(through) else None
    try:
        clean = dict(pipeline.get_local_state_val(LISTS_CLEAN_KEY) or {})
    except KeyError:
        clean = {}

    def has_load_id(table: str) -> bool:
        return "_dlt_load_id" in schema.get_table_columns(table)

    removed = 0
    with client_of(pipeline, sql) as sql:
        for table in tables:
            nested = [n for n in list_tables_of(table, present) if has_load_id(n)]
            if table not in present or not nested or not has_load_id(table):
                continue
            key = f"{schema.name}.{table}"
            if table in fresh:  # its first load: clean as loaded
                nested = []
            since = clean.get(key)
            after = f"._dlt_load_id > '{since}' AND " if since and is_load_id(since) else None
            p_after, c_after = ("p" + after, "c" + after) if after else ("", "")
            parent = _qualified(sql, table)
            for name in nested:
                child = _qualified(sql, name)
                # records (loaded since the last clean load) without a list row of their
                # own load: their list came empty; only they can have rows left behind
                emptied = (
                    f"SELECT p.id, p._dlt_load_id FROM {parent} p WHERE {p_after}"
                    f"NOT EXISTS (SELECT 1 FROM {child} c WHERE {c_after}"
                    "c.record_id = p.id AND c._dlt_load_id = p._dlt_load_id)"
                )
                if not int(sql.execute_sql(f"SELECT count(*) FROM ({emptied}) e")[0][0]):
                    continue
                where = (
                    f"EXISTS (SELECT 1 FROM ({emptied}) e WHERE e.id = {child}.record_id "
                    f"AND e._dlt_load_id > {child}._dlt_load_id)"
                )
                stale = int(sql.execute_sql(f"SELECT count(*) FROM {child} WHERE {where}")[0][0])
                if stale:
                    sql.execute_sql(f"DELETE FROM {child} WHERE {where}")
                    removed += stale
            if mark:
                clean[key] = mark
    if mark:
        pipeline.set_local_state_val(LISTS_CLEAN_KEY, clean)
    return removed


def is_load_id(text: str) -> bool:
    """Whether ``text`` looks like a dlt load id (digits and one dot): safe in SQL."""
    head, _, tail = text.partition(".")
    return head.isdigit() and (not tail or tail.isdigit())


def sweep_deletes(
    pipeline: dlt.Pipeline,
    client: ConnectWiseClient,
    tables: Iterable[str],
    *,
    hard: bool = False,
    max_share: float = 0.10,
    force: bool = False,
    at: datetime | None = None,
    filters: dict[str, str] | None = None,
) -> list[DeleteSweep]:
    """Find and mark deleted records of each (loaded, incremental, top-level) table."""
    at = at or datetime.now(timezone.utc)
    present = loaded_tables(pipeline)
    results: list[DeleteSweep] = []
    for table in tables:
        endpoint = BY_TABLE[table]
        if endpoint.is_child or not endpoint.incremental or table not in present:
            continue
        live: set[int] = set()
        params = {"fields": "id"}
        if (filters or {}).get(table):
            params["conditions"] = filters[table]  # type: ignore[index]
        for page in forward_only_pages(client, endpoint.path, params):
            live.update(r["id"] for r in page.records if isinstance(r.get("id"), int))
        with pipeline.sql_client() as sql:
            name = _qualified(sql, table)
            rows = sql.execute_sql(f"SELECT id, {DELETED_AT} FROM {name}")
        known = {int(r[0]) for r in rows if r[1] is None}
        marked_before = {int(r[0]) for r in rows if r[1] is not None}
        gone = sorted(known - live)
        back = sorted(marked_before & live)
        result = DeleteSweep(table, live=len(live))
        if gone and not force and len(gone) > max_share * max(1, len(known)):
            result.refused = (
                f"refusing to {'delete' if hard else 'mark'} {len(gone):,} of {len(known):,} rows "
                f"({len(gone) / max(1, len(known)):.0%}) of {table} as deleted: more than the "
                f"{max_share:.0%} guard; check the API member's access, then rerun with "
                "--force-deletes if the records really are gone"
            )
            results.append(result)
            continue
        result.marked, result.children = mark_deleted(pipeline, table, gone, at=at, hard=hard)
        if back and not hard:
            with pipeline.sql_client() as sql:
                name = _qualified(sql, table)
                for batch in _batches(back):
                    sql.execute_sql(
                        f"UPDATE {name} SET {DELETED_AT} = NULL WHERE id IN ({_in(batch)})"
                    )
            result.unmarked = len(back)
        results.append(result)
    return results

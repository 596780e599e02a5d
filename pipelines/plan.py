"""Planning for orchestrated runs (the Airflow DAGs): endpoint groups and backfill slices.

* :func:`endpoint_groups` splits the endpoint table into independent groups, one Airflow
  task each: every module (``service``, ``company``, …) is a group, a per-parent table goes
  with its parent, and the big tables (time entries, tickets, audit-heavy ones) get a group
  of their own. Each group has its own pipeline name, so its state (the cursors) is never
  shared with a task running in parallel.
* :func:`id_ranges` and :func:`backfill_slices` split a big table's first load into id
  ranges (``id >= a and id < b``; the last one open-ended), computed from the API's
  ``/count`` and the first and last ids. Slices are disjoint and merged on ``id``, so
  running them in parallel loads every record exactly once. Id ranges, not ``lastUpdated``
  windows: an id never changes, while a record updated during the backfill would move
  from one ``lastUpdated`` window to another and could be missed by both.

Nothing here imports Airflow; the DAG module only wires these plans into tasks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sources.connectwise import resolve_tables
from sources.connectwise.client import ConnectWiseClient
from sources.connectwise.conditions import all_of
from sources.connectwise.settings import BY_TABLE, ENDPOINTS

#: Tables that get a group (and a task) of their own: the largest collections of a tenant.
BIG_TABLES: tuple[str, ...] = (
    "time_entries",
    "service_tickets",
    "company_contacts",
    "company_companies",
    "company_configurations",
    "project_tickets",
)
PIPELINE_PREFIX = "cwsync"


@dataclass(frozen=True)
class Group:
    """Tables synced together by one task, with their own pipeline (state)."""

    name: str
    tables: tuple[str, ...]

    @property
    def pipeline_name(self) -> str:
        return f"{PIPELINE_PREFIX}_{self.name}"


@dataclass(frozen=True)
class Slice:
    """One part of a table's backfill: ids in ``[lo, hi)`` (``hi`` None: no upper bound)."""

    table: str
    index: int
    lo: int | None
    hi: int | None

    @property
    def condition(self) -> str | None:
        return all_of(
            f"id >= {self.lo}" if self.lo is not None else None,
            f"id < {self.hi}" if self.hi is not None else None,
        )

    @property
    def pipeline_name(self) -> str:
        return f"{PIPELINE_PREFIX}_backfill_{self.table}_{self.index}"


def endpoint_groups(
    tables: Sequence[str] | None = None, big: Sequence[str] = BIG_TABLES
) -> list[Group]:
    """The selected tables (default: all) split into independent groups, in endpoint
    table order: one per big table (with its per-parent tables), one per module for the
    rest. Every table is in exactly one group; a per-parent table is with its parent."""
    wanted = set(resolve_tables(tables))
    order = [e.table for e in ENDPOINTS if e.table in wanted]
    big_set = set(big)
    groups: dict[str, list[str]] = {}
    for table in order:
        root = table
        while BY_TABLE[root].parent_table:
            root = BY_TABLE[root].parent_table  # type: ignore[assignment]
        name = root if root in big_set else BY_TABLE[root].path.split("/", 1)[0].lower()
        groups.setdefault(name, []).append(table)
    return [Group(name, tuple(tables)) for name, tables in groups.items()]


def id_ranges(first_id: int, last_id: int, parts: int) -> list[tuple[int | None, int | None]]:
    """``parts`` half-open id ranges of equal width covering ``first_id..last_id``; the
    first has no lower bound and the last no upper bound, so records created during the
    backfill (higher ids) and any id outside the span still fall in a range."""
    parts = max(1, int(parts))
    span = last_id - first_id + 1
    if span <= 0 or parts == 1:
        return [(None, None)]
    parts = min(parts, span)
    cuts = [first_id + (span * i) // parts for i in range(1, parts)]
    bounds: list[int | None] = [None, *cuts, None]
    return [(bounds[i], bounds[i + 1]) for i in range(parts)]


def _edge_id(client: ConnectWiseClient, path: str, order: str, conditions: str | None) -> int:
    params = {"fields": "id", "pageSize": 1, "orderBy": f"id {order}"}
    if conditions:
        params["conditions"] = conditions
    records = client.get_page(path, params).records
    return int(records[0]["id"]) if records else 0


def backfill_slices(
    client: ConnectWiseClient,
    table: str,
    parts: int,
    *,
    min_rows: int = 10_000,
    conditions: str | None = None,
) -> list[Slice]:
    """Split ``table``'s backfill into at most ``parts`` id ranges (three API requests:
    ``/count``, first id, last id); fewer when the table holds less than ``min_rows``
    records per part. ``conditions`` is the table's user filter, if any."""
    endpoint = BY_TABLE[table]
    if endpoint.is_child:
        raise ValueError(f"{table} is a per-parent table: split its parent instead")
    params = {"conditions": conditions} if conditions else {}
    body = client.get_json(f"{endpoint.path}/count", params)
    count = int(body["count"]) if isinstance(body, dict) else int(body)
    parts = max(1, min(int(parts), count // max(1, min_rows)))
    if parts == 1:
        return [Slice(table, 0, None, None)]
    first = _edge_id(client, endpoint.path, "asc", conditions)
    last = _edge_id(client, endpoint.path, "desc", conditions)
    return [Slice(table, i, lo, hi) for i, (lo, hi) in enumerate(id_ranges(first, last, parts))]

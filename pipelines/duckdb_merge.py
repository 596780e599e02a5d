"""DuckDB merges delete the rows they replace with ``IN``, not with dlt's ``EXISTS``.

dlt's delete-insert merge deletes ``FROM t AS d WHERE EXISTS (SELECT 1 FROM staging AS s
WHERE d.id = s.id)``; ``d.id IN (SELECT s.id FROM staging AS s)`` deletes the same rows
(key columns are never null: dlt makes them NOT NULL) and DuckDB runs it about a third
faster: the large benchmark tenant's incremental run (37 merges, 37k changed records),
loaded one job at a time, spent 0.93-0.98 s in its merges with ``EXISTS``, 0.64-0.68 s
with ``IN``.

Only a merge on one key column without a source filter is written so; any other
(compound keys, primary and merge key both, ``source_filter``) keeps dlt's SQL.
:func:`install` makes DuckDB's job client use :class:`DuckDbMergeJob`; where dlt is not
built this way (another version), nothing is changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dlt.destinations.sql_jobs import SqlMergeFollowupJob

_installed = False


class DuckDbMergeJob(SqlMergeFollowupJob):
    """dlt's merge job, deleting by ``IN`` on a single key column."""

    @classmethod
    def gen_key_table_clauses(
        cls,
        root_table_name: str,
        staging_root_table_name: str,
        primary_keys: Sequence[str],
        merge_keys: Sequence[str],
        for_delete: bool,
        source_filter: str | None = None,
    ) -> list[str]:
        keys = list(primary_keys or ()) + list(merge_keys or ())
        if len(keys) == 1 and not source_filter:
            key = keys[0]  # escaped by dlt already
            return [
                f"FROM {root_table_name} as d WHERE d.{key} IN"
                f" (SELECT s.{key} FROM {staging_root_table_name} as s)"
            ]
        return super().gen_key_table_clauses(
            root_table_name,
            staging_root_table_name,
            primary_keys,
            merge_keys,
            for_delete,
            **({"source_filter": source_filter} if source_filter else {}),
        )


def install() -> bool:
    """Make DuckDB's job client merge with :class:`DuckDbMergeJob` (once per process);
    False when this dlt has no such hook."""
    global _installed
    if _installed:
        return True
    try:
        from dlt.destinations.impl.duckdb.duck import DuckDbClient
    except ImportError:  # pragma: no cover - dlt without DuckDB
        return False
    if not callable(getattr(DuckDbClient, "_create_merge_followup_jobs", None)):
        return False  # pragma: no cover - another dlt

    def _create_merge_followup_jobs(self: Any, table_chain: Sequence[Any]) -> list[Any]:
        return [DuckDbMergeJob.from_table_chain(table_chain, self.sql_client)]

    DuckDbClient._create_merge_followup_jobs = _create_merge_followup_jobs  # type: ignore[method-assign]
    _installed = True
    return True

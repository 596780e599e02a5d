"""What each Airflow task runs, without Airflow: sync a group, sweep its deletes, plan
and load a backfill.

The DAG module (``dags/connectwise_dag.py``) only wires these functions into tasks; they
take and return plain values (the backfill plan travels between tasks as XCom) and read
credentials through dlt (in Airflow: the ``dlt_secrets_toml`` Variable).

Settings that shape the DAGs come from the environment of the Airflow workers and
scheduler (``CWSYNC_*``, see :class:`Settings`); everything about the tenant comes from
dlt configuration, as for ``cwsync run``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import dlt
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from sources.connectwise import client_from_config, table_conditions
from sources.connectwise.client import ConnectWiseClient
from sources.connectwise.conditions import all_of, to_utc_iso
from sources.connectwise.settings import BY_TABLE, DATASET_NAME

from .plan import BIG_TABLES, Group, Slice, backfill_slices, endpoint_groups
from .reconcile import verify_counts
from .sync import RunSummary, make_pipeline, record, run_deletes, run_sync

log = logging.getLogger("cwsync.orchestrate")
T = TypeVar("T")


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(t.strip() for t in (value or "").split(",") if t.strip())


@dataclass(frozen=True)
class Settings:
    """DAG settings, from ``CWSYNC_*`` environment variables (defaults in brackets)."""

    destination: str = "duckdb"  # CWSYNC_DESTINATION [duckdb]
    dataset: str = DATASET_NAME  # CWSYNC_DATASET [connectwise]
    duckdb_file: str = "cwsync.duckdb"  # CWSYNC_DUCKDB_FILE [$AIRFLOW_HOME/cwsync.duckdb]
    tables: tuple[str, ...] = ()  # CWSYNC_TABLES [all]
    schedule: str = "@hourly"  # CWSYNC_SCHEDULE (delete sweeps: deletes_every_hours)
    backfill_tables: tuple[str, ...] = BIG_TABLES  # CWSYNC_BACKFILL_TABLES
    backfill_parts: int = 4  # CWSYNC_BACKFILL_PARTS
    backfill_min_rows: int = 10_000  # CWSYNC_BACKFILL_MIN_ROWS: fewer rows per part -> fewer parts
    load_attempts: int = 3  # CWSYNC_LOAD_ATTEMPTS: tries of a failed load step
    big_tables: tuple[str, ...] = field(default=BIG_TABLES)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        home = env.get("AIRFLOW_HOME") or os.path.expanduser("~/airflow")
        return cls(
            destination=env.get("CWSYNC_DESTINATION") or "duckdb",
            dataset=env.get("CWSYNC_DATASET") or DATASET_NAME,
            duckdb_file=env.get("CWSYNC_DUCKDB_FILE") or os.path.join(home, "cwsync.duckdb"),
            tables=_csv(env.get("CWSYNC_TABLES")),
            schedule=env.get("CWSYNC_SCHEDULE") or "@hourly",
            backfill_tables=_csv(env.get("CWSYNC_BACKFILL_TABLES")) or BIG_TABLES,
            backfill_parts=int(env.get("CWSYNC_BACKFILL_PARTS") or 4),
            backfill_min_rows=int(env.get("CWSYNC_BACKFILL_MIN_ROWS") or 10_000),
            load_attempts=int(env.get("CWSYNC_LOAD_ATTEMPTS") or 3),
        )

    def groups(self) -> list[Group]:
        return endpoint_groups(self.tables or None, self.big_tables)

    def backfill_groups(self) -> list[Group]:
        """The groups whose root table is backfilled in slices."""
        wanted = set(self.backfill_tables)
        return [g for g in self.groups() if g.tables[0] in wanted]

    def pipeline(self, name: str) -> dlt.Pipeline:
        """A pipeline with no local state: every task starts from the state and schema
        stored in the destination, as on a fresh Airflow worker."""
        return make_pipeline(
            self.destination, dataset_name=self.dataset, pipeline_name=name,
            duckdb_path=self.duckdb_file if self.destination == "duckdb" else None,
        ).drop()  # fmt: skip


def schema_name(group: Group) -> str:
    """Each group keeps its own schema (and source state) in the shared dataset."""
    return f"connectwise_{group.name}"


def with_load_retries(attempts: int, run: Callable[[], T]) -> T:
    """``run()``, tried again (up to ``attempts`` in all) when it failed in the load step:
    the package is kept, so a retry loads it without extracting again. Extract errors are
    not retried here (the client already retries each request)."""
    from dlt.pipeline.helpers import retry_load

    retrying = Retrying(
        stop=stop_after_attempt(max(1, attempts)),
        wait=wait_exponential(multiplier=1.5, min=4, max=30),
        retry=retry_if_exception(retry_load(("load",))),
        reraise=True,
    )
    return retrying(run)


def _report(name: str, summary: RunSummary) -> dict[str, Any]:
    for line in summary.lines():
        log.info("%s: %s", name, line)
    return {
        "rows": sum(summary.changed.values()),
        "changed": summary.changed,
        "records": summary.records,
        "requests": summary.requests,
        "mismatches": {c.table: c.diff for c in summary.mismatches},
        "deleted": sum(s.marked for s in summary.deletes),
        "refused": [s.refused for s in summary.deletes if s.refused],
        "swept": [s.table for s in summary.deletes],
        "baselines": list(summary.baselines),
    }


def sync_group(group: Group, *, deletes: str = "off", settings: Settings | None = None) -> dict:
    """One incremental run of a group (its own pipeline and schema), with the count check
    and a ``_cwsync_runs`` row; no delete sweep unless ``deletes`` (``auto``: the tables
    that are due, ``now``: all) asks for one (the DAG sweeps in :func:`sweep_group`)."""
    settings = settings or Settings.from_env()
    pipeline = settings.pipeline(group.pipeline_name)
    summary = with_load_retries(
        settings.load_attempts,
        lambda: run_sync(
            pipeline, tables=list(group.tables), deletes=deletes, schema_name=schema_name(group)
        ),
    )
    return _report(group.pipeline_name, summary)


def sweep_group(group: Group, *, now: bool = False, settings: Settings | None = None) -> dict:
    """The delete sweep of a group's tables that are due (``deletes_every_hours``, see
    :func:`pipelines.sync.sweep_due`; ``now``: all), without an incremental extract: the
    DAG's ``<group>_deletes`` task, after the group's sync in the same run. Tables swept
    for the first time get a baseline record instead. The sweeps go to ``_cwsync_deletes``
    and ``_cwsync_runs`` (that load retried like a sync's). The result's ``swept`` and
    ``baselines`` are both empty when nothing was due (the task is then skipped)."""
    settings = settings or Settings.from_env()
    pipeline = settings.pipeline(group.pipeline_name)
    summary = run_deletes(
        pipeline, tables=list(group.tables), now=now, record_run=False,
        schema_name=schema_name(group),
    )  # fmt: skip
    if summary.deletes or summary.baselines:
        with_load_retries(settings.load_attempts, lambda: record(pipeline, summary))
    for sweep in summary.deletes:
        if sweep.refused:
            log.warning("%s: %s", group.pipeline_name, sweep.refused)
    return _report(group.pipeline_name, summary)


def _user_filters() -> dict[str, str]:
    return table_conditions(dlt.config.get("sources.connectwise.conditions", dict))


def plan_backfill(settings: Settings | None = None) -> dict:
    """The slices of every backfilled table and the time the backfill started (the API
    server's clock less the cursor lag): the incremental runs continue from there."""
    settings = settings or Settings.from_env()
    client = client_from_config()
    filters = _user_filters()
    lag = dlt.config.get("sources.connectwise.cursor_lag_seconds", float)
    groups = settings.backfill_groups()
    now = _server_time(client, BY_TABLE[groups[0].tables[0]].path if groups else "")
    started = now - timedelta(seconds=60.0 if lag is None else float(lag))
    slices: dict[str, list[list[int | None]]] = {}
    for group in groups:
        table = group.tables[0]
        parts = backfill_slices(
            client,
            table,
            settings.backfill_parts,
            min_rows=settings.backfill_min_rows,
            conditions=filters.get(table),
        )
        slices[table] = [[s.lo, s.hi] for s in parts]
    return {"started_at": to_utc_iso(started.isoformat()), "slices": slices}


def _server_time(client: ConnectWiseClient, path: str) -> datetime:
    """The API server's clock (the ``Date`` of a response, as the watermark uses it); the
    local clock when there is nothing to ask."""
    if not path:
        return datetime.now(timezone.utc)
    page = client.get_page(path, {"fields": "id", "pageSize": 1})
    try:
        return parsedate_to_datetime(page.headers["Date"]).astimezone(timezone.utc)
    except (KeyError, TypeError, ValueError):
        return datetime.now(timezone.utc)


def slice_of(plan: dict, table: str, index: int) -> Slice | None:
    bounds = plan["slices"].get(table) or []
    if index >= len(bounds):
        return None
    lo, hi = bounds[index]
    return Slice(table, index, lo, hi)


def backfill_slice(
    group: Group, index: int, plan: dict | str, settings: Settings | None = None
) -> dict:
    """Load one id range of a group's root table (and the per-parent rows of the records
    in it) with its own pipeline, merged on ``id`` into the group's tables."""
    settings = settings or Settings.from_env()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    table = group.tables[0]
    part = slice_of(plan, table, index)
    if part is None:
        log.info("%s has fewer than %d slices: nothing to do", table, index + 1)
        return {"rows": 0}
    condition = all_of(_user_filters().get(table), part.condition)
    pipeline = settings.pipeline(part.pipeline_name)
    summary = with_load_retries(
        settings.load_attempts,
        lambda: run_sync(
            pipeline,
            tables=list(group.tables),
            conditions={table: condition} if condition else None,
            verify=False,
            deletes="off",
            record_run=False,
            schema_name=schema_name(group),
        ),
    )
    return _report(part.pipeline_name, summary)


def finish_backfill(group: Group, plan: dict | str, settings: Settings | None = None) -> dict:
    """Hand a backfilled group over to its incremental pipeline: a first run from the
    backfill's start (records changed while the slices ran), then the count check over
    the whole table."""
    settings = settings or Settings.from_env()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    pipeline = settings.pipeline(group.pipeline_name)
    adopt_stored_schema(pipeline, schema_name(group))
    summary = with_load_retries(
        settings.load_attempts,
        lambda: run_sync(
            pipeline,
            tables=list(group.tables),
            start_date=plan["started_at"],
            verify=False,
            deletes="off",
            schema_name=schema_name(group),
        ),
    )
    client = client_from_config()
    summary.counts = verify_counts(
        pipeline, client, [t for t in group.tables if not BY_TABLE[t].is_child],
        filters=_user_filters(),
    )  # fmt: skip
    return _report(group.pipeline_name, summary)


def adopt_stored_schema(pipeline: dlt.Pipeline, name: str) -> bool:
    """Give a pipeline without state the newest stored version of schema ``name`` (what
    the backfill slices loaded), so its checks know the tables it did not load itself."""
    from dlt.common.schema import Schema

    if name in pipeline.schemas:
        return False
    pipeline.schemas.save_schema(Schema(name))  # the destination client needs a schema to open
    with pipeline.destination_client(name) as client:
        stored = client.get_stored_schema(name)  # type: ignore[attr-defined]
    if stored is None:
        return False
    pipeline.schemas.save_schema(Schema.from_dict(json.loads(stored.schema)))
    return True


def groups_by_name(groups: Sequence[Group]) -> dict[str, Group]:
    return {g.name: g for g in groups}

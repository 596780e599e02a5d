"""Airflow DAGs for cwsync: scheduled incremental loads and delete sweeps, a backfill.

* ``cwsync_connectwise`` (``CWSYNC_SCHEDULE``, default hourly; one run at a time): two
  tasks per endpoint group (see ``pipelines/plan.py``), each group with its own dlt
  pipeline and schema, so groups run in parallel on different workers without sharing
  state. The first group's sync runs alone first (it creates dlt's tables in the
  dataset), then the other groups' in parallel.

  - ``<group>``: incremental sync (load-step retries), the count check, a
    ``_cwsync_runs`` row; no delete sweep.
  - ``<group>_deletes``, after it: the delete sweep of those of the group's tables that
    are due (dlt config ``deletes_every_hours``, default 24, and
    ``deletes_every_hours_by_table``; 0 = never), logged in ``_cwsync_deletes`` and
    ``_cwsync_runs``. Skipped when no table is due, so on most runs. It runs in the same
    DAG run after the sync and never beside it (``max_active_runs=1``); a failed sweep
    leaves the sync's load in place and is tried again by the task's retries and by the
    next run (a sweep is due until one succeeds).

* ``cwsync_connectwise_backfill`` (manual, once before the hourly DAG is enabled): the big
  tables' first load split into id ranges (``CWSYNC_BACKFILL_PARTS`` per table), one task
  each, then a hand-over run per table that starts the incremental cursor where the
  backfill began. Trigger it from the UI or ``airflow dags trigger
  cwsync_connectwise_backfill``.

Credentials: dlt reads them at task run time from the Airflow Variable
``dlt_secrets_toml`` (the content of a ``secrets.toml``). Nothing is resolved at parse
time. The tasks are built inside dlt's ``PipelineTasksGroup``, which points dlt at the
``dags`` folder for ``.dlt/config.toml`` and gives each task a fresh working folder.
They are plain ``PythonOperator``s, not ``PipelineTasksGroup.add_run``: ``add_run`` splits
one pipeline's resources and runs a bare ``pipeline.run``; each task here runs cwsync's
whole sync step with its own pipeline per endpoint group.
"""

from __future__ import annotations

import functools
import os
import sys
from datetime import datetime, timedelta

# the project (pipelines/, sources/) ships next to dags/ or is installed
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isdir(os.path.join(_ROOT, "pipelines")) and _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from dlt.helpers.airflow_helper import PipelineTasksGroup  # noqa: E402

from pipelines import orchestrate  # noqa: E402

try:  # Airflow 3
    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.sdk import DAG
    from airflow.sdk.exceptions import AirflowSkipException
except ImportError:  # pragma: no cover - Airflow 2
    from airflow import DAG  # type: ignore[no-redef]
    from airflow.exceptions import AirflowSkipException  # type: ignore[no-redef]
    from airflow.operators.python import PythonOperator  # type: ignore[no-redef]

SETTINGS = orchestrate.Settings.from_env()
START = datetime(2024, 1, 1)
DEFAULT_ARGS = {
    "owner": "cwsync",
    # a whole task again (e.g. a worker lost); a failed load step is retried inside the task
    "retries": int(os.environ.get("CWSYNC_TASK_RETRIES") or 2),
    "retry_delay": timedelta(minutes=5),
}


def sweep_or_skip(group: orchestrate.Group, settings: orchestrate.Settings) -> dict:
    """The ``<group>_deletes`` task: the group's due delete sweeps, skipped when none is."""
    result = orchestrate.sweep_group(group, settings=settings)
    if not result["swept"] and not result["baselines"]:
        raise AirflowSkipException(f"no delete sweep of {group.name} is due")
    return result


def _group_tasks() -> None:
    group_tasks = PipelineTasksGroup(
        "cwsync", use_data_folder=False, wipe_local_data=True, use_task_logger=True
    )
    with group_tasks:
        syncs = []
        for group in SETTINGS.groups():
            sync = PythonOperator(
                task_id=group.name,
                python_callable=functools.partial(
                    orchestrate.sync_group, group, deletes="off", settings=SETTINGS
                ),
            )
            sweep = PythonOperator(
                task_id=f"{group.name}_deletes",
                python_callable=functools.partial(sweep_or_skip, group, SETTINGS),
            )
            sync >> sweep  # after the sync, in the same run: never beside it
            syncs.append(sync)
    if len(syncs) > 1:
        syncs[0] >> syncs[1:]


with DAG(
    dag_id="cwsync_connectwise",
    description="ConnectWise Manage -> warehouse: per endpoint group, sync then due delete sweeps",
    schedule=SETTINGS.schedule,
    start_date=START,
    catchup=False,
    max_active_runs=1,  # a group's pipeline state must never be used by two runs at once
    default_args=DEFAULT_ARGS,
    tags=["cwsync", "connectwise"],
) as incremental_dag:
    _group_tasks()


with DAG(
    dag_id="cwsync_connectwise_backfill",
    description="First load of the big ConnectWise tables, split by id range across workers",
    schedule=None,
    start_date=START,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["cwsync", "connectwise"],
) as backfill_dag:
    backfill_tasks = PipelineTasksGroup(
        "cwsync_backfill", use_data_folder=False, wipe_local_data=True, use_task_logger=True
    )
    with backfill_tasks:
        plan = PythonOperator(
            task_id="plan",
            python_callable=functools.partial(orchestrate.plan_backfill, SETTINGS),
        )
        plan_xcom = "{{ ti.xcom_pull(task_ids='cwsync_backfill.plan') | tojson }}"
        heads = []
        for group in SETTINGS.backfill_groups():
            slices = [
                PythonOperator(
                    task_id=f"{group.name}_{index}",
                    python_callable=functools.partial(
                        orchestrate.backfill_slice, group, index, settings=SETTINGS
                    ),
                    op_kwargs={"plan": plan_xcom},
                )
                for index in range(SETTINGS.backfill_parts)
            ]
            finish = PythonOperator(
                task_id=f"{group.name}_finish",
                python_callable=functools.partial(
                    orchestrate.finish_backfill, group, settings=SETTINGS
                ),
                op_kwargs={"plan": plan_xcom},
            )
            # a table's first slice creates it; the other slices merge into it in parallel
            slices[0] >> slices[1:]
            slices >> finish
            heads.append(slices[0])
        # the very first slice alone creates dlt's own tables in the dataset
        if heads:
            plan >> heads[0] >> heads[1:]

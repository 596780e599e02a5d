"""Run inside the Airflow test venv: load the DagBag, dag.test() the DAGs, report as JSON.

Usage: python run_dags.py DAGS_FOLDER [DAG_ID ...]; the tenant credentials come from the
``dlt_secrets_toml`` Airflow Variable, set here from the CWSYNC_TEST_SECRETS_TOML
environment variable, as a deployment would set it in the Airflow UI.
"""

import json
import os
import sys
import time

from airflow.models import DagBag, Variable
from airflow.utils.state import DagRunState


def main() -> None:
    dags_folder, dag_ids = sys.argv[1], sys.argv[2:]
    Variable.set("dlt_secrets_toml", os.environ.pop("CWSYNC_TEST_SECRETS_TOML"))
    started = time.perf_counter()
    bag = DagBag(dag_folder=dags_folder)
    report = {
        "import_errors": {k: v.splitlines()[-1] for k, v in bag.import_errors.items()},
        "dag_ids": sorted(bag.dag_ids),
        "parse_seconds": round(time.perf_counter() - started, 2),
        "runs": [],
    }
    for dag_id in dag_ids:
        dag = bag.get_dag(dag_id)
        started = time.perf_counter()
        run = dag.test()
        tis = run.get_task_instances() if hasattr(run, "get_task_instances") else []
        report["runs"].append(
            {
                "dag_id": dag_id,
                "state": str(run.state),
                "ok": run.state == DagRunState.SUCCESS,
                "seconds": round(time.perf_counter() - started, 2),
                "tasks": {ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in tis},
            }
        )
    print("CWSYNC-REPORT " + json.dumps(report))


if __name__ == "__main__":
    main()

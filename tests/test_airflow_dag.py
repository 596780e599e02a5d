"""The Airflow DAGs as shipped: install the ``airflow`` extra into a cached venv, load the
DagBag with no import errors, and ``dag.test()`` the backfill and the incremental DAG
against a ``cwsync sandbox`` into DuckDB, checking the rows.

The venv (Airflow and the project's dependencies, not the project: it runs from this
checkout) is kept in ``~/.cache/cwsync`` keyed by those requirements, so only the first
run pays for the install (~90 s); ``CWSYNC_AIRFLOW_VENV`` names another place.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
TABLES = "time_entries,service_tickets,company_companies,service_boards"


def _requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return list(project["dependencies"]) + list(project["optional-dependencies"]["airflow"])


def _venv() -> Path:
    reqs = _requirements()
    key = hashlib.sha256(json.dumps([sys.version_info[:2], reqs]).encode()).hexdigest()[:12]
    default = Path.home() / ".cache" / "cwsync" / f"airflow-{key}"
    venv = Path(os.environ.get("CWSYNC_AIRFLOW_VENV") or default)
    python = venv / "bin" / "python"
    if not (venv / ".complete").exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *reqs], check=True, timeout=900)
        (venv / ".complete").write_text("\n".join(reqs))
    return venv


@pytest.fixture(scope="module")
def sandbox_info():
    proc = subprocess.Popen(
        [sys.executable, "-m", "cwsync", "sandbox", "--seed", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        yield json.loads(proc.stdout.readline())
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.timeout(900)
def test_dags_load_and_run_into_duckdb(sandbox_info, tmp_path):
    venv = _venv()
    home = tmp_path / "airflow"
    home.mkdir()
    db = tmp_path / "cw.duckdb"
    secrets = "[sources.connectwise]\n" + "".join(
        f'{k} = "{sandbox_info[k]}"\n'
        for k in ("base_url", "company_id", "public_key", "private_key", "client_id")
    )
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "CWSYNC_TEST_SECRETS_TOML": secrets,
        "CWSYNC_DUCKDB_FILE": str(db),
        "CWSYNC_TABLES": TABLES,
        "CWSYNC_BACKFILL_PARTS": "3",
        "CWSYNC_BACKFILL_MIN_ROWS": "100",
        "SOURCES__CONNECTWISE__REQUESTS_PER_SECOND": "0",
        "CWSYNC_TASK_RETRIES": "0",  # fail fast: dag.test() waits out retry delays  # a local sandbox: no politeness cap
    }
    env.pop("VIRTUAL_ENV", None)
    python = str(venv / "bin" / "python")
    subprocess.run(
        [str(venv / "bin" / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True
    )
    out = subprocess.run(
        [python, str(ROOT / "tests/airflow/run_dags.py"), str(ROOT / "dags"),
         "cwsync_connectwise_backfill", "cwsync_connectwise"],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    lines = [x for x in out.stdout.splitlines() if x.startswith("CWSYNC-REPORT ")]
    assert lines, out.stdout[-3000:] + out.stderr[-3000:]
    report = json.loads(lines[-1].split(" ", 1)[1])
    assert report["import_errors"] == {}
    assert {"cwsync_connectwise", "cwsync_connectwise_backfill"} <= set(report["dag_ids"])
    for run in report["runs"]:
        assert run["ok"], (run, [x for x in out.stdout.splitlines() if "Error" in x][-5:])
    assert sandbox_info["private_key"] not in out.stdout + out.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        for table in ("time_entries", "service_tickets", "company_companies", "service_boards"):
            total, distinct = con.execute(
                f"SELECT count(*), count(DISTINCT id) FROM connectwise.{table}"
            ).fetchone()
            assert total == distinct > 0, table
        assert con.execute("SELECT count(*) FROM connectwise.time_entries").fetchone()[0] == 2000
        assert con.execute("SELECT count(*) FROM connectwise._cwsync_runs").fetchone()[0] >= 4

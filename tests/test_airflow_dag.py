"""The Airflow DAGs as shipped: install the ``airflow`` extra into a cached venv, load the
DagBag with no import errors, and ``dag.test()`` the backfill and the incremental DAG
against a ``cwsync sandbox`` into DuckDB, checking the rows; then a record deleted in the
sandbox and a second incremental run: its due delete sweep marks the row, the sweeps that
are not due are skipped.

The venv (Airflow and the project's dependencies, not the project: it runs from this
checkout) is kept in ``~/.cache/cwsync`` keyed by those requirements, so only the first
run pays for the install: ~10 s with uv (in the ``test`` extra), ~45 s or more with pip,
the fallback; ``CWSYNC_AIRFLOW_VENV`` names another place.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
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


def _uv_install(venv: Path, reqs: list[str]) -> bool:
    """Build the venv with uv (the ``test`` extra installs it); False: no uv, or it failed
    (pip, configured as on this machine, does it then)."""
    try:
        import uv

        binary = uv.find_uv_bin()
    except (ImportError, FileNotFoundError):
        binary = shutil.which("uv")
    if not binary:
        return False
    if (venv / "pyvenv.cfg").exists():
        shutil.rmtree(venv)  # a half-done install
    try:
        subprocess.run([binary, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
        subprocess.run(
            [binary, "pip", "install", "-q", "--compile-bytecode",
             "--python", str(venv / "bin" / "python"), *reqs],
            check=True, timeout=900,
        )  # fmt: skip
    except subprocess.CalledProcessError:
        return False
    return True


def _venv() -> Path:
    reqs = _requirements()
    key = hashlib.sha256(json.dumps([sys.version_info[:2], reqs]).encode()).hexdigest()[:12]
    default = Path.home() / ".cache" / "cwsync" / f"airflow-{key}"
    venv = Path(os.environ.get("CWSYNC_AIRFLOW_VENV") or default)
    python = venv / "bin" / "python"
    if not (venv / ".complete").exists():
        if not _uv_install(venv, reqs):
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            subprocess.run(
                [str(python), "-m", "pip", "install", "-q", *reqs], check=True, timeout=900
            )
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


def _run_dags(venv: Path, env: dict[str, str], secret: str, *dag_ids: str) -> list[dict]:
    """``dag.test()`` each DAG in the Airflow venv: the runs, each one successful."""
    out = subprocess.run(
        [str(venv / "bin" / "python"), str(ROOT / "tests/airflow/run_dags.py"),
         str(ROOT / "dags"), *dag_ids],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    lines = [x for x in out.stdout.splitlines() if x.startswith("CWSYNC-REPORT ")]
    assert lines, out.stdout[-3000:] + out.stderr[-3000:]
    report = json.loads(lines[-1].split(" ", 1)[1])
    assert report["import_errors"] == {}
    assert {"cwsync_connectwise", "cwsync_connectwise_backfill"} <= set(report["dag_ids"])
    for run in report["runs"]:
        assert run["ok"], (run, [x for x in out.stdout.splitlines() if "Error" in x][-5:])
    assert secret not in out.stdout + out.stderr
    return report["runs"]


def _delete_a_ticket(info: dict) -> int:
    """Delete one ticket through the sandbox's API, as a user would in ConnectWise."""
    from sources.connectwise.client import ConnectWiseClient

    creds = {k: info[k] for k in ("company_id", "public_key", "private_key", "client_id")}
    client = ConnectWiseClient(base_url=info["base_url"], **creds)
    victim = client.get_page("service/tickets", {"fields": "id", "pageSize": 1}).records[0]["id"]
    response = client.session.delete(
        client.url(f"service/tickets/{victim}"), headers=client.headers(), timeout=30
    )
    assert response.status_code == 204, response.status_code
    return int(victim)


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
        "CWSYNC_BACKFILL_PARTS": "2",  # two id ranges per big table: the split, at least cost
        "CWSYNC_BACKFILL_MIN_ROWS": "100",
        "SOURCES__CONNECTWISE__REQUESTS_PER_SECOND": "0",  # a local sandbox: no politeness cap
        # tickets swept every 1.8 s (due again in the second run), the rest daily (default)
        "SOURCES__CONNECTWISE__DELETES_EVERY_HOURS_BY_TABLE": '{"service_tickets": 0.0005}',
        "CWSYNC_TASK_RETRIES": "0",  # fail fast: dag.test() waits out retry delays
    }
    env.pop("VIRTUAL_ENV", None)
    subprocess.run(
        [str(venv / "bin" / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True
    )
    secret = sandbox_info["private_key"]
    _, hourly = _run_dags(venv, env, secret, "cwsync_connectwise_backfill", "cwsync_connectwise")
    groups = ("service_tickets", "service", "company_companies", "time_entries")
    # the first sweep task after a table's first load records its baseline: nothing to sweep
    assert {hourly["tasks"][f"cwsync.{g}_deletes"] for g in groups} == {"success"}
    with duckdb.connect(str(db), read_only=True) as con:
        for table in ("time_entries", "service_tickets", "company_companies", "service_boards"):
            total, distinct = con.execute(
                f"SELECT count(*), count(DISTINCT id) FROM connectwise.{table}"
            ).fetchone()
            assert total == distinct > 0, table
        assert con.execute("SELECT count(*) FROM connectwise.time_entries").fetchone()[0] == 2000
        assert con.execute("SELECT count(*) FROM connectwise._cwsync_runs").fetchone()[0] >= 4
        assert con.execute(
            "SELECT count(*), bool_and(baseline) FROM connectwise._cwsync_deletes"
        ).fetchone() == (4, True)

    victim = _delete_a_ticket(sandbox_info)
    (again,) = _run_dags(venv, env, secret, "cwsync_connectwise")
    tasks = again["tasks"]
    assert {tasks[f"cwsync.{g}"] for g in groups} == {"success"}  # the syncs
    assert tasks["cwsync.service_tickets_deletes"] == "success"  # due: swept
    for group in ("service", "company_companies", "time_entries"):
        assert tasks[f"cwsync.{group}_deletes"] == "skipped", group  # not due
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute(
            "SELECT id FROM connectwise.service_tickets WHERE _cw_deleted_at IS NOT NULL"
        ).fetchall() == [(victim,)]
        assert con.execute(
            "SELECT table_name, marked FROM connectwise._cwsync_deletes WHERE NOT baseline"
        ).fetchall() == [("service_tickets", 1)]
        assert con.execute(
            "SELECT count(*) FROM connectwise._cwsync_runs WHERE deleted_marked = 1"
        ).fetchone() == (1,)

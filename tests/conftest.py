"""Shared fixtures: sandboxes served over real HTTP on 127.0.0.1 and a small API client."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator

import pytest
import requests

from cwsync.sandbox import Sandbox


class Client:
    """A bare ConnectWise client for tests: auth + clientId headers, nothing clever."""

    def __init__(
        self, sandbox: Sandbox, *, public_key: str | None = None, private_key: str | None = None
    ):
        info = sandbox.info
        self.sandbox = sandbox
        self.base = info["base_url"]
        user = f"{info['company_id']}+{public_key or info['public_key']}"
        token = base64.b64encode(f"{user}:{private_key or info['private_key']}".encode()).decode()
        self.session = requests.Session()
        self.session.headers.update(
            {"Authorization": f"Basic {token}", "clientId": info["client_id"]}
        )

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}"

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, self.url(path), **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def json(self, path: str, **kwargs):
        response = self.get(path, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    def forward(self, path: str, **kwargs) -> requests.Response:
        headers = {"pagination-type": "forward-only", **kwargs.pop("headers", {})}
        return self.get(path, headers=headers, **kwargs)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """A read-mostly small tenant shared by the whole run (tests must not mutate it)."""
    with Sandbox(scale="small", seed=7) as sb:
        yield sb


@pytest.fixture(scope="session")
def client(sandbox: Sandbox) -> Client:
    return Client(sandbox)


@pytest.fixture()
def fresh_sandbox() -> Iterator[Sandbox]:
    """A private tenant a test may change."""
    with Sandbox(scale="small", seed=11) as sb:
        yield sb


@pytest.fixture()
def fresh_client(fresh_sandbox: Sandbox) -> Client:
    return Client(fresh_sandbox)


def sandbox_client(sandbox: Sandbox, **kwargs):
    """The source's own ConnectWiseClient pointed at a sandbox (``kwargs``: retry, budget…)."""
    from sources.connectwise.client import ConnectWiseClient

    info = sandbox.info
    creds = {k: info[k] for k in ("company_id", "public_key", "private_key", "client_id")}
    return ConnectWiseClient(base_url=info["base_url"], **creds, **kwargs)


# -- syncing into real warehouses -------------------------------------------------------
def source_args(sandbox: Sandbox, **extra) -> dict:
    """Arguments of ``connectwise_source`` pointing at a sandbox (fast retries)."""
    info = sandbox.info
    args = {k: info[k] for k in ("company_id", "public_key", "private_key", "client_id")}
    args["base_url"] = info["base_url"]
    args["backoff_seconds"] = 0.01
    args["requests_per_second"] = 0  # the sandbox needs no politeness: no rate cap
    args.update(extra)
    return args


def duckdb_pipeline(tmp_path, name: str = "cwtest", state_dir: str | None = None):
    """A dlt pipeline into a DuckDB file under ``tmp_path`` with its own state dir
    (``state_dir``: another one, as on a new machine: nothing local, the same warehouse)."""
    from pipelines.sync import make_pipeline

    return make_pipeline(
        "duckdb",
        duckdb_path=str(tmp_path / f"{name}.duckdb"),
        pipeline_name=name,
        pipelines_dir=str(tmp_path / (state_dir or f"{name}-state")),
    )


def duckdb_rows(pipeline, sql: str) -> list[tuple]:
    """Run ``sql`` (tables qualified with ``connectwise.``) on the pipeline's DuckDB file."""
    import duckdb

    path = pipeline.destination.config_params["credentials"]
    path = path if isinstance(path, str) else path.database
    with duckdb.connect(path, read_only=True) as db:
        return db.execute(sql).fetchall()


# -- the real PostgreSQL on 127.0.0.1 ------------------------------------------------------
# trust authentication: the password is ignored, but dlt's credentials want one
POSTGRES_URL = os.environ.get(
    "CWSYNC_TEST_POSTGRES", "postgresql://postgres:postgres@127.0.0.1:5432/test"
)
WAREHOUSES = ("duckdb", "postgres")


def postgres_pipeline(tmp_path, name: str = "cwtest"):
    """A dlt pipeline into a dataset (schema) of its own in the test PostgreSQL."""
    import dlt

    from pipelines.sync import make_pipeline

    return make_pipeline(
        dlt.destinations.postgres(POSTGRES_URL),
        dataset_name=f"cwtest_{uuid.uuid4().hex[:10]}",
        pipeline_name=name,
        pipelines_dir=str(tmp_path / f"{name}-state"),
    )


def drop_postgres_dataset(dataset: str) -> None:
    """Drop a test dataset and the staging schema dlt's merges leave beside it."""
    import psycopg2

    with psycopg2.connect(POSTGRES_URL, connect_timeout=10) as conn, conn.cursor() as cur:
        for schema in (dataset, f"{dataset}_staging"):
            cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def warehouse_pipeline(kind: str, tmp_path, name: str = "cwtest"):
    """A pipeline into a fresh DuckDB file or a fresh Postgres dataset."""
    if kind == "duckdb":
        return duckdb_pipeline(tmp_path, name)
    if kind == "postgres":
        return postgres_pipeline(tmp_path, name)
    raise ValueError(kind)


def warehouse_rows(pipeline, sql: str, *args) -> list[tuple]:
    """Run ``sql`` through the destination's own client; ``connectwise.`` in it names the
    pipeline's dataset."""
    with pipeline.sql_client() as client:
        text = sql.replace("connectwise.", f"{client.fully_qualified_dataset_name()}.")
        return [tuple(r) for r in client.execute_sql(text, *args) or []]


@pytest.fixture(params=WAREHOUSES)
def warehouse(request, tmp_path) -> Iterator:
    """A fresh pipeline into each warehouse kind (DuckDB, then Postgres); dropped after."""
    pipeline = warehouse_pipeline(request.param, tmp_path)
    yield pipeline
    if request.param == "postgres":
        drop_postgres_dataset(pipeline.dataset_name)

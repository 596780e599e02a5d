"""One contender of the sync benchmark, run as its own process by ``bench/run.py``.

    CWBENCH_BASE_URL=… CWBENCH_COMPANY_ID=… CWBENCH_PUBLIC_KEY=… CWBENCH_PRIVATE_KEY=… \
    CWBENCH_CLIENT_ID=… python bench/contenders.py NAME --duckdb PATH --tables t1,t2,…

(credentials come from the environment so they never show on a command line)

NAME is one of:

* ``naive``       — a sequential ``requests`` loop per table, navigable paging
  (``page=1,2,…&pageSize=1000``, stop on a short page), rows inserted into DuckDB as JSON
  text (``id BIGINT, body JSON``) with one ``executemany`` per page.
* ``rest_api``    — dlt's generic ``rest_api`` source with the obvious configuration
  (http_basic auth, ``page_number`` paginator, ``pageSize=1000``, replace), default
  pipeline settings.
* ``cwsync``      — the project's pipeline (``pipelines.sync.run_sync``), a full sync.
* ``incremental`` — the same pipeline again on the same state dir and DuckDB file (the
  harness runs it after ``cwsync`` and after changing records through the API).
* ``limit``       — the pages cwsync reads (forward-only, 1000 a page), decoded, nothing
  else: no normalization, no load. Same requests-in-flight budget as the source.
* ``limit_arrow`` — the same pages parsed the way cwsync parses them (read from the body
  into Arrow, outside the GIL), nothing else.

The last line on stdout is one JSON object: ``rows`` (records loaded), ``requests`` (HTTP
requests made), ``work_s`` (seconds of work after imports), plus contender details.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import requests
import requests.adapters

# -- an HTTP request counter below every client (requests' transport adapter) ----------
_HTTP = {"requests": 0}
_send = requests.adapters.HTTPAdapter.send


def _counting_send(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
    _HTTP["requests"] += 1
    return _send(self, request, *args, **kwargs)


requests.adapters.HTTPAdapter.send = _counting_send  # type: ignore[method-assign]


def _endpoints(tables: list[str]):  # type: ignore[no-untyped-def]
    from sources.connectwise.settings import BY_TABLE

    unknown = [t for t in tables if t not in BY_TABLE]
    if unknown:
        raise SystemExit(f"unknown tables: {', '.join(unknown)}")
    children = [t for t in tables if BY_TABLE[t].is_child]
    if children:
        raise SystemExit(f"per-parent tables are not benchmarked: {', '.join(children)}")
    return [BY_TABLE[t] for t in tables]


def _accept() -> str:
    from sources.connectwise.client import ACCEPT
    from sources.connectwise.settings import DEFAULT_API_VERSION

    return ACCEPT.format(version=DEFAULT_API_VERSION)


def _steps(pipeline) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Seconds per dlt step (extract, normalize, load) of the pipeline's last run."""
    trace = pipeline.last_trace
    out: dict[str, float] = {}
    for step in getattr(trace, "steps", None) or []:
        if step.step in ("extract", "normalize", "load") and step.started_at and step.finished_at:
            seconds = (step.finished_at - step.started_at).total_seconds()
            out[str(step.step)] = round(out.get(str(step.step), 0.0) + seconds, 3)
    return out


# -- contenders ----------------------------------------------------------------------------
def run_naive(args: argparse.Namespace, tables: list[str]) -> dict:
    import duckdb

    from sources.connectwise.client import basic_auth

    endpoints = _endpoints(tables)
    session = requests.Session()
    session.headers.update(
        {
            "Authorization": basic_auth(args.company_id, args.public_key, args.private_key),
            "clientId": args.client_id,
            "Accept": _accept(),
        }
    )
    page_size = 1000
    rows = 0
    requests_made = 0
    db = duckdb.connect(args.duckdb)
    try:
        for endpoint in endpoints:
            name = f'"{endpoint.table}"'
            db.execute(f"CREATE TABLE {name} (id BIGINT, body JSON)")
            page = 1
            while True:
                response = session.get(
                    f"{args.base_url}/{endpoint.path}",
                    params={"page": page, "pageSize": page_size},
                    timeout=120,
                )
                requests_made += 1
                response.raise_for_status()
                records = response.json()
                if records:
                    db.executemany(
                        f"INSERT INTO {name} VALUES (?, ?)",
                        [(r.get("id"), json.dumps(r)) for r in records],
                    )
                    rows += len(records)
                if len(records) < page_size:
                    break
                page += 1
    finally:
        db.close()
    return {"rows": rows, "requests": requests_made}


def rest_api_config(args: argparse.Namespace, tables: list[str]) -> dict:
    """The obvious ``rest_api`` configuration for these ConnectWise collections."""
    endpoints = _endpoints(tables)
    return {
        "client": {
            "base_url": args.base_url.rstrip("/") + "/",
            "auth": {
                "type": "http_basic",
                "username": f"{args.company_id}+{args.public_key}",
                "password": args.private_key,
            },
            "headers": {"clientId": args.client_id, "Accept": _accept()},
            "paginator": {
                "type": "page_number",
                "base_page": 1,
                "page_param": "page",
                "total_path": None,  # no total in a ConnectWise list: stop on an empty page
            },
        },
        "resource_defaults": {
            "primary_key": "id",
            "write_disposition": "replace",
            "endpoint": {"params": {"pageSize": 1000}},
            # The one addition to the obvious config: ConnectWise custom field values mix
            # dates, numbers and text in one column. Without this hint dlt types the
            # column from the first values it sees and normalize fails ("Cannot coerce
            # type `text` to `timestamp` for value `Legacy` in table
            # procurement_catalog__custom_fields column value__v_text"). cwsync declares
            # the same (sources/connectwise CUSTOM_FIELD_HINTS).
            # (rest_api validates nested_hints as plain dicts: dlt.mark.make_nested_hints()
            # output is refused, and each column needs its "name" repeated.)
            "nested_hints": {
                "custom_fields": {
                    "columns": {"value": {"name": "value", "data_type": "text", "nullable": True}}
                }
            },
        },
        "resources": [{"name": e.table, "endpoint": {"path": e.path}} for e in endpoints],
    }


def run_rest_api(args: argparse.Namespace, tables: list[str]) -> dict:
    import dlt
    from dlt.sources.rest_api import rest_api_source

    source = rest_api_source(rest_api_config(args, tables), name="connectwise_rest_api")
    pipeline = dlt.pipeline(
        pipeline_name="bench_rest_api",
        destination=dlt.destinations.duckdb(args.duckdb),
        dataset_name="connectwise",
        pipelines_dir=args.state_dir,
    )
    pipeline.run(source)
    trace = pipeline.last_trace
    counts = dict(trace.last_normalize_info.row_counts) if trace.last_normalize_info else {}
    return {
        "rows": sum(counts.get(t, 0) for t in tables),
        "requests": _HTTP["requests"],
        "nested_rows": sum(n for t, n in counts.items() if "__" in t and not t.startswith("_")),
        "steps": _steps(pipeline),
    }


def run_cwsync(args: argparse.Namespace, tables: list[str]) -> dict:
    from pipelines.sync import make_pipeline, run_sync

    _endpoints(tables)
    pipeline = make_pipeline(
        "duckdb",
        duckdb_path=args.duckdb,
        pipeline_name="bench_cwsync",
        pipelines_dir=args.state_dir,
    )
    summary = run_sync(
        pipeline,
        tables=tables,
        base_url=args.base_url,
        company_id=args.company_id,
        public_key=args.public_key,
        private_key=args.private_key,
        client_id=args.client_id,
        verify=False,
        deletes="off",
        record_run=False,
        requests_per_second=args.rps,
    )
    changed = summary.changed
    return {
        "rows": sum(changed.get(t, 0) for t in tables),
        "requests": summary.requests,
        "records_read": summary.records,
        "retries": summary.retries,
        "nested_rows": sum(n for t, n in changed.items() if "__" in t),
        "steps": _steps(pipeline),
    }


def _floor(args: argparse.Namespace, tables: list[str], page_reader) -> dict:  # type: ignore[no-untyped-def]
    """Walk every table's pages the way the source does, with ``page_reader(endpoint)``
    giving what counts a page's records (it runs in the thread that fetched the page)."""
    from concurrent.futures import ThreadPoolExecutor

    from pipelines.memory import tune_process_memory
    from sources.connectwise.client import ConnectWiseClient
    from sources.connectwise.paginator import split_pages
    from sources.connectwise.settings import PAGE_SIZE
    from sources.connectwise.throttle import DEFAULT_MAX_IN_FLIGHT, RequestBudget

    tune_process_memory()  # the allocator settings every sync runs with
    endpoints = _endpoints(tables)
    # the source's budget: DEFAULT_MAX_IN_FLIGHT requests in flight (its max_in_flight
    # default), the same start-rate cap the cwsync contender runs with (0 = none), and
    # the source's walk: big tables split into that many id ranges
    in_flight = DEFAULT_MAX_IN_FLIGHT
    client = ConnectWiseClient(
        company_id=args.company_id,
        public_key=args.public_key,
        private_key=args.private_key,
        client_id=args.client_id,
        base_url=args.base_url,
        budget=RequestBudget(in_flight, args.rps or None),
    )

    def walk(endpoint) -> int:  # type: ignore[no-untyped-def]
        return sum(
            split_pages(
                client,
                endpoint.path,
                {},
                split=in_flight,
                page_size=PAGE_SIZE,
                transform=page_reader(endpoint),
            )
        )

    with ThreadPoolExecutor(max_workers=in_flight) as pool:
        rows = sum(pool.map(walk, endpoints))
    return {"rows": rows, "requests": client.stats.requests, "in_flight": in_flight}


def run_limit(args: argparse.Namespace, tables: list[str]) -> dict:
    return _floor(args, tables, lambda endpoint: lambda page: len(page.records))


def run_limit_arrow(args: argparse.Namespace, tables: list[str]) -> dict:
    """``limit`` with cwsync's own parse: each page read from its body into Arrow
    (``sources/connectwise/body_reader.py``, outside the GIL), with the type of the pages
    before (a page the reader refuses is decoded and typed afresh); nothing else."""
    import threading

    from sources.connectwise.body_reader import read_records, reader_schema, values_are_text
    from sources.connectwise.normalize import PageNormalizer

    def page_reader(endpoint):  # type: ignore[no-untyped-def]
        typer = PageNormalizer(endpoint.table, str)  # only for the type of the pages
        lock = threading.Lock()

        def parse(page) -> int:  # type: ignore[no-untyped-def]
            kind = typer.read_type
            if kind is not None and page.body is not None:
                read = read_records(
                    page.body, reader_schema(kind), quote_values=values_are_text(kind)
                )
                if read is not None:
                    ids = read.column("id")
                    ends = (ids[0].as_py(), ids[-1].as_py()) if len(read) else (None, None)
                    page.read_elsewhere(len(read), *ends)
                    return len(read)
            with lock:  # refused (or the first page): decoded, and typed for the next
                records = page.records
                typer.tables(records, fresh_type=kind is not None)
                return len(records)

        return parse

    return _floor(args, tables, page_reader)


CONTENDERS = {
    "naive": run_naive,
    "rest_api": run_rest_api,
    "cwsync": run_cwsync,
    "incremental": run_cwsync,
    "limit": run_limit,
    "limit_arrow": run_limit_arrow,
}


def own_peak_rss_mb() -> float | None:
    """This process's peak resident memory in MB (Linux ``VmHWM``; None elsewhere).

    Not ``ru_maxrss`` as its parent reads it at exit: Linux carries a parent's peak over
    into a child it spawns (fork, then exec), so a child started by a big process reports
    at least the parent's size. ``VmHWM`` is of this process's own memory since exec."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        return None
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("name", choices=sorted(CONTENDERS))
    parser.add_argument("--base-url", default=os.environ.get("CWBENCH_BASE_URL"))
    parser.add_argument("--company-id", default=os.environ.get("CWBENCH_COMPANY_ID"))
    parser.add_argument("--public-key", default=os.environ.get("CWBENCH_PUBLIC_KEY"))
    parser.add_argument("--private-key", default=os.environ.get("CWBENCH_PRIVATE_KEY"))
    parser.add_argument("--client-id", default=os.environ.get("CWBENCH_CLIENT_ID"))
    parser.add_argument("--duckdb", required=True, help="DuckDB file to load into")
    parser.add_argument("--tables", required=True, help="comma list of table names")
    parser.add_argument(
        "--state-dir",
        default=None,
        help="dlt pipelines_dir (cwsync and incremental share one; default: dlt's)",
    )
    parser.add_argument(
        "--rps",
        type=float,
        default=0.0,
        help="cwsync/limit: requests_per_second of the request budget (0 = no cap, default)",
    )
    args = parser.parse_args(argv)
    missing = [
        k
        for k in ("base_url", "company_id", "public_key", "private_key", "client_id")
        if not getattr(args, k)
    ]
    if missing:
        parser.error(f"missing {', '.join(missing)} (CWBENCH_* environment variables)")
    tables = [t.strip() for t in args.tables.split(",") if t.strip()]
    started = time.perf_counter()
    result = CONTENDERS[args.name](args, tables)
    result["work_s"] = round(time.perf_counter() - started, 3)
    result["http_requests"] = _HTTP["requests"]
    result["contender"] = args.name
    peak = own_peak_rss_mb()
    if peak is not None:
        result["peak_rss_mb"] = peak
    sys.stdout.flush()
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    sys.exit(main())

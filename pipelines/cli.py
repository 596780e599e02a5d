"""The ``cwsync`` command line: one subcommand per job.

Errors a user can fix end in a one-line message on stderr and exit status 2; no
tracebacks for bad input, and no secrets in anything printed.
"""

from __future__ import annotations

import argparse
import json
import logging
import queue
import signal
import sys
from collections.abc import Sequence


class UsageError(Exception):
    """A problem with what the user asked for: printed as one line, exit 2."""


def _scale(text: str) -> str | int:
    if text in ("small", "medium", "large"):
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid scale {text!r}: use small, medium, large or a record count"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError("scale must not be negative")
    return value


def _count(text: str) -> tuple[str, int]:
    path, sep, number = text.partition("=")
    if not sep or not number.strip().isdigit():
        raise argparse.ArgumentTypeError(
            f"invalid --count {text!r}: use PATH=N, e.g. service/tickets=1000000"
        )
    return path.strip().strip("/"), int(number)


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid rate {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("--fault-rate must be between 0 and 1")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage block) and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"cwsync: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="cwsync",
        description="Sync a ConnectWise Manage tenant into a warehouse; run a ConnectWise sandbox.",
        epilog=(
            "Configuration: .dlt/config.toml and .dlt/secrets.toml or SOURCES__CONNECTWISE__* "
            "environment variables (README: Configuration lists every key). "
            "cwsync COMMAND --help describes each command."
        ),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    sb = sub.add_parser(
        "sandbox",
        help="serve a simulated ConnectWise Manage tenant over HTTP",
        description=(
            "Serve a seeded, simulated ConnectWise Manage tenant until interrupted. The first "
            "line on stdout is one JSON object with base_url, site, company_id, public_key, "
            "private_key and client_id."
        ),
    )
    sb.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sb.add_argument(
        "--port", type=int, default=0, help="port to bind; 0 picks a free one (default)"
    )
    sb.add_argument("--seed", type=int, default=1, help="seed of the generated tenant (default 1)")
    sb.add_argument(
        "--scale",
        type=_scale,
        default="small",
        help="small | medium | large | N records in the biggest table (default small)",
    )
    sb.add_argument(
        "--count",
        type=_count,
        action="append",
        default=[],
        metavar="PATH=N",
        help="set one collection's record count, e.g. service/tickets=1000000 (repeatable)",
    )
    sb.add_argument(
        "--latency-ms", type=float, default=0.0, help="added to every response (default 0)"
    )
    sb.add_argument(
        "--per-record-ms",
        type=float,
        default=0.0,
        help="added per record in a list response (default 0)",
    )
    sb.add_argument(
        "--fault-rate", type=_rate, default=0.0, help="share of API requests that fail (0..1)"
    )
    sb.add_argument(
        "--fault-kinds",
        default=None,
        help="comma list of 500,502,503,429,reset,slow,truncated,html (default all)",
    )
    sb.add_argument(
        "--slow-seconds", type=float, default=2.0, help="delay of a 'slow' fault (default 2)"
    )
    sb.add_argument(
        "--retry-after", type=int, default=1, help="Retry-After seconds on 429 (default 1)"
    )
    sb.add_argument(
        "--db", default=None, help="SQLite file to keep the tenant in (default: a temp file)"
    )
    sb.add_argument("--company-id", default="cwsync", help="login company id (default cwsync)")
    sb.add_argument(
        "--cloud", action="store_true", help="act as a cloud tenant (codebase v2025_8/)"
    )
    sb.add_argument(
        "--max-url-length", type=int, default=2000, help="longest URL accepted (default 2000)"
    )
    sb.add_argument(
        "--forward-link-keeps-params",
        action="store_true",
        help="make forward-only next links repeat conditions/fields (off by default)",
    )
    sb.set_defaults(func=cmd_sandbox)

    run = sub.add_parser(
        "run",
        help="sync the configured tenant into the warehouse (incremental)",
        description=(
            "Sync the ConnectWise tenant configured in .dlt/ (or SOURCES__CONNECTWISE__* "
            "environment variables) into a dlt destination. The first run backfills; later "
            "runs read only records whose lastUpdated moved."
        ),
    )
    _sync_options(run)
    run.add_argument(
        "--sandbox",
        action="store_true",
        help="sync from an embedded sandbox tenant instead of the configured one",
    )
    run.add_argument("--scale", type=_scale, default="small", help="sandbox scale (with --sandbox)")
    run.add_argument("--seed", type=int, default=1, help="sandbox seed (with --sandbox)")
    run.add_argument(
        "--reconcile-deletes",
        action="store_true",
        help="sweep ids of every synced table now and mark deleted records "
        "(otherwise: per the schedule, default once a day)",
    )
    run.add_argument(
        "--no-deletes", action="store_true", help="skip the scheduled delete sweep this run"
    )
    run.add_argument(
        "--hard-deletes",
        action="store_true",
        help="delete rows of deleted records instead of marking",
    )
    run.add_argument(
        "--force-deletes", action="store_true", help="mark deletes past the mass-delete guard"
    )
    run.add_argument(
        "--max-delete-share",
        type=_rate,
        default=0.10,
        help="mass-delete guard: most of a table one sweep may mark (default 0.10)",
    )
    run.add_argument(
        "--no-verify", action="store_true", help="skip comparing API counts with the warehouse"
    )
    run.add_argument(
        "--no-views", action="store_true", help="do not refresh the BI views after the load"
    )
    run.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress display (the closing summary is still printed)",
    )
    run.add_argument(
        "--progress-every",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="without a terminal, print a progress line this often (default 30)",
    )
    run.set_defaults(func=cmd_run)

    verify = sub.add_parser(
        "verify",
        help="compare the API's /count with the warehouse's live rows, per table",
        description=(
            "For every loaded top-level table, compare the API's /count with the live rows "
            "in the warehouse; exit 1 when any differs."
        ),
    )
    _sync_options(verify, sync=False)
    verify.set_defaults(func=cmd_verify)

    views = sub.add_parser(
        "views",
        help="create or refresh the BI views (bi_tickets, bi_time_entries, …) in the dataset",
        description=(
            "Create or refresh the SQL views a dashboard reads: bi_tickets, bi_time_entries, "
            "bi_agreements, bi_invoices, bi_opportunities, and bi_<table>_custom_fields (one "
            "typed column per custom field caption) for every table with custom fields. Live "
            "rows only. cwsync run refreshes them after every load; this rebuilds them "
            "without syncing."
        ),
    )
    _sync_options(views, sync=False, resources=False)
    views.set_defaults(func=cmd_views)

    endpoints = sub.add_parser(
        "endpoints",
        help="list every endpoint: path, table, incremental/full/per-parent, parent, enabled",
        description=(
            "List the endpoint table: each collection's API path, the table it lands in, how "
            "it is synced (incremental by lastUpdated, full = replaced every run, per-parent "
            "= fetched for each changed parent), its parent table, whether a run without "
            "--resources syncs it (sources.connectwise.disabled_tables switches tables off) "
            "and where it is declared (built-in, or config: sources.connectwise."
            "extra_endpoints)."
        ),
    )
    endpoints.add_argument(
        "--enabled-only", action="store_true", help="only the endpoints a plain run syncs"
    )
    endpoints.add_argument("--json", action="store_true", help="one JSON object per line")
    endpoints.set_defaults(func=cmd_endpoints)

    status = sub.add_parser(
        "status",
        help="per table: last successful run, cursor, rows, lag",
        description=(
            "Freshness of the warehouse, read from the run log (_cwsync_runs), the "
            "incremental cursors in the pipeline state and row counts: per table the last "
            "successful run that synced it, its cursor, rows (all and live) and lag (now "
            "minus that last run)."
        ),
    )
    _sync_options(status, sync=False, resources=False)
    status.set_defaults(func=cmd_status)

    report = sub.add_parser(
        "report",
        help="write a self-contained HTML page: freshness table and run charts",
        description=(
            "Write one self-contained HTML file (inline SVG charts, no scripts or links to "
            "other sites): the status table and rows per run, run duration and requests per "
            "run over time."
        ),
    )
    report.add_argument("--html", required=True, metavar="FILE", help="the HTML file to write")
    _sync_options(report, sync=False, resources=False)
    report.set_defaults(func=cmd_report)

    demo = sub.add_parser(
        "demo",
        help="sandbox -> DuckDB: full sync, change records, incremental sync, summary",
        description=(
            "Start a sandbox tenant in-process, sync everything into a local DuckDB file, "
            "change some records, sync again incrementally and print what happened, with "
            "SQL to try."
        ),
    )
    demo.add_argument(
        "--duckdb-file",
        default="cwsync_demo.duckdb",
        help="DuckDB file (default cwsync_demo.duckdb)",
    )
    demo.add_argument("--scale", type=_scale, default="small", help="sandbox scale (default small)")
    demo.add_argument("--seed", type=int, default=1, help="sandbox seed (default 1)")
    demo.add_argument("--changes", type=int, default=25, help="tickets to change (default 25)")
    demo.add_argument("-v", "--verbose", action="store_true", help="log every retry and step")
    demo.set_defaults(func=cmd_demo)

    cb = sub.add_parser(
        "callbacks",
        help="register, list or remove the tenant's callbacks (system/callbacks)",
        description=(
            "Manage the ConnectWise callbacks that point at your receiver's public URL "
            "(callbacks.url in .dlt/config.toml or --url). register is idempotent."
        ),
    )
    cb_sub = cb.add_subparsers(
        dest="action", metavar="ACTION", parser_class=_Parser, help="register, list or remove"
    )
    cb_sub.required = True
    for name, text in (
        ("register", "subscribe the URL to record types (idempotent)"),
        ("list", "show the callbacks (of the URL, or all with --all)"),
        ("remove", "delete the callbacks of the URL (of --types only, when given)"),
    ):
        p = cb_sub.add_parser(name, help=text, description=text)
        p.add_argument("--url", default=None, help="the receiver's public https URL")
        if name != "list":
            p.add_argument(
                "--types",
                default=None,
                help="comma list of Ticket,Company,Contact,Project,Opportunity,Activity,"
                "Invoice,Configuration (default: callbacks.types, or all)",
            )
        else:
            p.add_argument("--all", action="store_true", help="every callback of the tenant")
        if name == "register":
            p.add_argument("--level", default=None, help="subscription level (default Owner)")
            p.add_argument(
                "--object-id", type=int, default=None, help="id the level refers to (Owner: 1)"
            )
            p.add_argument("--description", default="cwsync", help="label (default cwsync)")
        p.add_argument("-v", "--verbose", action="store_true", help="log every step")
        p.set_defaults(func=cmd_callbacks)

    wh = sub.add_parser(
        "webhook",
        help="receive ConnectWise callbacks and apply them to the warehouse",
        description=(
            "Serve the callbacks receiver: verify each callback's signature, journal it "
            "(fsynced) before answering 200, and every few seconds mark deletes and re-read "
            "changed records into the warehouse. The first line on stdout is one JSON object "
            "with the address it listens on."
        ),
    )
    wh.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    wh.add_argument("--port", type=int, default=None, help="port (default 8787; 0 = a free one)")
    wh.add_argument(
        "--journal", default=None, help="journal file (default cwsync_callbacks.sqlite)"
    )
    wh.add_argument(
        "--interval",
        type=float,
        default=None,
        help="seconds between micro-batches (default 2)",
    )
    wh.add_argument("--hard-deletes", action="store_true", help="delete rows of deleted records")
    _sync_options(wh, sync=False)
    wh.set_defaults(func=cmd_webhook)
    return parser


def _tables(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError("--resources needs at least one table name")
    return names


def _condition(text: str) -> tuple[str, str]:
    table, sep, condition = text.partition("=")
    if not sep or not table.strip() or not condition.strip():
        raise argparse.ArgumentTypeError(
            f"invalid --condition {text!r}: use TABLE=CONDITIONS, e.g. "
            "service_tickets='closedFlag = False'"
        )
    return table.strip(), condition.strip()


def _sync_options(p: argparse.ArgumentParser, *, sync: bool = True, resources: bool = True) -> None:
    p.add_argument(
        "--destination",
        default="duckdb",
        help="dlt destination: duckdb (default), postgres, bigquery, snowflake, …",
    )
    p.add_argument(
        "--duckdb-file",
        default="cwsync.duckdb",
        help="DuckDB database file (default cwsync.duckdb)",
    )
    p.add_argument(
        "--dataset", default="connectwise", help="dataset/schema name (default connectwise)"
    )
    if resources:
        p.add_argument(
            "--resources",
            type=_tables,
            default=None,
            metavar="TABLES",
            help="comma list of tables, e.g. service_tickets,service_tickets_notes",
        )
    if sync:
        p.add_argument(
            "--condition",
            type=_condition,
            action="append",
            default=[],
            metavar="TABLE=CONDITIONS",
            help="filter a table, e.g. service_tickets='board/name = \"Help Desk\"' (repeatable)",
        )
        p.add_argument(
            "--start-date", default=None, help="bound the first backfill, e.g. 2024-01-01"
        )
        p.add_argument(
            "--full-refresh", action="store_true", help="drop the tables and state, re-sync"
        )
    p.add_argument("--pipeline-name", default="cwsync", help="dlt pipeline name (default cwsync)")
    p.add_argument("--pipelines-dir", default=None, help="where dlt keeps pipeline state")
    p.add_argument("-v", "--verbose", action="store_true", help="log every retry and step")


def cmd_sandbox(args: argparse.Namespace) -> int:
    from cwsync.sandbox import Sandbox

    kinds = [k.strip() for k in args.fault_kinds.split(",")] if args.fault_kinds else None
    try:
        sandbox = Sandbox(
            host=args.host,
            port=args.port,
            seed=args.seed,
            scale=args.scale,
            counts=dict(args.count),
            latency_ms=args.latency_ms,
            per_record_ms=args.per_record_ms,
            fault_rate=args.fault_rate,
            fault_kinds=kinds,
            slow_seconds=args.slow_seconds,
            retry_after=args.retry_after,
            db=args.db,
            company_id=args.company_id,
            cloud=args.cloud,
            max_url_length=args.max_url_length,
            forward_link_keeps_params=args.forward_link_keeps_params,
        )
        sandbox.start()
    except (ValueError, OSError) as exc:
        raise UsageError(f"cannot start the sandbox: {exc}") from None
    # from here on, Ctrl-C or SIGTERM at any moment stops the sandbox (a client may
    # connect and stop it as soon as it has read the first line); SIGINT too when the
    # sandbox was started from a script with `&`, which leaves it ignored
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        print(json.dumps(sandbox.info), flush=True)
        print(
            f"sandbox: serving {sandbox.base_url} (seeded in {sandbox.seed_seconds:.1f}s); "
            "Ctrl-C stops it",
            file=sys.stderr,
            flush=True,
        )
        sandbox.serve_forever()
    finally:
        sandbox.stop()
    return 0


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("cwsync: %(message)s"))
    logger = logging.getLogger("cwsync")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO if verbose else logging.WARNING)
    logger.propagate = False


def _pipeline(args: argparse.Namespace):
    """The dlt pipeline the --destination/--dataset/--pipeline-* options name."""
    from pipelines.sync import make_pipeline

    return make_pipeline(
        args.destination,
        dataset_name=args.dataset,
        pipeline_name=args.pipeline_name,
        pipelines_dir=args.pipelines_dir,
        duckdb_path=args.duckdb_file,
    )


def cmd_run(args: argparse.Namespace) -> int:
    import threading

    import dlt

    from pipelines.endpoints import default_tables, register_from_config
    from pipelines.progress import (
        Display,
        Tracker,
        cursor_of,
        fetch_totals,
        format_summary,
        live_counts,
        summary_rows,
    )
    from pipelines.sync import run_sync
    from sources.connectwise import resolve_tables, table_conditions
    from sources.connectwise.client import RequestStats
    from sources.connectwise.conditions import to_utc_iso

    _setup_logging(args.verbose)
    # bad input is refused before anything is read
    register_from_config()
    selected = resolve_tables(args.resources or default_tables())
    start = to_utc_iso(args.start_date) if args.start_date else None
    conditions = dict(args.condition) or dlt.config.get("sources.connectwise.conditions", dict)
    filters = table_conditions(conditions)
    sandbox = None
    source_args: dict = {}
    if args.sandbox:
        from cwsync.sandbox import Sandbox

        sandbox = Sandbox(scale=args.scale, seed=args.seed).start()
        info = sandbox.info
        source_args = {k: info[k] for k in ("company_id", "public_key", "private_key", "client_id")}
        source_args["base_url"] = info["base_url"]
        source_args["requests_per_second"] = 0  # an embedded sandbox needs no rate cap
    if args.condition:
        source_args["conditions"] = dict(args.condition)
    tracker = Tracker()
    stats = RequestStats()
    totals_started = threading.Event()
    try:
        from pipelines.callbacks import pipeline_lock

        pipeline = _pipeline(args)
        lock = pipeline_lock(pipeline.pipelines_dir, pipeline.pipeline_name)
        with lock:
            before: dict = {}
            cursors: dict = {}
            if not args.full_refresh:
                pipeline.sync_destination()
                before = live_counts(pipeline, selected)
                cursors = {t: cursor_of(pipeline, t) for t in selected}
            bound = start or dlt.config.get("sources.connectwise.start_date", str)
            cursors = {
                t: cursors.get(t) or (to_utc_iso(bound) if bound else None) for t in selected
            }

            def observe(path: str, requests: int, retries: int, records: int) -> None:
                tracker.observe(path, requests, retries, records)
                # totals once the API answered a page: the run's own client and request budget
                if (
                    records
                    and not args.quiet
                    and not totals_started.is_set()
                    and stats.client is not None
                ):
                    totals_started.set()
                    threading.Thread(
                        target=fetch_totals,
                        args=(tracker, stats.client, selected, cursors, filters),
                        name="cw-totals",
                        daemon=True,
                    ).start()

            mode = "quiet" if args.quiet else "auto"
            stats.observer = observe  # per-table requests, retries and seconds for the summary
            with Display(tracker, mode, every=max(0.1, args.progress_every)):
                summary = run_sync(
                    pipeline,
                    tables=args.resources,
                    start_date=args.start_date,
                    full_refresh=args.full_refresh,
                    verify=not args.no_verify,
                    deletes="now"
                    if args.reconcile_deletes
                    else ("off" if args.no_deletes else "auto"),
                    hard_deletes=args.hard_deletes,
                    force_deletes=args.force_deletes,
                    max_delete_share=args.max_delete_share,
                    views=not args.no_views,
                    stats=stats,
                    **source_args,
                )
            after = live_counts(pipeline, summary.tables)
    finally:
        tracker.closed = True
        if sandbox is not None:
            sandbox.stop()
    for line in summary.lines():
        print(line)
    rows = summary_rows(
        summary.tables,
        before,
        after,
        summary.rows,
        {s.table: s.marked for s in summary.deletes},
        tracker,
        summary.unchanged,
    )
    print()
    for line in format_summary(rows):
        print(line)
    refused = [s.refused for s in summary.deletes if s.refused]
    return 1 if refused else 0


def cmd_verify(args: argparse.Namespace) -> int:
    import dlt

    from pipelines.endpoints import register_from_config
    from pipelines.reconcile import verify_counts
    from pipelines.sync import count_table
    from sources.connectwise import client_from_config, resolve_tables

    _setup_logging(args.verbose)
    register_from_config()
    tables = resolve_tables(args.resources) if args.resources else None
    pipeline = _pipeline(args)
    pipeline.sync_destination()
    if not pipeline.schemas or "connectwise" not in pipeline.schemas:
        raise UsageError(
            "nothing to verify: no ConnectWise data in this destination yet (cwsync run)"
        )
    from sources.connectwise import table_conditions

    start = dlt.config.get("sources.connectwise.start_date", str)
    filters = table_conditions(dlt.config.get("sources.connectwise.conditions", dict))
    checks = verify_counts(
        pipeline, client_from_config(), tables, start_date=start, filters=filters
    )
    for line in count_table(checks):
        print(line)
    return 1 if any(c.diff for c in checks) else 0


def _loaded_pipeline(args: argparse.Namespace, what: str):
    """The pipeline of the options, with its schema restored from the destination."""
    from pipelines.endpoints import register_from_config

    register_from_config()  # tables of config-declared endpoints are ConnectWise tables too
    pipeline = _pipeline(args)
    pipeline.sync_destination()
    if not pipeline.schemas or "connectwise" not in pipeline.schemas:
        raise UsageError(
            f"nothing to {what}: no ConnectWise data in dataset {args.dataset!r} of this "
            "destination yet (run cwsync run first, or check --destination/--dataset)"
        )
    return pipeline


def cmd_views(args: argparse.Namespace) -> int:
    from pipelines.views import build_views, supports_views

    _setup_logging(args.verbose)
    pipeline = _loaded_pipeline(args, "build views on")
    if not supports_views(pipeline):
        raise UsageError(
            f"views are made on duckdb, motherduck and postgres, not on {args.destination}"
        )
    built = build_views(pipeline)
    print(f"{len(built.views)} views refreshed in {args.dataset}: {', '.join(built.views)}")
    if built.skipped:
        print(f"not made (table not loaded): {', '.join(built.skipped)}")
    return 0


def cmd_endpoints(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from pipelines.endpoints import endpoint_rows, register_from_config

    register_from_config()
    rows = [r for r in endpoint_rows() if r.enabled or not args.enabled_only]
    if args.json:
        for row in rows:
            print(json.dumps(asdict(row)))
        return 0
    widths = [max(len(h), *(len(getattr(r, f)) for r in rows)) for h, f in _ENDPOINT_COLUMNS]
    print("  ".join(h.ljust(w) for (h, _), w in zip(_ENDPOINT_COLUMNS, widths, strict=True)))
    for r in rows:
        cells = [getattr(r, f) for _, f in _ENDPOINT_COLUMNS]
        print("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    extra = sum(r.declared == "config" for r in rows)
    off = sum(not r.enabled for r in endpoint_rows())
    print(f"{len(rows)} endpoints ({extra} from configuration, {off} disabled)")
    return 0


_ENDPOINT_COLUMNS = (
    ("path", "path"),
    ("table", "table"),
    ("sync", "kind"),
    ("parent", "parent"),
    ("enabled", "enabled_text"),
    ("declared", "declared"),
)


def cmd_status(args: argparse.Namespace) -> int:
    from pipelines.report import load_runs, status_lines, table_status

    _setup_logging(args.verbose)
    pipeline = _loaded_pipeline(args, "report on")
    runs = load_runs(pipeline)
    for line in status_lines(runs, table_status(pipeline, runs)):
        print(line)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pipelines.report import load_runs, render_html, table_status

    _setup_logging(args.verbose)
    target = Path(args.html)
    if target.is_dir() or not target.parent.exists():
        raise UsageError(f"--html {args.html}: not a file in an existing directory")
    pipeline = _loaded_pipeline(args, "report on")
    runs = load_runs(pipeline)
    page = render_html(runs, table_status(pipeline, runs), dataset=args.dataset)
    target.write_text(page, encoding="utf-8")
    print(f"wrote {target} ({len(runs)} runs, {len(page) // 1024} KB)")
    return 0


def _callback_setting(key: str, given, default):
    import dlt

    if given is not None:
        return given
    value = dlt.config.get(f"callbacks.{key}")
    return default if value is None else value


def cmd_callbacks(args: argparse.Namespace) -> int:
    from pipelines import callbacks as cbs
    from sources.connectwise import client_from_config

    _setup_logging(args.verbose)
    url = _callback_setting("url", args.url, None)
    if not url and not getattr(args, "all", False):
        raise UsageError("no callback URL: pass --url or set callbacks.url in .dlt/config.toml")
    types_value = _callback_setting("types", getattr(args, "types", None), None)
    if isinstance(types_value, str):
        types = [t for t in types_value.split(",") if t.strip()]
    else:
        types = list(types_value or [])
    client = client_from_config()
    if args.action == "list":
        entries = cbs.list_callbacks(client, None if args.all else url)
        for e in entries:
            state = "inactive" if e.get("inactiveFlag") else "active"
            print(
                f"{e.get('id')}\t{e.get('type')}\t{e.get('level')}\t{e.get('objectId')}"
                f"\t{state}\t{e.get('url')}"
            )
        print(f"{len(entries)} callbacks", file=sys.stderr)
        return 0
    if args.action == "register":
        result = cbs.register(
            client,
            url,
            types or list(cbs.TYPES),
            level=_callback_setting("level", args.level, "Owner"),
            object_id=int(_callback_setting("object_id", args.object_id, 1)),
            description=args.description,
        )
        for e in result.created:
            print(f"registered {e.get('type')} ({e.get('level')}) -> {url} [id {e.get('id')}]")
        for e in result.kept:
            print(f"already registered {e.get('type')} ({e.get('level')}) [id {e.get('id')}]")
        return 0
    removed = cbs.remove(client, url, types or None)
    for e in removed:
        print(f"removed {e.get('type')} ({e.get('level')}) [id {e.get('id')}]")
    if not removed:
        print(f"no callbacks point at {url}")
    return 0


def cmd_webhook(args: argparse.Namespace) -> int:
    from pipelines.serve import WebhookConfig, serve
    from sources.connectwise import resolve_tables

    _setup_logging(args.verbose)
    config = WebhookConfig(
        host=str(_callback_setting("host", args.host, "127.0.0.1")),
        port=int(_callback_setting("port", args.port, 8787)),
        journal=str(_callback_setting("journal", args.journal, "cwsync_callbacks.sqlite")),
        interval_seconds=float(_callback_setting("interval_seconds", args.interval, 2.0)),
        max_body_bytes=int(_callback_setting("max_body_bytes", None, 1024 * 1024)),
        max_url_length=int(_callback_setting("max_url_length", None, 2000)),
        replay_window_hours=float(_callback_setting("replay_window_hours", None, 72)),
        key_cache_seconds=float(_callback_setting("key_cache_seconds", None, 3600)),
        hard_deletes=args.hard_deletes,
        tables=resolve_tables(args.resources) if args.resources else None,
    )
    if config.max_body_bytes < 1024:
        raise UsageError("callbacks.max_body_bytes must be at least 1024")
    if config.interval_seconds <= 0:
        raise UsageError("--interval must be positive")
    return serve(config, lambda: _pipeline(args))


def cmd_demo(args: argparse.Namespace) -> int:
    from pipelines.demo import run_demo

    _setup_logging(args.verbose)
    return run_demo(
        duckdb_file=args.duckdb_file, scale=args.scale, seed=args.seed, changes=args.changes
    )


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]


def _destination_problem(exc: BaseException) -> str | None:
    """The config key to fix when the destination is unknown, lacks credentials or its
    driver; None for other failures."""
    from dlt.common.configuration.exceptions import ConfigFieldMissingException
    from dlt.common.destination.exceptions import UnknownDestinationModule
    from dlt.common.exceptions import MissingDependencyException

    for item in _chain(exc):
        if isinstance(item, UnknownDestinationModule):
            name = getattr(item, "ref", None) or "?"
            return (
                f"unknown destination {str(name).rsplit('.', 1)[-1]!r} in --destination: use "
                "duckdb, postgres, bigquery, snowflake, motherduck, filesystem or another dlt "
                "destination (see README: Warehouses)"
            )
        if isinstance(item, ConfigFieldMissingException):
            spec = str(getattr(item, "spec_name", ""))
            if "ClientConfiguration" in spec or "Credentials" in spec:
                kind = spec.replace("ClientConfiguration", "").replace("Credentials", "").lower()
                return (
                    f"missing credentials for the {kind} destination: set "
                    f"destination.{kind}.credentials in .dlt/secrets.toml (or "
                    f"DESTINATION__{kind.upper()}__CREDENTIALS; see README: Warehouses)"
                )
        if isinstance(item, MissingDependencyException):
            text = " ".join(str(item).split())
            extra = next(
                (w.strip("\"',.") for w in text.split() if w.startswith(("dlt[", '"dlt['))), ""
            )
            hint = f'pip install "{extra}"' if extra else "install the destination's extra"
            return f"the destination's driver is not installed: {hint}"
    return None


def _root_cause(exc: BaseException) -> BaseException:
    """The first exception of a chain: explicit causes, and implicit contexts unless
    they are the control flow an error happened to be raised in (an empty queue, an
    exhausted iterator)."""
    root = exc
    while True:
        nxt = root.__cause__
        if nxt is None and not root.__suppress_context__:
            nxt = root.__context__
            if isinstance(nxt, (queue.Empty, StopIteration, StopAsyncIteration)):
                nxt = None
        if nxt is None:
            return root
        root = nxt


def _failure_message(exc: BaseException) -> tuple[str, int]:
    """One line for any failure of a run: ours verbatim, dlt's and others condensed."""
    from sources.connectwise.errors import ConfigurationError, find_connectwise_error

    found = find_connectwise_error(exc)
    if found is not None:
        return str(found), 2 if isinstance(found, ConfigurationError) else 1
    destination = _destination_problem(exc)
    if destination is not None:
        return destination, 2
    try:
        from dlt.common.configuration.exceptions import ConfigFieldMissingException

        if isinstance(exc, ConfigFieldMissingException):
            fields = ", ".join(exc.fields)
            return (f"missing configuration: {fields} (set it in .dlt/ or the environment)", 2)
    except ImportError:  # pragma: no cover
        pass
    root = _root_cause(exc)
    text = " ".join(str(root).split()) or type(root).__name__
    if len(text) > 300:
        text = text[:297] + "..."
    return f"run failed: {type(root).__name__}: {text} (run with -v for details)", 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"cwsync: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `cwsync status | head`: the reader has all it wanted
        sys.stderr.close()
        return 0
    except Exception as exc:  # one line, never a traceback wall
        message, code = _failure_message(exc)
        if getattr(args, "verbose", False):
            logging.getLogger("cwsync").exception("details")
        print(f"cwsync: {message}", file=sys.stderr)
        return code

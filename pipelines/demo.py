"""``cwsync demo``: the whole product in one command, on the sandbox and DuckDB.

Starts a sandbox tenant in-process, syncs every table into a local DuckDB file, changes
some records the way people do during a working day (tickets edited, notes added, a new
company), runs an incremental sync, then prints what each run did and SQL to try.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import duckdb

from cwsync.sandbox import Sandbox

from .sync import RunSummary, make_pipeline, run_sync

EXAMPLE_QUERIES = (
    (
        "open tickets per board",
        "SELECT board, count(*) AS open_tickets FROM connectwise.bi_tickets "
        "WHERE NOT closed GROUP BY 1 ORDER BY 2 DESC",
    ),
    (
        "hours logged per member",
        "SELECT member__identifier AS member, round(sum(actual_hours), 1) AS hours "
        "FROM connectwise.time_entries GROUP BY 1 ORDER BY 2 DESC LIMIT 5",
    ),
    (
        "ticket custom fields, one typed column per caption",
        "SELECT id, summary, cf_escalation_score, cf_t_m_billing_required "
        "FROM connectwise.bi_service_tickets_custom_fields "
        "WHERE cf_escalation_score IS NOT NULL ORDER BY id LIMIT 5",
    ),
    (
        "notes per ticket",
        "SELECT parent_id AS ticket_id, count(*) AS notes FROM connectwise.service_tickets_notes "
        "GROUP BY 1 ORDER BY 2 DESC LIMIT 5",
    ),
)


def _change_records(sandbox: Sandbox, changes: int) -> str:
    """Edit ``changes`` tickets, add a note to each, create a company."""
    ticket_ids = sandbox.ids("service/tickets")
    step = max(1, len(ticket_ids) // max(1, changes))
    picked = ticket_ids[::step][:changes]
    for n, tid in enumerate(picked):
        sandbox.update("service/tickets", tid, {"summary": f"Updated during the demo #{n + 1}"})
        sandbox.create(
            "service/tickets/{parentId}/notes",
            {
                "text": f"Called the customer back (demo change {n + 1})",
                "internalAnalysisFlag": True,
            },
            parent_id=tid,
        )
    sandbox.create(
        "company/companies",
        {"identifier": "DemoNewCo", "name": "Demo New Co \u2014 \u201cquoted\u201d", "site": None},
    )
    return f"changed {len(picked)} tickets, added {len(picked)} notes, created 1 company"


def _table(rows: list[tuple[str, RunSummary]]) -> list[str]:
    out = [f"{'run':<14}{'tables':>8}{'rows':>10}{'requests':>10}{'seconds':>9}"]
    for label, s in rows:
        changed = s.changed
        out.append(
            f"{label:<14}{len(changed):>8}{sum(changed.values()):>10,}{s.requests:>10,}{s.seconds:>9.1f}"
        )
    return out


def run_demo(
    *,
    duckdb_file: str = "cwsync_demo.duckdb",
    scale: str | int = "small",
    seed: int = 1,
    changes: int = 25,
) -> int:
    for suffix in ("", ".wal"):
        if os.path.exists(duckdb_file + suffix):
            os.remove(duckdb_file + suffix)
    state_dir = tempfile.mkdtemp(prefix="cwsync-demo-")
    try:
        with Sandbox(scale=scale, seed=seed) as sandbox:
            info = sandbox.info
            print(f"sandbox tenant (scale {scale}, seed {seed}) at {info['base_url']}")
            creds = {k: info[k] for k in ("company_id", "public_key", "private_key", "client_id")}
            creds["requests_per_second"] = 0  # an in-process sandbox needs no rate cap
            pipeline = make_pipeline(
                "duckdb",
                duckdb_path=duckdb_file,
                pipeline_name="cwsync_demo",
                pipelines_dir=state_dir,
            )
            first = run_sync(pipeline, base_url=info["base_url"], **creds)
            print(f"full sync: {first.lines()[0]}")
            print(_change_records(sandbox, changes))
            second = run_sync(pipeline, base_url=info["base_url"], **creds)
            print("incremental sync: " + "\n".join(second.lines()))
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)
    print()
    print("\n".join(_table([("full", first), ("incremental", second)])))
    print(f"\nDuckDB file: {os.path.abspath(duckdb_file)} — try:")
    with duckdb.connect(duckdb_file, read_only=True) as db:
        for title, sql in EXAMPLE_QUERIES:
            print(f'\n-- {title}\nduckdb {duckdb_file} -c "{sql};"')
            for row in db.execute(sql).fetchmany(3):
                print("   ", row)
    return 0

"""The BI views on DuckDB and the real PostgreSQL: the same SQL, the same answers.

Covers: the friendly views (tickets, time entries, agreements, invoices, opportunities)
hold the live rows of their tables with names instead of ids and computed hours and
billable amounts; the wide custom-field views have one typed column per caption (safe
names, odd captions, unparseable values are NULL not errors); deleted rows leave every
view; a full refresh on Postgres is not blocked by the views; ``cwsync views`` rebuilds
them.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime

import pytest

from cwsync.sandbox import Sandbox
from pipelines.sync import run_sync
from pipelines.views import FRIENDLY, build_views, custom_view_name, safe_name

from .conftest import (
    WAREHOUSES,
    drop_postgres_dataset,
    source_args,
    warehouse_pipeline,
    warehouse_rows,
)

TABLES = [
    "service_tickets",
    "time_entries",
    "finance_agreements",
    "finance_invoices",
    "sales_opportunities",
    "company_companies",
]


@pytest.fixture(scope="module", params=WAREHOUSES)
def loaded(request, tmp_path_factory) -> Iterator[tuple[Sandbox, object]]:
    tmp = tmp_path_factory.mktemp(f"views-{request.param}")
    with Sandbox(scale=300, seed=21) as sb:
        pipeline = warehouse_pipeline(request.param, tmp, "views")
        try:
            summary = run_sync(pipeline, tables=TABLES, **source_args(sb))
            assert summary.views_error is None
            yield sb, pipeline
        finally:
            if request.param == "postgres":
                drop_postgres_dataset(pipeline.dataset_name)


def _live(pipeline, table: str) -> int:
    return warehouse_rows(
        pipeline, f"SELECT count(*) FROM connectwise.{table} WHERE _cw_deleted_at IS NULL"
    )[0][0]


def test_every_view_is_made_after_a_load(loaded) -> None:
    sb, pipeline = loaded
    for view in FRIENDLY:
        assert warehouse_rows(pipeline, f"SELECT count(*) FROM connectwise.{view.name}") == [
            (_live(pipeline, view.table),)
        ], view.name
    for table in ("service_tickets", "time_entries", "company_companies"):
        rows = warehouse_rows(
            pipeline, f"SELECT count(*) FROM connectwise.{custom_view_name(table)}"
        )
        assert rows == [(_live(pipeline, table),)]


def test_ticket_view_has_names_and_sla_hours(loaded) -> None:
    sb, pipeline = loaded
    responded = [
        t
        for t in (sb.get("service/tickets", i) for i in sb.ids("service/tickets"))
        if t.get("dateResponded") and t.get("owner")
    ]
    ticket = responded[0]
    row = warehouse_rows(
        pipeline,
        "SELECT board, status, company, owner, priority, entered_at, responded_at, "
        "hours_to_respond, closed FROM connectwise.bi_tickets WHERE ticket_id = %s",
        ticket["id"],
    )
    assert len(row) == 1
    board, status, company, owner, priority, entered, responded_at, hours, closed = row[0]
    assert (board, status, company, owner, priority) == (
        ticket["board"]["name"],
        ticket["status"]["name"],
        ticket["company"]["name"],
        ticket["owner"]["name"],
        ticket["priority"]["name"],
    )
    started = datetime.fromisoformat(ticket["_info"]["dateEntered"].replace("Z", "+00:00"))
    answered = datetime.fromisoformat(ticket["dateResponded"].replace("Z", "+00:00"))
    assert responded_at == answered
    assert hours == pytest.approx((answered - started).total_seconds() / 3600)
    assert closed is ticket.get("closedFlag", False)


def test_time_entry_view_has_hours_and_billable_amounts(loaded) -> None:
    sb, pipeline = loaded
    rows = {
        r[0]: r[1:]
        for r in warehouse_rows(
            pipeline,
            "SELECT time_entry_id, member, hours, billable, billable_amount "
            "FROM connectwise.bi_time_entries",
        )
    }
    assert len(rows) == sb.count("time/entries")
    checked = 0
    for rid in sb.ids("time/entries")[:40]:
        entry = sb.get("time/entries", rid)
        member, hours, billable, amount = rows[rid]
        assert member == entry["member"]["name"]
        assert hours == pytest.approx(entry.get("actualHours") or 0)
        expected = 0.0
        if entry.get("billableOption") == "Billable":
            expected = (entry.get("hoursBilled") or entry.get("actualHours") or 0) * (
                entry.get("hourlyRate") or 0
            )
            checked += 1
        assert billable is (entry.get("billableOption") == "Billable")
        assert amount == pytest.approx(expected)
    assert checked > 0


def test_custom_field_view_has_one_typed_column_per_caption(loaded) -> None:
    sb, pipeline = loaded
    view = custom_view_name("service_tickets")
    ticket = next(
        t
        for t in (sb.get("service/tickets", i) for i in sb.ids("service/tickets"))
        if all(f.get("value") is not None for f in t["customFields"])
    )
    taken: set[str] = set()
    names = {f["caption"]: safe_name(f["caption"], taken) for f in ticket["customFields"]}
    assert names["T&M Billing Required"] == "cf_t_m_billing_required"
    columns = ", ".join(f'"{n}"' for n in names.values())
    row = warehouse_rows(
        pipeline, f"SELECT summary, {columns} FROM connectwise.{view} WHERE id = %s", ticket["id"]
    )
    assert len(row) == 1 and row[0][0] == ticket["summary"]
    got = dict(zip(names, row[0][1:], strict=True))
    for field in ticket["customFields"]:
        value = got[field["caption"]]
        if field["type"] == "Number":
            assert isinstance(value, float) and value == pytest.approx(field["value"])
        elif field["type"] == "Checkbox":
            assert value is field["value"]
        elif field["type"] == "Date":
            assert value == datetime.fromisoformat(field["value"].replace("Z", "+00:00"))
        else:
            assert value == str(field["value"])


def test_odd_captions_and_bad_values_do_not_break_the_view(loaded) -> None:
    sb, pipeline = loaded
    ids = [r[0] for r in warehouse_rows(pipeline, "SELECT id FROM connectwise.service_tickets")][:2]
    caption = "Discount % 'special'"
    with pipeline.sql_client() as sql:
        name = sql.make_qualified_table_name("service_tickets__custom_fields")
        for root, value in zip(ids, ["12.5", "n/a"], strict=True):
            sql.execute_sql(
                f"INSERT INTO {name} (value, caption, type, id, record_id, _dlt_load_id) "
                "VALUES (%s, %s, 'Number', 999, %s, '0')",
                value,
                caption,
                root,
            )
    try:
        build_views(pipeline)
        view = custom_view_name("service_tickets")
        values = warehouse_rows(
            pipeline,
            f'SELECT "cf_discount_special" FROM connectwise.{view} '
            'WHERE "cf_discount_special" IS NOT NULL',
        )
        assert values == [(12.5,)]  # "n/a" is NULL, not a failed query
    finally:
        with pipeline.sql_client() as sql:
            name = sql.make_qualified_table_name("service_tickets__custom_fields")
            sql.execute_sql(f"DELETE FROM {name} WHERE id = 999")
        build_views(pipeline)


def test_a_run_remakes_only_the_views_that_changed(loaded, monkeypatch) -> None:
    """After a run, a view whose SQL is unchanged is left as it is; a caption loaded since
    the views were made adds its column (read from the new rows only); a view dropped
    by hand is made again."""
    sb, pipeline = loaded
    made: list[str] = []
    client_class = type(pipeline.sql_client())
    real = client_class.execute_sql

    def spied(self, sql, *args, **kwargs):  # type: ignore[no-untyped-def]
        if sql.startswith("CREATE VIEW"):
            made.append(sql.split()[2])
        return real(self, sql, *args, **kwargs)

    monkeypatch.setattr(client_class, "execute_sql", spied)
    build_views(pipeline, incremental=True)
    assert made == []  # nothing changed since the run that made them

    ticket = warehouse_rows(pipeline, "SELECT min(id) FROM connectwise.service_tickets")[0][0]
    after = warehouse_rows(pipeline, "SELECT max(load_id) FROM connectwise._dlt_loads")[0][0]
    later = f"{int(after.split('.')[0]) + 1}.5"  # a load after the views were made
    with pipeline.sql_client() as sql:
        name = sql.make_qualified_table_name("service_tickets__custom_fields")
        sql.execute_sql(
            f"INSERT INTO {name} (value, caption, type, id, record_id, _dlt_load_id) "
            "VALUES ('7', 'Seats Sold', 'Number', 998, %s, %s)",
            ticket,
            later,
        )
        sql.execute_sql(f"DROP VIEW {sql.make_qualified_table_name('bi_invoices')}")
    try:
        build_views(pipeline, incremental=True)
        assert len(made) == 2 and {m.split(".")[-1].strip('"') for m in made} == {
            custom_view_name("service_tickets"),
            "bi_invoices",
        }
        view = custom_view_name("service_tickets")
        assert warehouse_rows(
            pipeline, f"SELECT cf_seats_sold FROM connectwise.{view} WHERE id = %s", ticket
        ) == [(7.0,)]
        assert warehouse_rows(pipeline, "SELECT count(*) FROM connectwise.bi_invoices")[0][0]
    finally:
        with pipeline.sql_client() as sql:
            name = sql.make_qualified_table_name("service_tickets__custom_fields")
            sql.execute_sql(f"DELETE FROM {name} WHERE id = 998")
        build_views(pipeline)


def test_deleted_rows_leave_the_views(loaded) -> None:
    sb, pipeline = loaded
    gone = sb.ids("service/tickets")[-1]
    sb.delete("service/tickets", gone)
    summary = run_sync(pipeline, tables=TABLES, deletes="now", **source_args(sb))
    assert summary.views_error is None and "bi_tickets" in summary.views
    for view, key in (("bi_tickets", "ticket_id"), (custom_view_name("service_tickets"), "id")):
        assert warehouse_rows(
            pipeline, f"SELECT count(*) FROM connectwise.{view} WHERE {key} = %s", gone
        ) == [(0,)]
        total = warehouse_rows(pipeline, f"SELECT count(*) FROM connectwise.{view}")[0][0]
        assert total == sb.count("service/tickets")


def test_a_full_refresh_is_not_blocked_by_the_views(loaded) -> None:
    sb, pipeline = loaded
    summary = run_sync(pipeline, tables=["service_tickets"], full_refresh=True, **source_args(sb))
    assert summary.views_error is None and "bi_tickets" in summary.views
    assert warehouse_rows(pipeline, "SELECT count(*) FROM connectwise.bi_tickets") == [
        (sb.count("service/tickets"),)
    ]


def test_safe_names() -> None:
    taken = {"summary"}
    assert safe_name("Seats", taken) == "cf_seats"
    assert safe_name("seats", taken) == "cf_seats_2"
    assert safe_name("  Über-größe (m²) ", taken) == "cf_ber_gr_e_m"
    assert safe_name("%%%", taken) == "cf_field"
    long = safe_name("x" * 200, taken)
    assert len(long) <= 60 and safe_name("x" * 200, taken) == long[:58] + "_2"


def test_cli_views_rebuilds_them(tmp_path) -> None:
    import duckdb

    from .test_cli_run import _env, _run_args

    with Sandbox(scale=150, seed=4) as sb:
        env = _env(tmp_path, sb)
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "cwsync",
                *_run_args(tmp_path, "--resources", "service_tickets"),
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
        with duckdb.connect(str(tmp_path / "x.duckdb")) as db:
            db.execute("DROP VIEW connectwise.bi_tickets")
        views = subprocess.run(
            [
                sys.executable,
                "-m",
                "cwsync",
                "views",
                "--duckdb-file",
                "x.duckdb",
                "--pipelines-dir",
                str(tmp_path / "pipelines"),
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert views.returncode == 0, views.stderr
        assert "bi_tickets" in views.stdout
        with duckdb.connect(str(tmp_path / "x.duckdb"), read_only=True) as db:
            count = db.execute("SELECT count(*) FROM connectwise.bi_tickets").fetchone()[0]
        assert count == sb.count("service/tickets")


def test_views_are_made_only_where_their_sql_runs(tmp_path) -> None:
    import dlt

    from pipelines.sync import make_pipeline
    from pipelines.views import supports_views

    from .conftest import POSTGRES_URL

    def pipeline(destination):
        return make_pipeline(destination, pipeline_name="kinds", pipelines_dir=str(tmp_path))

    assert supports_views(pipeline(dlt.destinations.duckdb(str(tmp_path / "k.duckdb"))))
    assert supports_views(pipeline(dlt.destinations.postgres(POSTGRES_URL)))
    assert not supports_views(pipeline(dlt.destinations.filesystem(tmp_path.as_uri())))

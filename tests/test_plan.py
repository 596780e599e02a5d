"""Planning for the Airflow DAGs, without Airflow: endpoint groups and backfill id ranges,
id-range slices loaded into one DuckDB table with no duplicates, and a group's delete
sweep as its own task (only when due, without an extract)."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.orchestrate import Settings, sweep_group, sync_group
from pipelines.plan import BIG_TABLES, Slice, backfill_slices, endpoint_groups, id_ranges
from pipelines.sync import make_pipeline, run_sync
from sources.connectwise import client_from_config
from sources.connectwise.settings import BY_TABLE, ENDPOINTS


def test_groups_cover_every_table_once_with_children_beside_parents():
    groups = endpoint_groups()
    tables = [t for g in groups for t in g.tables]
    assert sorted(tables) == sorted(e.table for e in ENDPOINTS)
    assert len(tables) == len(set(tables))
    where = {t: g.name for g in groups for t in g.tables}
    for endpoint in ENDPOINTS:
        if endpoint.is_child:
            assert where[endpoint.table] == where[endpoint.parent_table]
    for big in BIG_TABLES:
        if big in BY_TABLE:
            assert where[big] == big
    names = [g.pipeline_name for g in groups]
    assert len(names) == len(set(names))
    assert {"service", "company", "finance"} <= {g.name for g in groups}


def test_groups_of_a_selection():
    groups = endpoint_groups(["service_tickets_notes", "service_boards"])
    assert [(g.name, g.tables) for g in groups] == [
        ("service_tickets", ("service_tickets", "service_tickets_notes")),
        ("service", ("service_boards",)),
    ]


@pytest.mark.parametrize(
    "first,last,parts", [(1, 100, 4), (1, 7, 3), (10, 10, 5), (5, 1_000_003, 7), (1, 3, 8)]
)
def test_id_ranges_partition_every_id(first, last, parts):
    ranges = id_ranges(first, last, parts)
    assert ranges[0][0] is None and ranges[-1][1] is None
    assert len(ranges) == min(parts, last - first + 1)
    for (_, hi), (lo, _) in zip(ranges, ranges[1:], strict=False):
        assert hi == lo
    for i in list(range(first - 3, last + 4)):
        inside = [r for r in ranges if (r[0] is None or i >= r[0]) and (r[1] is None or i < r[1])]
        assert len(inside) == 1


def test_slice_condition():
    assert Slice("time_entries", 0, None, 50).condition == "id < 50"
    assert Slice("time_entries", 1, 50, 90).condition == "(id >= 50) and (id < 90)"
    assert Slice("time_entries", 2, 90, None).condition == "id >= 90"
    assert Slice("time_entries", 0, None, None).condition is None


def _point_at(sandbox, monkeypatch) -> None:
    info = sandbox.info
    for key in ("base_url", "company_id", "public_key", "private_key", "client_id"):
        monkeypatch.setenv(f"SOURCES__CONNECTWISE__{key.upper()}", info[key])
    monkeypatch.setenv("SOURCES__CONNECTWISE__REQUESTS_PER_SECOND", "0")


@pytest.fixture()
def sandbox_env(sandbox, monkeypatch):
    _point_at(sandbox, monkeypatch)
    return sandbox


def test_backfill_slices_merge_into_one_table_without_duplicates(sandbox_env, tmp_path):
    client = client_from_config()
    slices = backfill_slices(client, "time_entries", 3, min_rows=100)
    assert len(slices) == 3
    assert backfill_slices(client, "time_entries", 3, min_rows=10**9) == [
        Slice("time_entries", 0, None, None)
    ]
    db = str(tmp_path / "slices.duckdb")
    for part in slices:
        pipeline = make_pipeline(
            duckdb_path=db, pipeline_name=part.pipeline_name, pipelines_dir=str(tmp_path / "p")
        )
        summary = run_sync(
            pipeline,
            tables=["time_entries"],
            conditions={"time_entries": part.condition},
            verify=False,
            deletes="off",
            record_run=False,
            schema_name="connectwise_time_entries",
        )
        assert 0 < summary.records < sandbox_env.count("time/entries")
    with duckdb.connect(db) as con:
        total, distinct = con.execute(
            "SELECT count(*), count(DISTINCT id) FROM connectwise.time_entries"
        ).fetchone()
    assert total == distinct == sandbox_env.count("time/entries")


def test_sweep_group_sweeps_what_is_due_without_an_extract(fresh_sandbox, tmp_path, monkeypatch):
    sb = fresh_sandbox
    _point_at(sb, monkeypatch)
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))  # the pipelines' local state
    monkeypatch.setenv("SOURCES__CONNECTWISE__DELETES_EVERY_HOURS", "6")
    db = tmp_path / "cw.duckdb"
    settings = Settings(duckdb_file=str(db), tables=("service_tickets", "service_tickets_notes"))
    (group,) = settings.groups()

    def rows(sql: str) -> list[tuple]:
        with duckdb.connect(str(db), read_only=True) as con:
            return con.execute(sql).fetchall()

    synced = sync_group(group, settings=settings)
    assert synced["rows"] > 0 and synced["swept"] == [] and synced["baselines"] == []
    # the first sweep task after the first load only records the baseline
    first = sweep_group(group, settings=settings)
    assert (first["swept"], first["baselines"]) == ([], ["service_tickets"])
    nothing = sweep_group(group, settings=settings)  # moments later: nothing due (skipped)
    assert (nothing["swept"], nothing["baselines"]) == ([], [])
    # a ticket deleted in ConnectWise; six hours (less a few minutes) pass
    victim = next(t for t in sb.ids("service/tickets") if sb.ids(NOTES, t))
    notes = set(sb.ids(NOTES, victim))
    assert sb.delete("service/tickets", victim)
    with duckdb.connect(str(db)) as con:
        con.execute(
            "UPDATE connectwise._cwsync_deletes SET swept_at = swept_at - INTERVAL 355 MINUTE"
        )
    sb.clear_requests()
    swept = sweep_group(group, settings=settings)
    assert swept["swept"] == ["service_tickets"] and swept["deleted"] == 1
    assert swept["rows"] == 0 and swept["refused"] == []
    # ids only: no incremental extract, no per-parent reads
    assert sb.requests and all(r.query.get("fields") == "id" for r in sb.requests)
    assert rows("SELECT id FROM connectwise.service_tickets WHERE _cw_deleted_at IS NOT NULL") == [
        (victim,)
    ]
    assert {
        r[0]
        for r in rows(
            "SELECT id FROM connectwise.service_tickets_notes WHERE _cw_deleted_at IS NOT NULL"
        )
    } == notes
    log = rows(
        "SELECT table_name, marked, baseline FROM connectwise._cwsync_deletes ORDER BY swept_at"
    )
    assert log == [("service_tickets", 0, True), ("service_tickets", 1, False)]
    runs = rows("SELECT deleted_marked, tables FROM connectwise._cwsync_runs ORDER BY started_at")
    assert [r[0] for r in runs] == [0, 1] and runs[1][1] == "[]"  # no baseline-only row
    assert sweep_group(group, settings=settings)["swept"] == []  # swept moments ago


NOTES = "service/tickets/{parentId}/notes"

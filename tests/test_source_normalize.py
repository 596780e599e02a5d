"""Pages -> Arrow tables: the Arrow path equals the Python walk, types are stable, and
list tables lose no element and keep none that the API dropped."""

from __future__ import annotations

import pyarrow as pa
import pytest
from dlt.common.normalizers.naming.snake_case import NamingConvention

from sources.connectwise.client import ConnectWiseClient
from sources.connectwise.normalize import TIMESTAMP, PageNormalizer, TableBatch
from sources.connectwise.paginator import pages
from sources.connectwise.settings import ENDPOINTS

from .conftest import duckdb_pipeline, duckdb_rows, sandbox_client, source_args

NAMING = NamingConvention().normalize_identifier


def _same(a: dict[str, pa.Table], b: dict[str, pa.Table]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        fa = {f.name: f for f in a[name].schema}
        fb = {f.name: f for f in b[name].schema}
        assert fa == fb, name
        for column in fa:
            assert a[name].column(column).equals(b[name].column(column)), (name, column)


def page_of_three(first: int, **changes: object) -> list[dict]:
    """Three records from id ``first`` with a number, a reference, a list, a null and a
    timestamp; ``changes`` replace fields of every record."""
    out = []
    for i in range(first, first + 3):
        record = {
            "id": i,
            "hours": 2,
            "board": {"id": 3, "name": "Help", "_info": {"board_href": "x"}},
            "types": [{"id": 5, "name": "A"}],
            "note": None,
            "_info": {"lastUpdated": "2024-01-31T09:00:00Z"},
        }
        record.update(changes)
        out.append(record)
    return out


@pytest.fixture(scope="module")
def api(sandbox) -> ConnectWiseClient:
    return sandbox_client(sandbox)


def test_arrow_path_equals_the_python_walk_on_every_collection(api) -> None:
    arrowed = 0
    for endpoint in ENDPOINTS:
        if endpoint.is_child:
            continue
        records = [
            r
            for page in pages(api, endpoint.path, {}, forward_only=endpoint.forward_only)
            for r in page.records
        ]
        if not records:
            continue
        fast = PageNormalizer(endpoint.table, NAMING)
        slow = PageNormalizer(endpoint.table, NAMING)
        try:
            got = fast._tables_arrow(records, None)
        except Exception as exc:  # only the documented fallback is allowed
            assert type(exc).__name__ == "_NotArrowable", (endpoint.table, exc)
            continue
        arrowed += 1
        _same(got, slow._tables_python(records, None))
    assert arrowed >= 100  # nearly every collection takes the fast path


def test_types_flattening_and_lists() -> None:
    records = [
        {
            "id": 1,
            "board": None,
            "budgetHours": 2,
            "closedFlag": False,
            "types": [{"id": 5, "name": "A", "_info": {"type_href": "x"}}, None],
            "tags": ["a", "b"],
            "_info": {"lastUpdated": "2024-01-31T09:00:00Z", "updatedBy": "u"},
            "customFields": [
                {"id": 7, "caption": "N", "type": "Number", "value": 5, "connectWiseId": "c"}
            ],
        },
        {
            "id": 2,
            "board": {"id": 3, "name": "Help", "_info": {"board_href": "x"}},
            "budgetHours": 1.25,
            "types": [],
            "_info": {"lastUpdated": "2024-02-01T00:00:00Z"},
            "customFields": [{"id": 7, "caption": "N", "type": "Number", "value": "five"}],
        },
    ]
    for method in ("_tables_arrow", "_tables_python"):
        out = getattr(PageNormalizer("t", NAMING), method)(records, None)
        main = out["t"]
        assert main.column_names == [c for c in main.column_names if not c.endswith("_href")]
        assert main.schema.field("id").type == pa.int64()
        assert not main.schema.field("id").nullable
        assert main.schema.field("budget_hours").type == pa.float64()  # 2 and 1.25: one type
        assert main.column("budget_hours").to_pylist() == [2.0, 1.25]
        assert main.schema.field("board__id").type == pa.int64()
        assert main.column("board__name").to_pylist() == [None, "Help"]
        assert main.schema.field("_info__last_updated").type == TIMESTAMP
        assert main.column("closed_flag").to_pylist() == [False, None]
        types = out["t__types"]
        assert types.to_pydict() == {"record_id": [1], "_idx": [0], "id": [5], "name": ["A"]}
        assert out["t__tags"].to_pydict() == {
            "record_id": [1, 1],
            "_idx": [0, 1],
            "value": ["a", "b"],
        }
        custom = out["t__custom_fields"]
        assert custom.column("value").to_pylist() == ["5", "five"]  # always text
        assert custom.column("record_id").to_pylist() == [1, 2]
        assert custom.column("id").to_pylist() == [7, 7]
        assert custom.column("caption").to_pylist() == ["N", "N"]
        assert custom.column("number_of_decimals").to_pylist() == [None, None]
        assert custom.schema.field("id").type == pa.int64()
        assert "connect_wise_id" not in custom.column_names  # not one of its columns

    # a custom field id that is not a number still loads (as text)
    odd = [{"id": 1, "customFields": [{"id": "x7", "caption": "N", "value": 1}]}]
    custom = PageNormalizer("t", NAMING).tables(odd)["t__custom_fields"]
    assert custom.column("id").to_pylist() == ["x7"]
    assert custom.column("value").to_pylist() == ["1"]


def test_a_page_arrow_cannot_type_takes_the_python_walk() -> None:
    records = [{"id": 1, "code": 5}, {"id": 2, "code": "five"}]
    out = PageNormalizer("t", NAMING).tables(records)
    assert out["t"].column("code").to_pylist() == ["5", "five"]


def test_a_column_keeps_its_first_type_across_pages() -> None:
    normalizer = PageNormalizer("t", NAMING)
    first = normalizer.tables([{"id": 1, "note": "2024-01-31T09:00:00Z"}])
    assert first["t"].schema.field("note").type == TIMESTAMP
    # a later page whose values are not timestamps keeps the data, as text
    later = normalizer.tables([{"id": 2, "note": "soon"}])
    assert later["t"].column("note").to_pylist() == ["soon"]
    # and a known warehouse type wins over the values
    known = PageNormalizer("t", NAMING, lambda table, column: "text" if column == "n" else None)
    assert known.tables([{"id": 1, "n": 5}])["t"].column("n").to_pylist() == ["5"]


def test_a_page_typed_like_the_one_before_loses_nothing(monkeypatch) -> None:
    """The Arrow path reuses the page before's type when it names every key: keys it has
    never seen (at any depth), a fraction where it had whole numbers, a value where it
    had only nulls and text where it had numbers all come out as the Python walk has them."""

    page = page_of_three

    pages_ = [
        page(1),
        page(4),  # same shape: typed with the type of the page before
        page(7, extra="new"),  # a key it has never seen
        page(10, board={"id": 3, "name": "Help", "location": {"id": 9}}),  # a nested one
        page(13, types=[{"id": 5, "name": "A", "code": "C"}]),  # one in list elements
        page(16, hours=1.5),  # would be 1 in an integer type
        page(19, note="written"),  # only nulls before
        page(22, hours="two"),  # text where it had numbers
        page(25, id=2**60),  # no exact double
    ]
    typed: list[bool] = []
    real_array = pa.array

    def spy(values, *args, **kwargs):  # type: ignore[no-untyped-def]
        if values and isinstance(values[0], dict) and "id" in values[0]:
            typed.append(bool(args) or "type" in kwargs)
        return real_array(values, *args, **kwargs)

    monkeypatch.setattr(pa, "array", spy)
    fast = PageNormalizer("t", NAMING)
    slow = PageNormalizer("t", NAMING)
    for records in pages_:
        _same(fast.tables(records), slow._tables_python(records, None))
    assert typed[:2] == [False, True]  # the second page skipped the type inference
    assert fast.tables(page(28, extra="again"))["t"].column("extra").to_pylist() == ["again"] * 3


def test_emptied_lists_leave_no_rows_behind(tmp_path, fresh_sandbox) -> None:
    """A contact whose communication items all go: its old rows leave the list table;
    a contact with fewer items keeps exactly the new ones."""
    from pipelines.sync import run_sync

    sb = fresh_sandbox
    pipeline = duckdb_pipeline(tmp_path)
    args = source_args(sb)
    first = run_sync(pipeline, tables=["company_contacts"], **args)
    # a first load is clean as loaded: noted, nothing checked
    from pipelines import reconcile

    assert pipeline.get_local_state_val(reconcile.LISTS_CLEAN_KEY) == {
        "connectwise.company_contacts": first.load_info.loads_ids[0]
    }
    table = "connectwise.company_contacts__communication_items"
    with_items = [
        cid
        for cid in sb.ids("company/contacts")
        if len(sb.get("company/contacts", cid).get("communicationItems") or []) >= 2
    ]
    emptied, shrunk = with_items[0], with_items[1]
    kept = sb.get("company/contacts", shrunk)["communicationItems"][:1]
    before = duckdb_rows(pipeline, f"SELECT count(*) FROM {table} WHERE record_id = {emptied}")
    assert before[0][0] >= 2
    sb.clock.advance(120)
    sb.update("company/contacts", emptied, {"communicationItems": []})
    sb.update("company/contacts", shrunk, {"communicationItems": kept})
    sb.clock.advance(120)
    run_sync(pipeline, tables=["company_contacts"], **args)
    assert duckdb_rows(pipeline, f"SELECT count(*) FROM {table} WHERE record_id = {emptied}") == [
        (0,)
    ]
    rows = duckdb_rows(pipeline, f"SELECT _idx, value FROM {table} WHERE record_id = {shrunk}")
    assert rows == [(0, kept[0]["value"])]
    # nothing else was touched: every other contact keeps all its items
    total = sum(
        len(sb.get("company/contacts", cid).get("communicationItems") or [])
        for cid in sb.ids("company/contacts")
    )
    assert duckdb_rows(pipeline, f"SELECT count(*) FROM {table}") == [(total,)]

    # the next runs check only records loaded after the last clean load ...
    clean = pipeline.get_local_state_val(reconcile.LISTS_CLEAN_KEY)
    assert set(clean) == {"connectwise.company_contacts"}
    sb.clock.advance(120)
    sb.update("company/contacts", shrunk, {"communicationItems": []})
    sb.clock.advance(120)
    run_sync(pipeline, tables=["company_contacts"], **args)
    assert duckdb_rows(pipeline, f"SELECT count(*) FROM {table} WHERE record_id = {shrunk}") == [
        (0,)
    ]
    assert pipeline.get_local_state_val(reconcile.LISTS_CLEAN_KEY) != clean
    # ... and a run that died before its clean-up is healed by the next one
    third = with_items[2]
    sb.clock.advance(120)
    sb.update("company/contacts", third, {"communicationItems": []})
    sb.clock.advance(120)
    cleanup = reconcile.drop_stale_list_rows
    try:
        import pipelines.sync

        pipelines.sync.drop_stale_list_rows = lambda *a, **k: 0  # killed right after the load
        run_sync(pipeline, tables=["company_contacts"], **args)
    finally:
        pipelines.sync.drop_stale_list_rows = cleanup
    assert duckdb_rows(pipeline, f"SELECT count(*) FROM {table} WHERE record_id = {third}")[0][0]
    sb.clock.advance(120)
    sb.update("company/contacts", with_items[3], {"title": "another change"})
    sb.clock.advance(120)
    run_sync(pipeline, tables=["company_contacts"], **args)
    assert duckdb_rows(pipeline, f"SELECT count(*) FROM {table} WHERE record_id = {third}") == [
        (0,)
    ]


def test_list_tables_of_an_older_schema_lose_their_primary_key(
    tmp_path, fresh_sandbox, monkeypatch
) -> None:
    """Schemas written by earlier versions keyed list tables on (record_id, id): dlt
    would delete on "key OR merge key", a join DuckDB cannot hash. The run drops that key
    (also in a schema restored from the warehouse) and merges on record_id alone."""
    from pipelines.sync import run_sync

    sb = fresh_sandbox
    tables = ["service_tickets"]
    monkeypatch.setenv("LOAD__DELETE_COMPLETED_JOBS", "false")  # to read the merge's SQL
    pipeline = duckdb_pipeline(tmp_path)
    run_sync(pipeline, tables=tables, **source_args(sb))
    list_table = "service_tickets__custom_fields"
    schema = pipeline.default_schema
    assert not [c for c, v in schema.tables[list_table]["columns"].items() if v.get("primary_key")]
    for column in ("record_id", "id"):  # as an earlier version wrote it
        schema.tables[list_table]["columns"][column]["primary_key"] = True
    pipeline.schemas.save_schema(schema)
    ticket = sb.ids("service/tickets")[0]
    sb.clock.advance(120)
    sb.update("service/tickets", ticket, {"summary": "changed"})
    sb.clock.advance(120)
    summary = run_sync(pipeline, tables=tables, **source_args(sb))
    columns = pipeline.default_schema.tables[list_table]["columns"]
    assert [c for c, v in columns.items() if v.get("primary_key")] == []
    assert [c for c, v in columns.items() if v.get("merge_key")] == ["record_id"]
    load_id = summary.load_info.loads_ids[0]
    jobs = pipeline.get_load_package_info(load_id).jobs["completed_jobs"]
    merge = [
        j for j in jobs if j.job_file_info.table_name == list_table and j.file_path.endswith(".sql")
    ]
    sql = open(merge[0].file_path).read()
    assert " OR " not in sql and 'WHERE d."record_id" IN (SELECT s."record_id" FROM' in sql
    fields = len(sb.get("service/tickets", ticket).get("customFields") or [])
    assert duckdb_rows(
        pipeline,
        f"SELECT count(*), count(DISTINCT id) FROM connectwise.{list_table} WHERE record_id = {ticket}",
    ) == [(fields, fields)]
    # a new machine: the schema comes from the warehouse, still without the key
    again = duckdb_pipeline(tmp_path, state_dir="elsewhere")
    run_sync(again, tables=tables, **source_args(sb))
    columns = again.default_schema.tables[list_table]["columns"]
    assert [c for c, v in columns.items() if v.get("primary_key")] == []


def test_record_digest_ignores_links_and_key_order() -> None:
    from sources.connectwise.watermark import record_digest

    a = {"id": 1, "board": {"id": 2, "_info": {"board_href": "http://a:1/x"}}, "name": "n"}
    b = {"name": "n", "board": {"_info": {"board_href": "http://b:2/x"}, "id": 2}, "id": 1}
    assert record_digest(a) == record_digest(b)
    assert record_digest(a) != record_digest({**a, "name": "m"})


def test_content_digest_cuts_the_api_base_from_links_only() -> None:
    """Links under another API base digest the same; the base written in a text field
    is content, and so is every other byte of the record."""
    import orjson

    from sources.connectwise.watermark import content_digest

    def record(base: str, notes: str = "n") -> bytes:
        return orjson.dumps({"id": 1, "notes": notes, "_info": {"board_href": f"{base}/x/1"}})

    a, b = "https://a.example/v4_6_release/apis/3.0", "http://127.0.0.1:8123/v4_6_release/apis/3.0"
    assert content_digest(record(a), a) == content_digest(record(b), b + "/")
    assert content_digest(record(a), a) != content_digest(record(a, "m"), a)
    assert content_digest(record(a, a), a) != content_digest(record(a, ""), a)  # text kept
    assert content_digest(record(a), a) == content_digest(orjson.loads(record(a)), a)
    assert content_digest(record(a)) != content_digest(record(b))  # no base: links count


def test_a_body_cut_once_digests_each_record_as_cut_alone() -> None:
    """The source cuts the API base from a page's links once and digests each record's
    span of that body: the same digests as each record's own bytes cut and digested."""
    import orjson

    from sources.connectwise.body_reader import record_spans
    from sources.connectwise.watermark import bytes_digest, content_digest, links_cut, span_digests

    base = "http://127.0.0.1:8123/v4_6_release/apis/3.0"
    records = [
        {
            "id": i,
            "notes": f"{base} in text",
            "board": {"id": 2, "_info": {"x_href": f"{base}/b/2"}},
        }
        for i in range(1, 6)
    ]
    body = orjson.dumps(records)
    cut = links_cut(body, base)
    assert len(cut) < len(body) and links_cut(body, None) is body
    spans = record_spans(cut, [r["id"] for r in records])
    assert spans is not None
    own = [content_digest(orjson.dumps(r), base) for r in records]
    assert [bytes_digest(memoryview(cut)[a:b]) for a, b in spans] == own
    # the source's way: few rows cut each alone, many by the whole body: the same digests
    ids = [r["id"] for r in records]
    assert span_digests(body, ids, [3], base) == [own[3]]  # 1 of 5: cut alone
    assert span_digests(body, ids, [0, 2, 4], base) == [own[0], own[2], own[4]]  # whole body
    assert span_digests(body, ids, [1], None) == [content_digest(orjson.dumps(records[1]))]


def _digest_of_a_copy_without_links(record: dict) -> str:
    """The digest as first written: a copy without ``…_href`` keys, serialised sorted."""
    import hashlib

    import orjson

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if not k.endswith("_href")}
        return [strip(v) for v in value] if isinstance(value, list) else value

    text = orjson.dumps(strip(record), option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(text, digest_size=10).hexdigest()


@pytest.mark.parametrize(
    "record",
    [
        {"id": 1, "_info": {"a_href": "x", "b_href": "y", "lastUpdated": "t", "z_href": "w"}},
        {"id": 2, "_info": {"a_href": "x", "b_href": None}},  # links only, one null
        {"id": 3, "notes": 'ends with a quote, "q_href":"x"', "r_href": 'say \\"hi\\"'},
        {"id": 4, "n": "a,", "m_href": "b", "list": [{"k_href": "u"}, {"k_href": "u", "v": 1}]},
        {"id": 5, "odd_href": {"nested": 1}, "other_href": 7},  # not strings: the slow way
        {"id": 6, "name": "Zoë 山田", "x_href": "http://h/ü"},
    ],
)
def test_record_digest_is_the_digest_of_a_copy_without_links(record: dict) -> None:
    """The links are cut out of the serialised bytes: the same digest as a copy without
    them, so a replaced table's digest (the run summary's "unchanged") does not move."""
    from sources.connectwise.watermark import record_digest

    assert record_digest(record) == _digest_of_a_copy_without_links(record)


def test_record_digest_matches_on_every_sandbox_record(client) -> None:
    from sources.connectwise.settings import ENDPOINTS
    from sources.connectwise.watermark import record_digest

    records = []
    for endpoint in ENDPOINTS:
        if not endpoint.is_child and endpoint.cursor:
            records += client.json(endpoint.path, params={"pageSize": 200})
    assert len(records) > 1000
    assert all(record_digest(r) == _digest_of_a_copy_without_links(r) for r in records)


def test_a_batch_of_pages_is_the_same_rows_in_fewer_items() -> None:
    """Pages go to dlt in batches of ~5000 main rows: one table per name, a column a page
    lacked is null in its rows, and pages that cannot be combined come as they were."""
    normalizer = PageNormalizer("t", NamingConvention().normalize_identifier)
    pages_ = [
        normalizer.tables([{"id": 1, "name": "x", "tags": ["a", "b"]}, {"id": 2, "name": None}]),
        normalizer.tables([{"id": 3, "extra": 1.5, "customFields": [{"id": 7, "value": 5}]}]),
    ]
    batch = TableBatch("t")
    assert not any(batch.add(p) for p in pages_) and batch
    (combined,) = batch.take()
    assert not batch and batch.take() == []
    assert list(combined)[0] == "t"
    assert combined["t"].to_pylist() == [
        {"id": 1, "name": "x", "extra": None},
        {"id": 2, "name": None, "extra": None},
        {"id": 3, "name": None, "extra": 1.5},
    ]
    assert combined["t__tags"].num_rows == 2 and combined["t__custom_fields"].num_rows == 1
    # full at ROWS main rows
    big = TableBatch("t")
    assert big.add({"t": pa.table({"id": list(range(TableBatch.ROWS))})})
    # a column kept as text on one page: that table comes page by page, nothing lost
    odd = TableBatch("t")
    odd.add({"t": pa.table({"id": [1], "n": pa.array([1])}), "t__x": pa.table({"v": [1]})})
    odd.add({"t": pa.table({"id": [2], "n": pa.array(["two"])})})
    parts = odd.take()
    assert [sorted(p) for p in parts] == [["t__x"], ["t"], ["t"]]
    assert [p["t"].column("n").to_pylist() for p in parts[1:]] == [[1], ["two"]]

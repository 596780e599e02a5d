"""Pages read straight from their bodies into Arrow: the same tables as the Python walk,
custom field values of every kind as text, refused pages decoded the usual way, a first
page typed by the reader itself, and a sync that reads its pages this way loads exactly
what the decoding sync loads."""

from __future__ import annotations

import orjson
import pyarrow as pa
import pytest

import sources.connectwise as source_module
from sources.connectwise.body_reader import (
    inferred_type,
    read_records,
    reader_schema,
    record_spans,
    values_are_text,
    wrapped,
)
from sources.connectwise.normalize import PageNormalizer, custom_field_value
from sources.connectwise.paginator import pages
from sources.connectwise.settings import ENDPOINTS

from .conftest import duckdb_pipeline, duckdb_rows, sandbox_client, source_args
from .test_source_normalize import NAMING, _same, page_of_three


def _read(normalizer: PageNormalizer, records: list[dict]) -> dict[str, pa.Table] | None:
    """The page's tables read from its compact JSON body, None when the reader refuses it."""
    kind = normalizer.read_type
    assert kind is not None
    read = read_records(
        orjson.dumps(records), reader_schema(kind), quote_values=values_are_text(kind)
    )
    return None if read is None else normalizer.tables_from_struct(read.records)


def test_every_collection_read_from_its_bodies_equals_the_python_walk(sandbox) -> None:
    api = sandbox_client(sandbox)
    read_pages = later_pages = 0
    for endpoint in ENDPOINTS:
        if endpoint.is_child:
            continue
        fast = PageNormalizer(endpoint.table, NAMING)
        slow = PageNormalizer(endpoint.table, NAMING)
        bodies = pages(
            api,
            endpoint.path,
            {},
            forward_only=endpoint.forward_only,
            page_size=100,
            transform=lambda page: page.body,  # the body, taken before the page is decoded
        )
        for body in bodies:
            records = orjson.loads(body)
            if not records:
                continue
            want = slow._tables_python(records, None)
            kind = fast.read_type
            later_pages += kind is not None
            read = None
            if kind is not None:
                read = read_records(body, reader_schema(kind), quote_values=values_are_text(kind))
            got = fast.tables_from_struct(read.records) if read is not None else None
            if got is None:
                got = fast.tables(records, fresh_type=kind is not None)
            else:
                read_pages += 1
            _same(got, want)
    # after a table's first page, nearly every page is read
    assert read_pages >= 0.9 * later_pages and read_pages >= 30, (read_pages, later_pages)


def test_every_first_page_typed_by_the_reader_equals_the_python_walk(sandbox) -> None:
    """A first run has no type of earlier pages: the reader infers the first page's type
    from its body, and the page read with it gives the Python walk's tables."""
    api = sandbox_client(sandbox)
    typed = 0
    for endpoint in ENDPOINTS:
        if endpoint.is_child:
            continue
        body = next(
            iter(
                pages(
                    api,
                    endpoint.path,
                    {},
                    forward_only=endpoint.forward_only,
                    page_size=100,
                    transform=lambda page: page.body,
                )
            )
        )
        records = orjson.loads(body)
        kind = inferred_type(body)
        if not records:
            assert kind is None, endpoint.table
            continue
        assert kind is not None, endpoint.table
        read = read_records(body, reader_schema(kind), quote_values=values_are_text(kind))
        assert read is not None, endpoint.table
        fast = PageNormalizer(endpoint.table, NAMING)
        fast.start_from(kind)
        got = fast.tables_from_struct(read.records)
        assert got is not None, endpoint.table
        _same(got, PageNormalizer(endpoint.table, NAMING)._tables_python(records, None))
        typed += 1
    assert typed >= 30


def test_the_inferred_type_reads_custom_values_and_timestamps_as_text() -> None:
    """Custom values of every kind are quoted before the inference, a timestamp the
    reader recognises is typed as text (the columns' types come from the values), and a
    page the quoting would change elsewhere, or of mixed kinds, is left to Python."""
    records = _page(1)
    kind = inferred_type(orjson.dumps(records))
    assert kind is not None
    assert kind.field("_info").type.field("lastUpdated").type == pa.string()
    custom = kind.field("customFields").type.value_type
    assert custom.field("value").type == pa.string()
    fast = PageNormalizer("t", NAMING)
    fast.start_from(kind)
    got = _read(fast, records)
    assert got is not None
    _same(got, PageNormalizer("t", NAMING)._tables_python(records, None))
    values = got["t__custom_fields"].column("value").to_pylist()
    assert values[:5] == ["Yes", "36.39", "true", "-2", None]

    # a value field of the table's own: typed when it holds text, left to Python when a
    # number or boolean in it would have been quoted too
    assert inferred_type(orjson.dumps([dict(r, value=1.5) for r in records])) is None
    assert inferred_type(orjson.dumps(_page(1, detail=[{"value": "x"}, {"value": None}])))
    assert inferred_type(orjson.dumps(_page(1, detail=[{"value": "x"}, {"value": 5}]))) is None
    assert inferred_type(orjson.dumps(_page(1, detail={"value": True}))) is None
    mixed = _page(1)
    mixed[1]["hours"] = "two"
    assert inferred_type(orjson.dumps(mixed)) is None
    assert inferred_type(b"[]") is None
    assert inferred_type(b'{"id": 1}') is None  # not a list


CUSTOM_FIELDS = [
    {"id": 1, "caption": "A", "type": "Text", "entryMethod": "Entry", "value": "Yes"},
    {"id": 2, "caption": "B", "type": "Number", "numberOfDecimals": 2, "value": 36.39},
    {"id": 3, "caption": "C", "type": "Checkbox", "value": True},
    {"id": 4, "caption": "D", "type": "Number", "value": -2},
    {"id": 5, "caption": "E", "type": "Date", "value": None},
    {"id": 6, "caption": "F", "type": "Text", "value": 'a "value":5 }] thing'},
]


def _page(first: int, **changes: object) -> list[dict]:
    return page_of_three(first, **{"customFields": CUSTOM_FIELDS, **changes})


def test_a_page_read_from_its_body_loses_nothing() -> None:
    """The reader takes a page only when the type of the pages before names all of it;
    every other page is refused and decoded, and the type widens for the next one."""
    sequence = [
        (_page(1), False),  # no type yet: decoded
        (_page(4), True),
        (_page(7, extra="new"), False),  # a key it has never seen
        (_page(10, extra="again"), True),  # ... which the type now has
        (_page(13, board={"id": 3, "name": "Help", "location": {"id": 9}}), False),
        (_page(16, types=[{"id": 5, "name": "A", "code": "C"}]), False),  # in list elements
        (_page(19, hours=1.5), False),  # a fraction where it had whole numbers
        (_page(22, hours=3), True),  # whole numbers in what is now a double
        (_page(25, id=2**60), True),  # exact in an integer column
        (_page(28, note="written"), False),  # only nulls before
        (_page(31, note='"customFields":[{"id":1}] and }] in a text'), True),
        (_page(34, hours="two"), False),  # text where it had numbers
        (_page(37, customFields=[{"id": 1, "value": "x", "extra": 1}]), False),  # unknown key
    ]
    fast = PageNormalizer("t", NAMING)
    slow = PageNormalizer("t", NAMING)
    for number, (records, readable) in enumerate(sequence):
        got = _read(fast, records) if fast.read_type is not None else None
        assert (got is not None) == readable, number
        if got is None:
            got = fast.tables(records, fresh_type=fast.read_type is not None)
        _same(got, slow._tables_python(records, None))
    values = _read(fast, _page(40))["t__custom_fields"].column("value").to_pylist()
    assert values[:6] == ["Yes", "36.39", "true", "-2", None, 'a "value":5 }] thing']
    assert values[:5] == [custom_field_value(f["value"]) for f in _page(40)[0]["customFields"][:5]]


def test_a_number_value_field_of_the_table_is_never_quoted() -> None:
    """A table with a ``value`` field of its own that holds numbers: bare values are left
    alone (the reader then refuses pages whose custom values are bare) and the field
    stays a number."""
    records = [dict(r, value=1.5) for r in _page(1)]
    fast = PageNormalizer("t", NAMING)
    fast.tables(records)
    assert not values_are_text(fast.read_type)
    body = orjson.dumps(records)
    assert wrapped(body, quote_values=False) == b'{"r":' + body + b"}"
    assert _read(fast, records) is None  # its custom values are bare numbers
    text_only = [dict(r, value=2.5, customFields=[{"id": 1, "value": "x"}]) for r in _page(4)]
    got = _read(fast, text_only)
    assert got is not None and got["t"].column("value").to_pylist() == [2.5] * 3


def test_quoting_changes_only_bare_values() -> None:
    body = orjson.dumps(
        [
            {
                "id": 1,
                "text": 'he said "value":5, "value":true',
                "customFields": [{"value": 5}, {"value": -1.5e3}, {"value": False}, {"value": "7"}],
            }
        ]
    )
    document = wrapped(body, quote_values=True)
    decoded = orjson.loads(document)["r"][0]
    assert decoded["text"] == 'he said "value":5, "value":true'
    assert [f["value"] for f in decoded["customFields"]] == ["5", "-1500.0", "false", "7"]


def test_records_are_cut_from_the_body_exactly() -> None:
    records = [
        {"id": 1, "parent": {"id": 2, "name": "b"}, "types": [{"id": 7}, {"id": 2, "name": "x"}]},
        {"id": 2, "name": "b"},
        {"id": 3, "name": 'c ,{"id":4, in text'},
        {"id": 4, "name": "d"},
    ]
    body = orjson.dumps(records)
    spans = record_spans(body, [r["id"] for r in records])
    assert [orjson.loads(body[a:b]) for a, b in spans] == records
    assert [body[a:b] for a, b in spans] == [orjson.dumps(r) for r in records]
    assert record_spans(orjson.dumps([{"name": "x", "id": 9}]), [9]) is None  # id not first
    assert record_spans(b'[{"id":1,"a":2}, {"id":2,"a":3}]', [1, 2]) is None  # spaces
    assert record_spans(b"[]", []) is None


def test_a_nested_run_of_the_next_ids_is_not_taken_for_the_records() -> None:
    """Custom fields ``{"id":2,…},{"id":3,…}`` inside record 1 look like records 2 and 3
    starting: a cut of record 2 must not stop at the nested ``,{"id":3,``."""
    fields = [{"id": 2, "caption": "a", "value": "x"}, {"id": 3, "caption": "b", "value": 1}]
    records = [
        {"id": 1, "customFields": fields},
        {"id": 2, "name": "two", "customFields": fields},
        {"id": 3, "name": "three", "customFields": fields},
    ]
    body = orjson.dumps(records)
    spans = record_spans(body, [1, 2, 3])
    assert [orjson.loads(body[a:b]) for a, b in spans] == records


def test_spans_read_off_unique_marks_are_the_walked_ones() -> None:
    """Where every record's ``,{"id":…,`` is in the body once, the spans come from one
    pass over the marks; they are the spans of the record-by-record walk, also for a
    chosen few rows, and a nested object holding the next id sends it to the walk."""
    from sources.connectwise.body_reader import _marks, _spans_by_marks, _spans_walked

    records = [
        {"id": 10 + i, "ref": {"id": 3}, "customFields": [{"id": 1}, {"id": 2, "v": "x"}]}
        for i in range(50)
    ]
    body = orjson.dumps(records)
    ids = [r["id"] for r in records]
    marks, bounds = _marks(body), (body.find(b"{"), body.rfind(b"]"))
    by_marks = _spans_by_marks(body, ids, marks, *bounds)
    assert by_marks is not None and by_marks == _spans_walked(body, ids, marks, *bounds)
    assert [orjson.loads(body[a:b]) for a, b in by_marks] == records
    assert record_spans(body, ids, [49, 0, 7]) == [by_marks[49], by_marks[0], by_marks[7]]
    # record 11 holds a custom field with id 12: the mark of record 12 is there twice
    records[1]["customFields"].append({"id": 12, "v": "y"})
    body = orjson.dumps(records)
    assert _spans_by_marks(body, ids, _marks(body), body.find(b"{"), body.rfind(b"]")) is None
    spans = record_spans(body, ids)
    assert [orjson.loads(body[a:b]) for a, b in spans] == records
    # out of page order (the ids given do not follow the body): no spans from marks
    swapped = ids[:]
    swapped[3], swapped[4] = swapped[4], swapped[3]
    body = orjson.dumps(records)
    assert _spans_by_marks(body, swapped, _marks(body), body.find(b"{"), body.rfind(b"]")) is None
    assert record_spans(orjson.dumps(records), swapped) is None


def _count_reads(monkeypatch) -> list[bool]:
    """Whether each body the source gives the reader is read (True) or refused (False)."""
    outcomes: list[bool] = []
    real = source_module.read_records

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        read = real(*args, **kwargs)
        outcomes.append(read is not None)
        return read

    monkeypatch.setattr(source_module, "read_records", counted)
    return outcomes


@pytest.mark.parametrize("tables", [["service_tickets", "company_contacts", "company_companies"]])
def test_a_sync_reading_bodies_loads_what_a_decoding_sync_loads(
    tmp_path, sandbox, monkeypatch, tables
) -> None:
    """The same tenant synced twice into two DuckDB files, reading bodies and decoding
    every page: the same rows in every table, and a second run that finds nothing new."""
    from pipelines.sync import run_sync

    outcomes = _count_reads(monkeypatch)
    args = source_args(sandbox, page_size=50)
    reading = duckdb_pipeline(tmp_path, "reading")
    first = run_sync(reading, tables=tables, **args)
    again = run_sync(reading, tables=tables, **args)
    assert outcomes.count(True) >= 15 and outcomes.count(True) > 3 * outcomes.count(False)

    monkeypatch.setattr(source_module, "read_records", lambda *a, **k: None)
    decoding = duckdb_pipeline(tmp_path, "decoding")
    first_decoded = run_sync(decoding, tables=tables, **args)
    again_decoded = run_sync(decoding, tables=tables, **args)

    assert first.changed == first_decoded.changed
    assert again.changed == again_decoded.changed == {}
    names = [
        n
        for (n,) in duckdb_rows(
            reading,
            "select table_name from information_schema.tables where table_schema = 'connectwise'"
            " and not starts_with(table_name, '_')",  # dlt's and the run history's
        )
    ]
    assert {"service_tickets__custom_fields", "company_contacts__communication_items"} <= set(names)
    for name in names:
        columns = [
            c
            for (c,) in duckdb_rows(
                reading,
                "select column_name from information_schema.columns where table_schema = "
                f"'connectwise' and table_name = '{name}' and column_name <> '_dlt_load_id'"
                " order by column_name",
            )
        ]
        select = ", ".join(f'"{c}"' for c in columns)
        sql = f'select {select} from connectwise."{name}" order by all'
        assert duckdb_rows(reading, sql) == duckdb_rows(decoding, sql), name


def test_a_first_sync_reads_every_first_page_into_arrow(tmp_path, sandbox, monkeypatch) -> None:
    """With no page types yet, each table's first page is typed by the reader and read
    like the pages after it: no page of the first sync is decoded in Python."""
    from pipelines.sync import run_sync

    outcomes = _count_reads(monkeypatch)
    inferred: list[bool] = []
    real = source_module.inferred_type

    def counted(body: bytes):  # type: ignore[no-untyped-def]
        kind = real(body)
        inferred.append(kind is not None)
        return kind

    monkeypatch.setattr(source_module, "inferred_type", counted)
    decoded: list[str] = []
    real_tables = PageNormalizer.tables

    def tables(self, records, *args, **kwargs):  # type: ignore[no-untyped-def]
        decoded.append(self.table)
        return real_tables(self, records, *args, **kwargs)

    monkeypatch.setattr(PageNormalizer, "tables", tables)
    tables_synced = ["service_tickets", "company_companies", "time_entries"]
    run_sync(duckdb_pipeline(tmp_path), tables=tables_synced, **source_args(sandbox))
    assert inferred == [True] * len(tables_synced)  # one first page a table, each typed
    assert outcomes and all(outcomes)
    assert decoded == []


def test_a_run_starts_from_the_page_types_the_last_run_kept(tmp_path, monkeypatch) -> None:
    """An incremental run reads its first page of a table into Arrow too, with the type the
    run before kept; a kept type that no longer fits, or a file that does not read, only
    sends the first page the slow way, with the same rows loaded."""
    from pathlib import Path

    from cwsync.sandbox import Sandbox
    from pipelines.sync import run_sync
    from sources.connectwise.page_types import PageTypes

    outcomes = _count_reads(monkeypatch)
    tables = ["service_tickets", "company_contacts"]
    with Sandbox(scale=400, seed=3) as sb:
        args = source_args(sb)
        pipeline = duckdb_pipeline(tmp_path)
        run_sync(pipeline, tables=tables, **args)
        kept = PageTypes(Path(pipeline.working_dir) / "page_types" / "connectwise")
        assert all(pa.types.is_struct(kept.load(t)) for t in tables)
        tickets = sb.ids("service/tickets")
        contact = sb.ids("company/contacts")[0]

        def edit_and_sync(n: int, label: str) -> dict[str, int]:
            for rid in tickets[:n]:
                sb.update("service/tickets", rid, {"summary": f"{label} {rid}"})
            # a contact too: a table with nothing new is not extracted (first_look.py)
            sb.update("company/contacts", contact, {"title": f"{label}"})
            outcomes.clear()
            changed = run_sync(pipeline, tables=tables, **args).changed
            got = duckdb_rows(
                pipeline,
                f"SELECT count(*) FROM connectwise.service_tickets WHERE summary LIKE '{label} %'",
            )
            assert got == [(n,)]
            return changed

        assert edit_and_sync(5, "kept")["service_tickets"] == 5
        assert len(outcomes) == 2 and all(outcomes)  # one page per table, both read

        kept.save("service_tickets", pa.struct([("id", pa.int64())]))  # names no other field
        assert edit_and_sync(3, "narrow")["service_tickets"] == 3
        assert outcomes.count(False) == 1  # refused, decoded, and the type widened again
        assert kept.load("service_tickets").num_fields > 20

        (kept.directory / "service_tickets.arrow-schema").write_bytes(b"not a schema")
        assert kept.load("service_tickets") is None
        assert edit_and_sync(4, "unreadable")["service_tickets"] == 4
        assert pa.types.is_struct(kept.load("service_tickets"))

"""Reading a list page's body straight into Arrow, without decoding it into Python.

Decoding a page into Python objects and converting those to Arrow is most of a sync's
CPU, and all of it holds the GIL. Arrow's JSON reader parses the body in C++ with the GIL
released, so the threads that fetch pages parse them at the same time. It is used the
strict way: given the type of the pages before (``PageNormalizer.read_type``), a field
it does not name or a value of another kind makes it refuse the page, which is then
decoded the usual way (and the type widens for the next page).

Custom field values mix kinds on one page (``"Yes"``, ``36.39``, ``true``), which the
reader refuses, and they are loaded as text anyway (``<table>__custom_fields.value``).
So before the read, every bare number or boolean after a ``"value":`` key is put in
quotes: the text of the value as the API wrote it. Inside a JSON string every quote is
escaped, so ``"value":`` only ever matches a key. This is done only while no other
``value`` field of the table holds anything but text (:func:`values_are_text`); a page
it misjudges is refused by the reader, never loaded wrong.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.json as pa_json

from .normalize import CUSTOM_FIELDS, with_leaf_types

# the element of a customFields list as the reader types it (all but value: see
# normalize.CUSTOM_FIELD_TYPES); a key not named here makes the reader refuse the page
CUSTOM_FIELD_STRUCT = pa.struct(
    [
        ("id", pa.int64()),
        ("caption", pa.string()),
        ("type", pa.string()),
        ("entryMethod", pa.string()),
        ("numberOfDecimals", pa.int64()),
        ("value", pa.string()),
        ("connectWiseId", pa.string()),
    ]
)
_VALUE = b'"value":'
# a bare JSON number or boolean, up to the character that ends a value
_BARE = re.compile(rb"(?:-?[0-9][-+.eE0-9]*|true|false)(?=[,}\]])")
_MARK = re.compile(rb',\{"id":(-?[0-9]+),')  # an object after a comma, its first key id
_WRAP_OPEN, _WRAP_CLOSE = b'{"r":', b"}"  # the reader reads objects: the list is wrapped


@dataclass
class BodyRecords:
    """A page read from its body: one struct per record (``customFields`` as a list of
    :data:`CUSTOM_FIELD_STRUCT`)."""

    records: pa.StructArray

    def __len__(self) -> int:
        return len(self.records)

    def column(self, *path: str) -> pa.Array | None:
        """The values at ``path`` (``"_info", "lastUpdated"``), None when the type has
        no such field."""
        array: Any = self.records
        for name in path:
            if not pa.types.is_struct(array.type) or array.type.get_field_index(name) < 0:
                return None
            array = array.field(name)
        return array

    def filter(self, keep: Sequence[bool]) -> BodyRecords:
        return BodyRecords(self.records.filter(pa.array(keep, pa.bool_())))


def reader_schema(record_type: pa.DataType) -> pa.Schema:
    """What the reader is given for pages of ``record_type`` (the records' struct type,
    ``customFields`` aside): the wrapped list of records."""
    fields = [record_type.field(i) for i in range(record_type.num_fields)]
    fields = [f for f in fields if f.name != CUSTOM_FIELDS]
    fields.append(pa.field(CUSTOM_FIELDS, pa.list_(CUSTOM_FIELD_STRUCT)))
    return pa.schema([("r", pa.list_(pa.struct(fields)))])


def values_are_text(record_type: pa.DataType) -> bool:
    """Whether every ``value`` field of ``record_type`` (at any depth, custom fields
    aside) holds text or nothing yet, so quoting bare values changes custom fields only."""

    def text_only(kind: pa.DataType) -> bool:
        if pa.types.is_struct(kind):
            for i in range(kind.num_fields):
                field = kind.field(i)
                if field.name == "value" and not (
                    pa.types.is_string(field.type) or pa.types.is_null(field.type)
                ):
                    return False
                if not text_only(field.type):
                    return False
            return True
        if pa.types.is_list(kind) or pa.types.is_large_list(kind):
            return text_only(kind.value_type)
        return True

    return text_only(record_type)


def wrapped(body: bytes, quote_values: bool) -> bytes:
    """``body`` as one object for the reader, bare ``"value":`` numbers and booleans
    quoted when ``quote_values``; one copy of the body."""
    if not quote_values or _VALUE not in body:
        return b"".join((_WRAP_OPEN, body, _WRAP_CLOSE))
    view = memoryview(body)
    parts: list[Any] = [_WRAP_OPEN]
    done = 0
    at = body.find(_VALUE)
    while at >= 0:
        start = at + len(_VALUE)
        bare = _BARE.match(body, start)
        if bare is not None:
            end = bare.end()
            parts += (view[done:start], b'"', bare.group(), b'"')
            done = start = end
        at = body.find(_VALUE, start)
    parts += (view[done:], _WRAP_CLOSE)
    return b"".join(parts)


def read_records(body: bytes, schema: pa.Schema, *, quote_values: bool) -> BodyRecords | None:
    """The records of a list body typed by ``schema`` (:func:`reader_schema`); None when
    the body does not fit it (a new field, a value of another kind) or is not a list of
    objects. Thread-safe; the parse runs without the GIL."""
    document = wrapped(body, quote_values)
    options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error")
    read = pa_json.ReadOptions(use_threads=False, block_size=len(document) + 64)
    try:
        table = pa_json.read_json(
            pa.BufferReader(document), read_options=read, parse_options=options
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    if table.num_rows != 1:
        return None
    column = table.column("r")
    if column.null_count or column.num_chunks != 1:  # the body was not a list
        return None
    records = column.chunk(0).flatten()
    if records.null_count:  # a null among the records
        return None
    return BodyRecords(records)


def inferred_type(body: bytes) -> pa.DataType | None:
    """The records' struct type as the reader infers it from the body itself: a table's
    first page of a first run (no type of earlier pages yet) is then read like every
    later page, outside the GIL, rather than decoded in Python. On the medium benchmark
    tenant's 111 first pages: 1.37 s of CPU, all of it holding the GIL, against 1.0 s
    (infer, read, flatten), 0.8 s of it without the GIL; its first sync with no latency
    took 13.58 s against 14.71 s (medians of 6 alternated rounds, faster in 5).

    Custom values are quoted first (a custom field holds ``"Yes"`` on one record and
    ``5`` on the next). Timestamps the reader recognises are typed back to text: the
    type only says how to read the body, and the columns' types are decided from the
    values. None when the reader cannot type the page (a field holding text on one
    record and a number on another) or a ``value`` field other than a custom field's
    holds a bare number or boolean (quoted, it would have been typed as text): such a
    page is decoded in Python."""
    document = wrapped(body, quote_values=True)
    read = pa_json.ReadOptions(use_threads=False, block_size=len(document) + 64)
    try:
        table = pa_json.read_json(pa.BufferReader(document), read_options=read)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    if table.schema.names != ["r"] or not pa.types.is_list(table.schema.field("r").type):
        return None
    record_type = table.schema.field("r").type.value_type
    if not pa.types.is_struct(record_type):
        return None
    fields = [record_type.field(i) for i in range(record_type.num_fields)]
    values = _value_paths(pa.struct([f for f in fields if f.name != CUSTOM_FIELDS]))
    if values is not None:  # each must be text in the body as the API wrote it
        unquoted = wrapped(body, quote_values=False)
        only = pa_json.ParseOptions(
            explicit_schema=pa.schema([("r", pa.list_(values))]),
            unexpected_field_behavior="ignore",
        )
        try:
            pa_json.read_json(pa.BufferReader(unquoted), read_options=read, parse_options=only)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            return None
    return _timestamps_as_text(record_type)


def _value_paths(kind: pa.DataType) -> pa.DataType | None:
    """``kind`` cut down to its ``value`` fields (and what holds them), typed as text;
    None when it has none."""
    if pa.types.is_struct(kind):
        kept = []
        for i in range(kind.num_fields):
            field = kind.field(i)
            inner = pa.string() if field.name == "value" else _value_paths(field.type)
            if inner is not None:
                kept.append(field.with_type(inner))
        return pa.struct(kept) if kept else None
    if pa.types.is_list(kind):
        inner = _value_paths(kind.value_type)
        return pa.list_(kind.value_field.with_type(inner)) if inner is not None else None
    return None


def _timestamps_as_text(kind: pa.DataType) -> pa.DataType:
    """``kind`` with every timestamp in it typed as text."""
    return with_leaf_types(kind, lambda t: pa.string() if pa.types.is_timestamp(t) else t)


def record_spans(
    body: bytes, ids: Sequence[Any], rows: Sequence[int] | None = None
) -> list[tuple[int, int]] | None:
    """Where each record of a list body starts and ends (``ids``: the page's ids in
    order; ``rows``: only these records, in that order), exactly; None when the body is
    not laid out for it (another key first, spaces between records): decode the page
    instead.

    Record ``r`` (after the first) starts past the comma of ``,{"id":<its id>,`` and
    ends where ``,{"id":<next id>,`` starts. Inside a JSON string every quote is escaped,
    so only objects match; but an object in a nested list (a custom field
    ``{"id":3,…}`` inside record 2) can look like a record starting. One pass over the
    body finds every such mark: when each record's mark is there exactly once and in
    page order, the spans are read off the marks (:func:`_spans_by_marks`); otherwise
    the records are walked one by one, checking ambiguous cuts by decoding them
    (:func:`_spans_walked`)."""
    start = body.find(b"{")
    last_end = body.rfind(b"]")  # the last record ends at the closing bracket
    if start < 0 or last_end < start:
        return None
    marks = _marks(body)
    spans = _spans_by_marks(body, ids, marks, start, last_end)
    if spans is None:
        spans = _spans_walked(body, ids, marks, start, last_end)
    if spans is None or rows is None:
        return spans
    return [spans[r] for r in rows]


def _marks(body: bytes) -> dict[bytes, int]:
    """Where ``,{"id":<id>,`` is in ``body``, by id text; -1 for an id found twice."""
    found: dict[bytes, int] = {}
    for match in _MARK.finditer(body):
        key = match.group(1)
        found[key] = -1 if key in found else match.start()
    return found


def _spans_by_marks(
    body: bytes, ids: Sequence[Any], marks: dict[bytes, int], start: int, last_end: int
) -> list[tuple[int, int]] | None:
    """The spans when every record after the first has exactly one mark and the marks
    follow page order (then each is the record's own start: the comma before a record
    always makes one); None otherwise. ``start``: where the first record starts,
    ``last_end``: where the last one ends."""
    if not ids:
        return None
    first = ids[0]
    if type(first) is not int or not body.startswith(b'{"id":%d,' % first, start):
        return None
    starts = [start]
    for rid in ids[1:]:
        if type(rid) is not int:
            return None
        at = marks.get(b"%d" % rid, -1)
        if at <= starts[-1]:  # missing, found twice, or out of page order
            return None
        starts.append(at + 1)
    ends = [begins - 1 for begins in starts[1:]]  # at the comma before the next record
    ends.append(last_end)
    return list(zip(starts, ends, strict=True))


def _spans_walked(
    body: bytes, ids: Sequence[Any], marks: dict[bytes, int], start: int, last_end: int
) -> list[tuple[int, int]] | None:
    """Record by record: each starts where the one before ended (past the comma) and
    ends at the first ``,{"id":<next id>,`` after its start; where that mark is in the
    body more than once, each candidate end is checked by decoding the cut, and the
    first cut that decodes is the record (a cut ending inside the record is missing its
    closing braces)."""
    spans: list[tuple[int, int]] = []
    for row, rid in enumerate(ids):
        if type(rid) is not int or not body.startswith(b'{"id":%d,' % rid, start):
            return None
        if row + 1 == len(ids):
            end = last_end
        else:
            following = ids[row + 1]
            if type(following) is not int:
                return None
            mark = b',{"id":%d,' % following
            end = body.find(mark, start)
            if marks.get(b"%d" % following) == -1:
                while end >= 0 and not _decodes(memoryview(body)[start:end]):
                    end = body.find(mark, end + 1)
            if end < 0:
                return None
        spans.append((start, end))
        start = end + 1
    return spans


def _decodes(text: memoryview) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True

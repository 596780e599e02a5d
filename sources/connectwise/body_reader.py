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

from .normalize import CUSTOM_FIELDS

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


def records_at(body: bytes, ids: Sequence[Any], rows: Sequence[int]) -> dict[int, dict] | None:
    """The records at page positions ``rows`` (ascending), each decoded from its own bytes
    (``ids``: the page's ids in order): a record starts at ``{"id":N,`` and ends where
    the next one starts. None when a record cannot be cut out that way (another key
    first, spaces); a cut at a nested object of the same id does not decode to a record
    of that id, so it is None too, never a wrong record."""
    out: dict[int, dict] = {}
    pos = 0
    for row in rows:
        rid = ids[row]
        if type(rid) is not int:
            return None
        start = body.find(b'{"id":%d,' % rid, pos)
        if start < 0:
            return None
        if row + 1 < len(ids):
            following = ids[row + 1]
            if type(following) is not int:
                return None
            end = body.find(b',{"id":%d,' % following, start)
        else:
            end = body.rfind(b"]")
        if end < start:
            return None
        try:
            record = orjson.loads(memoryview(body)[start:end])
        except orjson.JSONDecodeError:
            return None
        if type(record) is not dict or record.get("id") != rid:
            return None
        out[row] = record
        pos = end
    return out

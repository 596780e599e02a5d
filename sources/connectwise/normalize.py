"""Turning a page of API records into Arrow tables with stable types.

One page becomes one Arrow table for the endpoint's table plus one per nested list, so dlt
writes parquet straight from the page (no row-by-row normalization in dlt):

* ``_href`` links are dropped everywhere and objects flatten into ``__``-joined columns
  (``board__id``, ``board__name``, ``_info__last_updated``), names in dlt's snake_case.
* Lists become their own tables ``<table>__<field>``, one row per element, keyed by the
  record's ``id`` in ``record_id`` and the element's position in ``_idx`` (scalars land in
  ``value``). ``customFields`` rows keep the field's ``id``, ``caption``, ``type``,
  ``entry_method``, ``number_of_decimals`` and a text ``value`` (a caption can hold ``5``
  on one record and ``"five"`` on another, and a ``"Yes"`` must stay ``"Yes"``).
* Types are decided from the values, never from the first value alone: identifiers
  (``id``, ``…Id``) and the known integer fields of :data:`.settings.INTEGER_FIELDS` are
  integers, every other number is a double (ConnectWise writes a whole decimal as ``2``),
  ``2024-01-31T09:00:00Z`` strings are UTC timestamps, a column of mixed kinds is text.
  A column keeps the type it was first given (in this run or in the warehouse schema).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from .settings import INTEGER_FIELDS

CUSTOM_FIELDS = "customFields"
RECORD_ID = "record_id"
LIST_INDEX = "_idx"
PARENT_ID = "parent_id"
KEY_COLUMNS = frozenset({"id", RECORD_ID, LIST_INDEX})

TIMESTAMP = pa.timestamp("us", tz="UTC")
_TYPES = {
    "bigint": pa.int64(),
    "double": pa.float64(),
    "bool": pa.bool_(),
    "timestamp": TIMESTAMP,
    "text": pa.string(),
}

# customFields element -> column (the shape of <table>__custom_fields)
_CUSTOM_COLUMNS = {
    "id": "id",
    "caption": "caption",
    "type": "type",
    "entryMethod": "entry_method",
    "numberOfDecimals": "number_of_decimals",
}
CUSTOM_FIELD_TYPES = {
    RECORD_ID: "bigint",
    "id": "bigint",
    "caption": "text",
    "type": "text",
    "entry_method": "text",
    "number_of_decimals": "bigint",
    "value": "text",
}
# the fixed columns as one Arrow struct of the API's names (all but the mixed-type value)
_CUSTOM_STRUCT = pa.struct(
    [(key, _TYPES[CUSTOM_FIELD_TYPES[column]]) for key, column in _CUSTOM_COLUMNS.items()]
)


def custom_field_value(value: Any) -> str | None:
    """A custom field value as text: strings as they are, everything else as JSON
    (``5``, ``1.5``, ``true``), so the text round-trips to the original value."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def is_integer_field(name: str) -> bool:
    """Whether an API field holds whole numbers (identifiers and known counters)."""
    return name == "id" or name.endswith("Id") or name.endswith("ID") or name in INTEGER_FIELDS


_TIMESTAMP_PATTERN = r"^.{4}-.{5}T.{8,}Z$"


def _looks_like_timestamp(value: str) -> bool:
    return len(value) >= 20 and value[-1] == "Z" and value[10] == "T" and value[4] == "-"


class PageNormalizer:
    """Flattens pages of one endpoint into Arrow tables, remembering column types.

    ``identifier`` turns an API name into a column name (dlt's naming convention);
    ``known_types`` gives the warehouse schema's type of a column (``"timestamp"``…) so
    a column never changes type between pages or runs."""

    def __init__(
        self,
        table: str,
        identifier: Callable[[str], str],
        known_types: Callable[[str, str], str | None] | None = None,
    ) -> None:
        self.table = table
        self._identifier = identifier
        self._known = known_types or (lambda table, column: None)
        self._names: dict[tuple[str, str], tuple[str, bool]] = {}
        self._types: dict[tuple[str, str], str] = {}
        self._shape: tuple[pa.DataType, _Keys] | None = None  # see _struct_array
        self._read_type: pa.DataType | None = None  # see read_type

    # -- names -------------------------------------------------------------------------

    def _name(self, prefix: str, key: str) -> tuple[str, bool]:
        """(column name, holds integers) of ``key`` under the column prefix ``prefix``."""
        hit = self._names.get((prefix, key))
        if hit is None:
            column = self._identifier(key)
            hit = (f"{prefix}__{column}" if prefix else column, is_integer_field(key))
            self._names[(prefix, key)] = hit
        return hit

    # -- flattening ----------------------------------------------------------------------

    def _flatten(
        self,
        obj: Mapping[str, Any],
        prefix: str,
        columns: dict[str, list],
        integers: set[str],
        lists: dict[str, list[tuple[int, Any, list]]],
        row: int,
        size: int,
        record_id: Any,
    ) -> None:
        for key, value in obj.items():
            if key.endswith("_href"):
                continue
            if key == CUSTOM_FIELDS and not prefix and isinstance(value, list):
                lists.setdefault(CUSTOM_FIELDS, []).append((row, record_id, value))
                continue
            name, integer = self._name(prefix, key)
            if isinstance(value, dict):
                self._flatten(value, name, columns, integers, lists, row, size, record_id)
                continue
            if isinstance(value, list):
                lists.setdefault(name, []).append((row, record_id, value))
                continue
            if value is None:
                continue
            column = columns.get(name)
            if column is None:
                column = columns[name] = [None] * size
                if integer:
                    integers.add(name)
            column[row] = value

    @property
    def read_type(self) -> pa.DataType | None:
        """The struct type of the records of the pages so far (integers as integers, every
        field any page had), for reading the next page's body straight into Arrow
        (:mod:`.body_reader`); None until a page was converted, or with no fields."""
        return self._read_type

    def start_from(self, read_type: pa.DataType | None) -> None:
        """Start from the type a previous run's pages had (:mod:`.page_types`), so the
        first page of this run is read into Arrow too."""
        if self._read_type is None and read_type is not None and pa.types.is_struct(read_type):
            self._read_type = read_type

    def tables(
        self,
        records: Iterable[Mapping[str, Any]],
        parent_ids: Sequence[int] | None = None,
        *,
        fresh_type: bool = False,
    ) -> dict[str, pa.Table]:
        """The page's records as ``{table name: Arrow table}`` (main table first); rows of
        a per-parent collection carry their parent's id (``parent_ids``, one per record).

        Arrow converts and flattens the page in C++ (about 10x faster than walking the
        records in Python); a page Arrow cannot type (a field holding a number on one
        record and text on another, lists of lists) takes the Python walk, which gives
        the same tables. ``fresh_type``: infer the page's type rather than try the type
        of the page before (the body reader refused the page: its type must widen)."""
        records = [r for r in records if isinstance(r, Mapping)]
        if not records:
            return {}
        try:
            return self._tables_arrow(records, parent_ids, fresh_type)
        except _NotArrowable:
            return self._tables_python(records, parent_ids)

    def tables_from_struct(self, records: pa.StructArray) -> dict[str, pa.Table] | None:
        """:meth:`tables` for records read into Arrow already (:mod:`.body_reader`: a
        ``customFields`` list of structs with text values); None when the page needs the
        Python walk (decode it and call :meth:`tables`)."""
        if len(records) == 0:
            return {}
        kind = records.type
        keep = [i for i in range(kind.num_fields) if kind.field(i).name != CUSTOM_FIELDS]
        plain = pa.StructArray.from_arrays(
            [records.field(i) for i in keep], fields=[kind.field(i) for i in keep]
        )
        try:
            out = self._tables_struct(plain, [], None)
        except _NotArrowable:
            return None
        if kind.get_field_index(CUSTOM_FIELDS) >= 0:
            ids = plain.field("id") if kind.get_field_index("id") >= 0 else None
            name = f"{self.table}__custom_fields"
            table = _custom_fields_arrow(records.field(CUSTOM_FIELDS), ids)
            if table is not None:
                out[name] = table
        return out

    def _tables_python(
        self, records: Sequence[Mapping[str, Any]], parent_ids: Sequence[int] | None = None
    ) -> dict[str, pa.Table]:
        """The record walk in Python: the reference for :meth:`_tables_arrow`."""
        out: dict[str, pa.Table] = {}
        if not records:
            return out
        size = len(records)
        columns: dict[str, list] = {}
        integers: set[str] = set()
        lists: dict[str, list[tuple[int, Any, list]]] = {}
        for row, record in enumerate(records):
            self._flatten(record, "", columns, integers, lists, row, size, record.get("id"))
        if parent_ids is not None:
            columns[PARENT_ID] = list(parent_ids)
            integers.add(PARENT_ID)
        out[self.table] = self._arrow(self.table, columns, integers)
        for path, entries in lists.items():
            if path == CUSTOM_FIELDS:
                name = f"{self.table}__custom_fields"
                table = self._custom_fields(name, entries)
            else:
                name = f"{self.table}__{path}"
                table = self._list_table(name, entries)
            if table is not None:
                out[name] = table
        return out

    def _custom_fields(self, name: str, entries: list[tuple[int, Any, list]]) -> pa.Table | None:
        # column by column in comprehensions: ~8 custom fields a record make this loop hot
        pairs = [
            (record_id, field)
            for _, record_id, fields in entries
            for field in fields
            if isinstance(field, Mapping)
        ]
        if not pairs:
            return None
        arrays: dict[str, Any] = {
            RECORD_ID: _array([record_id for record_id, _ in pairs], "bigint")
        }
        try:  # the fixed columns in one typed conversion (the struct ignores other keys)
            parts = pa.array([field for _, field in pairs], _CUSTOM_STRUCT).flatten()
            arrays.update(zip(_CUSTOM_COLUMNS.values(), parts, strict=True))
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # a field of another type than usual
            for key, column in _CUSTOM_COLUMNS.items():
                values = [field.get(key) for _, field in pairs]
                arrays[column] = _array(values, CUSTOM_FIELD_TYPES[column])
        values = [
            v if (v := field.get("value")) is None or type(v) is str else custom_field_value(v)
            for _, field in pairs
        ]
        arrays["value"] = _array(values, "text")
        fields = [
            pa.field(c, a.type, nullable=c != RECORD_ID or a.null_count > 0)
            for c, a in arrays.items()
        ]
        return pa.Table.from_arrays(list(arrays.values()), schema=pa.schema(fields))

    def _list_table(self, name: str, entries: list[tuple[int, Any, list]]) -> pa.Table | None:
        elements: list[tuple[Any, int, Any]] = [
            (record_id, index, item)
            for _, record_id, items in entries
            for index, item in enumerate(items)
            if item is not None
        ]
        if not elements:
            return None
        size = len(elements)
        columns: dict[str, list] = {
            RECORD_ID: [e[0] for e in elements],
            LIST_INDEX: [e[1] for e in elements],
        }
        integers = {RECORD_ID, LIST_INDEX}
        nested: dict[str, list[tuple[int, Any, list]]] = {}
        for row, (_, _, item) in enumerate(elements):
            if isinstance(item, Mapping):
                self._flatten(item, "", columns, integers, nested, row, size, None)
            else:
                column = columns.get("value")
                if column is None:
                    column = columns["value"] = [None] * size
                # a list of lists has no table shape: keep the inner list as JSON text
                column[row] = orjson.dumps(item).decode() if isinstance(item, list) else item
        for path, inner in nested.items():  # lists inside list elements: kept as JSON text
            column = columns.setdefault(path, [None] * size)
            for row, _, values in inner:
                column[row] = orjson.dumps(values).decode()
        return self._arrow(name, columns, integers)

    # -- the Arrow path ------------------------------------------------------------------

    def _column_name(self, path: str) -> tuple[str, bool]:
        """(column name, holds integers) of a dotted Arrow path like ``board.id``."""
        hit = self._names.get(("", path))
        if hit is None:
            parts = path.split(".")
            hit = (
                "__".join(self._identifier(p) for p in parts),
                is_integer_field(parts[-1]),
            )
            self._names[("", path)] = hit
        return hit

    def _tables_arrow(
        self,
        records: Sequence[Mapping[str, Any]],
        parent_ids: Sequence[int] | None,
        fresh_type: bool = False,
    ) -> dict[str, pa.Table]:
        customs: list[tuple[int, Any, list]] = []
        plain: list[Mapping[str, Any]] = []
        for row, record in enumerate(records):
            custom = record.get(CUSTOM_FIELDS)
            if custom is not None:
                if isinstance(custom, list):
                    customs.append((row, record.get("id"), custom))
                record = dict(record)
                del record[CUSTOM_FIELDS]
            plain.append(record)
        try:
            struct = self._struct_array(plain, fresh_type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            raise _NotArrowable from exc
        return self._tables_struct(struct, customs, parent_ids)

    def _tables_struct(
        self,
        struct: pa.StructArray,
        customs: list[tuple[int, Any, list]],
        parent_ids: Sequence[int] | None,
    ) -> dict[str, pa.Table]:
        try:
            raw = pa.Table.from_struct_array(struct)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            raise _NotArrowable from exc
        out: dict[str, pa.Table] = {}
        main, lists = self._flat_arrow(self.table, raw)
        if parent_ids is not None:
            main = main.append_column(
                pa.field(PARENT_ID, pa.int64(), nullable=False), pa.array(parent_ids, pa.int64())
            )
        out[self.table] = main
        if customs:
            table = self._custom_fields(f"{self.table}__custom_fields", customs)
            if table is not None:
                out[f"{self.table}__custom_fields"] = table
        ids = raw.column("id") if "id" in raw.column_names else pa.nulls(raw.num_rows, pa.int64())
        for name, column in lists:
            table = self._list_arrow(f"{self.table}__{name}", ids, column)
            if table is not None:
                out[f"{self.table}__{name}"] = table
        return out

    def _struct_array(self, records: list[Mapping[str, Any]], fresh_type: bool = False) -> pa.Array:
        """The page as one Arrow struct array, typed from every record (Table.from_pylist
        would take the columns of the first record only).

        Inferring the type is about half of ``pa.array``'s work, so the type of the page
        before is tried first when it keeps every key of this page, at any depth (a type
        drops keys it does not name): a value that does not fit it (text where it had a
        number, a value where it had only nulls) raises and the page is typed afresh.
        Whole numbers are typed as doubles in the reused type, which Arrow converts
        exactly or refuses (1.5 would silently become 1 in an integer type)."""
        shape = self._shape
        if shape is not None and not fresh_type and all(type(r) is dict for r in records):
            kind, keys = shape
            if _covers(records, keys):
                try:
                    return pa.array(records, kind)
                except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                    pass
        array = pa.array(records)
        kind = _without_integers(array.type)
        keys = _keys_of(kind)
        self._shape = (kind, keys) if keys is not None else None
        self._read_type = _widened(self._read_type, array.type)
        return array

    def _flat_arrow(
        self, table: str, raw: pa.Table, *, extra: Mapping[str, pa.Array] | None = None
    ) -> tuple[pa.Table, list[tuple[str, pa.ChunkedArray]]]:
        """Flatten structs of ``raw`` into typed columns; list columns are returned apart
        as (column name, list array)."""
        while any(pa.types.is_struct(f.type) for f in raw.schema):
            raw = raw.flatten()
        fields: list[pa.Field] = []
        arrays: list[Any] = []
        for name, array in (extra or {}).items():
            fields.append(pa.field(name, array.type, nullable=False))
            arrays.append(array)
        lists: list[tuple[str, pa.ChunkedArray]] = []
        for field, column in zip(raw.schema, raw.columns, strict=True):
            if field.name.endswith("_href"):
                continue
            name, integer = self._column_name(field.name)
            kind = field.type
            if pa.types.is_list(kind) or pa.types.is_large_list(kind):
                if pa.types.is_list(kind.value_type) or pa.types.is_large_list(kind.value_type):
                    raise _NotArrowable
                lists.append((name, column))
                continue
            if pa.types.is_null(kind) or column.null_count == len(column):
                continue
            array = self._typed(table, name, column, integer)
            nullable = name not in KEY_COLUMNS or array.null_count > 0
            fields.append(pa.field(name, array.type, nullable=nullable))
            arrays.append(array)
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields)), lists

    def _typed(self, table: str, name: str, column: pa.ChunkedArray, integer: bool) -> Any:
        """The column in its dlt type: the remembered or warehouse type if there is one,
        else decided from the values like :func:`_kind_of`."""
        kind = self._types.get((table, name)) or self._known(table, name)
        if kind not in _TYPES:
            kind = _arrow_kind(column, integer)
            self._types[(table, name)] = kind
        target = _TYPES[kind]
        if column.type == target:
            return column
        if kind == "text" and not pa.types.is_string(column.type):
            # like the Python walk: numbers and booleans as their JSON text
            return pa.array(
                [None if v is None else orjson.dumps(v).decode() for v in column.to_pylist()],
                pa.string(),
            )
        try:
            return column.cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            raise _NotArrowable from None

    def _list_arrow(self, name: str, ids: pa.ChunkedArray, column: pa.ChunkedArray) -> Any:
        """One row per list element, keyed by ``record_id`` and ``_idx``."""
        column = column.combine_chunks()
        values = pc.list_flatten(column)
        if len(values) == 0:
            return None
        owners = pc.list_parent_indices(column)
        starts = pc.take(column.offsets, owners)
        index = pc.subtract(pa.array(range(len(values)), pa.int64()), starts.cast(pa.int64()))
        record_ids = pc.take(ids.combine_chunks(), owners)
        valid = pc.is_valid(values)
        if pa.types.is_struct(values.type):
            element = pa.Table.from_struct_array(values)
        else:
            element = pa.table({"value": values})
        element = element.filter(valid)
        extra = {
            RECORD_ID: record_ids.filter(valid).cast(pa.int64()),
            LIST_INDEX: index.filter(valid),
        }
        if element.num_rows == 0:
            return None
        table, nested = self._flat_arrow(name, element, extra=extra)
        if nested:  # lists inside list elements: the Python walk keeps them as JSON text
            raise _NotArrowable
        return table

    # -- typing --------------------------------------------------------------------------

    def _arrow(self, table: str, columns: dict[str, list], integers: set[str]) -> pa.Table:
        fields: list[pa.Field] = []
        arrays: list[pa.Array] = []
        for name, values in columns.items():
            kind = self._types.get((table, name)) or self._known(table, name)
            if kind is None or kind not in _TYPES:
                kind = _kind_of(values, name in integers)
                if kind is None:
                    continue
                self._types[(table, name)] = kind
            array = _array(values, kind)
            # key columns are NOT NULL in the schema; say so, so dlt sees no conflict
            nullable = name not in KEY_COLUMNS or array.null_count > 0
            fields.append(pa.field(name, array.type, nullable=nullable))
            arrays.append(array)
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


@dataclass(frozen=True)
class _Keys:
    """The dict keys an Arrow type keeps: a struct's field names (with the same for its
    fields that hold structs or lists), or a list's element's."""

    names: frozenset[str] = frozenset()
    fields: tuple[tuple[str, _Keys], ...] = ()
    items: _Keys | None = None


def _keys_of(kind: pa.DataType) -> _Keys | None:
    """What :func:`_covers` checks for ``kind``; None where it holds no dicts."""
    if pa.types.is_struct(kind):
        fields = [kind.field(i) for i in range(kind.num_fields)]
        nested = [(f.name, _keys_of(f.type)) for f in fields]
        return _Keys(
            names=frozenset(f.name for f in fields),
            fields=tuple((name, keys) for name, keys in nested if keys is not None),
        )
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        items = _keys_of(kind.value_type)
        return None if items is None else _Keys(items=items)
    return None


def _covers(values: list, keys: _Keys) -> bool:
    """Whether every dict among ``values`` (and in their dicts and lists) has only keys
    that ``keys`` names. A value of another kind than the type's (text where it has a
    struct) answers False or is left to the conversion, which refuses it."""
    try:
        return _covered(values, keys)
    except TypeError:  # dict.get on a non-dict, a number among the keys
        return False


def _covered(values: list, keys: _Keys) -> bool:
    if keys.items is not None:
        return _covered([x for v in values if v for x in v], keys.items)
    dicts = list(filter(None, values))  # nulls and empty dicts name no key
    if not dicts:
        return True
    if not keys.names.issuperset(set().union(*dicts)):
        return False
    return all(_covered(list(map(dict.get, dicts, repeat(name))), sub) for name, sub in keys.fields)


def _widened(before: pa.DataType | None, kind: pa.DataType) -> pa.DataType | None:
    """A struct type holding the fields of both (integers widen to doubles, nulls to the
    other's type); ``kind`` alone where the two do not merge (text against numbers)."""
    if not pa.types.is_struct(kind) or kind.num_fields == 0:
        return before
    if before is None:
        return kind
    try:
        merged = pa.unify_schemas(
            [pa.schema([("r", before)]), pa.schema([("r", kind)])], promote_options="permissive"
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return kind
    return merged.field("r").type


def with_leaf_types(kind: pa.DataType, change: Callable[[pa.DataType], pa.DataType]) -> pa.DataType:
    """``kind`` with ``change`` applied to every type in it that is not a struct or a list."""
    if pa.types.is_struct(kind):
        fields = [kind.field(i) for i in range(kind.num_fields)]
        return pa.struct([f.with_type(with_leaf_types(f.type, change)) for f in fields])
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        make = pa.list_ if pa.types.is_list(kind) else pa.large_list
        return make(kind.value_field.with_type(with_leaf_types(kind.value_type, change)))
    return change(kind)


def _without_integers(kind: pa.DataType) -> pa.DataType:
    """``kind`` with every integer type made a double (see ``_struct_array``)."""
    return with_leaf_types(kind, lambda t: pa.float64() if pa.types.is_integer(t) else t)


def _custom_fields_arrow(column: pa.Array, ids: pa.Array | None) -> pa.Table | None:
    """The custom fields table from a list of custom field structs per record (text
    values), like ``PageNormalizer._custom_fields`` makes it from Python records."""
    values = pc.list_flatten(column)
    if len(values) == 0:
        return None
    owners = pc.list_parent_indices(column)
    record_ids = pc.take(ids, owners) if ids is not None else pa.nulls(len(owners), pa.int64())
    valid = pc.is_valid(values)
    values = values.filter(valid)
    if len(values) == 0:
        return None
    arrays: dict[str, Any] = {RECORD_ID: record_ids.filter(valid).cast(pa.int64())}
    for key, name in _CUSTOM_COLUMNS.items():
        arrays[name] = values.field(key).cast(_TYPES[CUSTOM_FIELD_TYPES[name]])
    arrays["value"] = values.field("value").cast(pa.string())
    fields = [
        pa.field(c, a.type, nullable=c != RECORD_ID or a.null_count > 0) for c, a in arrays.items()
    ]
    return pa.Table.from_arrays(list(arrays.values()), schema=pa.schema(fields))


class _NotArrowable(Exception):
    """A page whose shape the Arrow path does not handle (the Python walk does)."""


def _arrow_kind(column: pa.ChunkedArray, integer: bool) -> str:
    """The dlt type for an Arrow-inferred column (same rules as :func:`_kind_of`)."""
    kind = column.type
    if pa.types.is_boolean(kind):
        return "bool"
    if pa.types.is_integer(kind):
        return "bigint" if integer else "double"
    if pa.types.is_floating(kind):
        return "double"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        valid = column.drop_null()
        looks = pc.match_substring_regex(valid, _TIMESTAMP_PATTERN)
        return "timestamp" if pc.all(looks).as_py() is not False else "text"
    raise _NotArrowable


def _kind_of(values: list, integer: bool) -> str | None:
    """The dlt data type for a column's values, or None when all are null."""
    kinds = {type(v) for v in values}
    kinds.discard(type(None))
    if not kinds:
        return None
    if kinds == {bool}:
        return "bool"
    if kinds <= {int, float}:
        return "bigint" if integer and kinds == {int} else "double"
    if kinds == {str}:
        if all(v is None or _looks_like_timestamp(v) for v in values):
            return "timestamp"
        return "text"
    return "text"


def _array(values: list, kind: str) -> pa.Array:
    """``values`` as an Arrow array of the dlt type ``kind``; values that do not fit the
    type are kept as text rather than dropped."""
    if kind == "text":
        return pa.array(
            [v if v is None or isinstance(v, str) else orjson.dumps(v).decode() for v in values],
            pa.string(),
        )
    if kind == "timestamp":
        try:
            return pa.array(values, pa.string()).cast(TIMESTAMP)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return _array(values, "text")
    if kind == "double":
        try:
            return pa.array([float(v) if type(v) is int else v for v in values], pa.float64())
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            return _array(values, "text")
    try:
        return pa.array(values, _TYPES[kind])
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        return _array(values, "text")


class TableBatch:
    """The Arrow tables of several pages, handed to dlt together: dlt's per-item work
    (schema diff, column mapping, load id) is paid once per batch instead of once per page
    and table (~5% of a zero-latency sync). Full at :attr:`ROWS` rows of the main table."""

    ROWS = 5000

    def __init__(self, main: str) -> None:
        self.main = main
        self._parts: dict[str, list[pa.Table]] = {}
        self._rows = 0

    def __bool__(self) -> bool:
        return bool(self._parts)

    def add(self, tables: Mapping[str, pa.Table]) -> bool:
        """Keep a page's tables; True when the batch is full."""
        for name, table in tables.items():
            self._parts.setdefault(name, []).append(table)
        main = tables.get(self.main)
        self._rows += main.num_rows if main is not None else 0
        return self._rows >= self.ROWS

    def take(self) -> list[dict[str, pa.Table]]:
        """The batch as one table per name (main table first) and empties it. Columns one
        page lacked (all null there) are null in its rows; a table whose pages do not
        combine (a column kept as text on one page) comes page by page, as it was."""
        combined: dict[str, pa.Table] = {}
        apart: list[dict[str, pa.Table]] = []
        for name in sorted(self._parts, key=lambda n: n != self.main):
            parts = self._parts[name]
            try:
                combined[name] = (
                    parts[0]
                    if len(parts) == 1
                    else pa.concat_tables(parts, promote_options="default")
                )
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                apart.extend({name: part} for part in parts)
        self._parts, self._rows = {}, 0
        return [combined, *apart] if combined else apart

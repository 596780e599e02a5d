"""Turning API records into rows with stable types.

* ``_href`` links are dropped everywhere (the ``_info`` of a reference holds nothing
  else, so references flatten to ``board__id``, ``board__name``); a record's own
  ``_info`` keeps ``lastUpdated``, ``updatedBy``, ``dateEntered``, ``enteredBy``.
* ``customFields`` stay a list, which dlt loads as the child table
  ``<table>__custom_fields``, one row per field; ``value`` is always text (a caption
  can hold ``5`` on one record and ``"five"`` on another, and a ``"Yes"`` must stay
  ``"Yes"``), and each row carries the record's ``id`` as ``record_id``.
* Decimals: ConnectWise writes a whole decimal as ``2`` and others as ``1.07``; a loader
  that types a column from its first value would split such a column in two. Every
  number is therefore a float, except identifiers (``id``, ``…Id``) and the known
  integer fields in :data:`.settings.INTEGER_FIELDS`.
"""

from __future__ import annotations

from typing import Any

import orjson

from .settings import INTEGER_FIELDS

CUSTOM_FIELDS = "customFields"


def custom_field_value(value: Any) -> str | None:
    """A custom field value as text: strings as they are, everything else as JSON
    (``5``, ``1.5``, ``true``), so the text round-trips to the original value."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _is_integer_field(name: str) -> bool:
    return name == "id" or name.endswith("Id") or name.endswith("ID") or name in INTEGER_FIELDS


def _clean(value: Any, name: str) -> Any:
    if type(value) is int:
        return value if _is_integer_field(name) else float(value)
    if isinstance(value, dict):
        return _clean_object(value)
    if isinstance(value, list):
        return [_clean(v, name) if isinstance(v, dict | list) else v for v in value]
    return value


def _clean_object(obj: dict) -> dict:
    out: dict = {}
    for key, value in obj.items():
        if key.endswith("_href"):
            continue
        if key == "_info" and isinstance(value, dict):
            info = {k: v for k, v in value.items() if not k.endswith("_href")}
            if info:
                out[key] = info
            continue
        out[key] = _clean(value, key)
    return out


def normalize_record(record: dict, *, parent_id: int | None = None) -> dict:
    """One API record -> one row (nested lists become dlt child tables)."""
    custom = record.get(CUSTOM_FIELDS)
    row = _clean_object(record)
    if isinstance(custom, list):
        rid = record.get("id")
        row[CUSTOM_FIELDS] = [
            {
                "record_id": rid,
                "id": field.get("id"),
                "caption": field.get("caption"),
                "type": field.get("type"),
                "entry_method": field.get("entryMethod"),
                "number_of_decimals": field.get("numberOfDecimals"),
                "value": custom_field_value(field.get("value")),
            }
            for field in custom
            if isinstance(field, dict)
        ]
    if parent_id is not None:
        row["parent_id"] = parent_id
    return row

"""Which endpoints a run syncs: the built-in table, endpoints declared in configuration,
and tables switched off in configuration.

* ``sources.connectwise.extra_endpoints`` — more collections without code changes, one
  TOML table each (``[[sources.connectwise.extra_endpoints]]``) or a JSON list in
  ``SOURCES__CONNECTWISE__EXTRA_ENDPOINTS``: ``path`` (required, ``{id}`` marks a
  per-parent collection), ``table`` (default: module + path in snake case),
  ``incremental`` (default true: by ``lastUpdated``; false: replaced in full each run),
  ``forward_only`` (default true) and ``api_version``.
* ``sources.connectwise.disabled_tables`` — tables a run skips unless ``--resources`` names
  them.

``cwsync endpoints`` lists the result.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dlt
import orjson

from sources.connectwise.errors import ConfigurationError
from sources.connectwise.settings import (
    BY_TABLE,
    EXTRA,
    Endpoint,
    all_endpoints,
    register_endpoints,
)

EXTRA_KEY = "sources.connectwise.extra_endpoints"
DISABLED_KEY = "sources.connectwise.disabled_tables"
_FIELDS = {"path", "table", "incremental", "forward_only", "api_version"}
_PATH = re.compile(r"^[A-Za-z][A-Za-z0-9]*(/([A-Za-z][A-Za-z0-9]*|\{id\}))*$")
_TABLE = re.compile(r"^[a-z][a-z0-9_]*$")


def parse_extra_endpoints(value: Any) -> list[Endpoint]:
    """Endpoints from the ``extra_endpoints`` value (a list of tables, or its JSON)."""
    if value in (None, "", []):
        return []
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise ConfigurationError(
                f"{EXTRA_KEY}: not a list of tables (in the environment: a JSON list, e.g. "
                '[{"path": "service/emailTemplates"}])'
            ) from None
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, Sequence):
        raise ConfigurationError(f"{EXTRA_KEY}: expected a list of tables with a path each")
    out: list[Endpoint] = []
    for i, item in enumerate(value):
        where = f"{EXTRA_KEY}[{i}]"
        if not isinstance(item, Mapping):
            raise ConfigurationError(f'{where}: expected a table like {{path = "a/b"}}')
        unknown = set(item) - _FIELDS
        if unknown:
            raise ConfigurationError(
                f"{where}: unknown key {sorted(unknown)[0]!r} (use {', '.join(sorted(_FIELDS))})"
            )
        path = str(item.get("path") or "").strip().strip("/")
        if not path or not _PATH.match(path) or path.count("{id}") > 1 or path.startswith("{"):
            raise ConfigurationError(
                f"{where}.path: {path!r} is not a collection path like service/emailTemplates "
                "or service/tickets/{id}/documents"
            )
        table = str(item.get("table") or "")
        if table and not _TABLE.match(table):
            raise ConfigurationError(f"{where}.table: {table!r}: use lower_snake_case")
        for flag in ("incremental", "forward_only"):
            if flag in item and not isinstance(item[flag], bool):
                raise ConfigurationError(f"{where}.{flag}: use true or false")
        endpoint = Endpoint(
            path=path,
            table=table,
            cursor="lastUpdated" if item.get("incremental", True) else None,
            forward_only=bool(item.get("forward_only", True)),
            api_version=str(item["api_version"]) if item.get("api_version") else None,
        )
        if endpoint.is_child and endpoint.parent_table not in BY_TABLE:
            raise ConfigurationError(
                f"{where}.path: the parent collection {endpoint.parent_path} is not an endpoint"
            )
        if endpoint.table in BY_TABLE and BY_TABLE[endpoint.table] != endpoint:
            raise ConfigurationError(
                f"{where}: table {endpoint.table} already exists ({BY_TABLE[endpoint.table].path});"
                ' give this endpoint its own table = "…"'
            )
        out.append(endpoint)
    return out


def register_from_config(value: Any = None) -> list[Endpoint]:
    """Read ``extra_endpoints`` (or ``value``) and add them to the endpoint table."""
    if value is None:
        value = dlt.config.get(EXTRA_KEY)
    extra = parse_extra_endpoints(value)
    try:
        register_endpoints(extra)
    except ValueError as exc:
        raise ConfigurationError(f"{EXTRA_KEY}: {exc}") from None
    return extra


def disabled_tables(value: Any = None) -> list[str]:
    """Tables switched off by ``disabled_tables`` (validated)."""
    if value is None:
        value = dlt.config.get(DISABLED_KEY)
    if value in (None, "", []):
        return []
    if isinstance(value, str):
        text = value.strip()
        try:
            value = orjson.loads(text) if text.startswith("[") else text.split(",")
        except orjson.JSONDecodeError:
            raise ConfigurationError(f"{DISABLED_KEY}: use a list of table names") from None
        value = [str(t).strip() for t in value if str(t).strip()]
    out = []
    for table in value:
        if str(table) not in BY_TABLE:
            raise ConfigurationError(
                f"{DISABLED_KEY}: unknown table {table!r} (see cwsync endpoints)"
            )
        out.append(str(table))
    return out


def default_tables() -> list[str]:
    """What a run without ``--resources`` syncs: every endpoint not disabled."""
    off = set(disabled_tables())
    return [e.table for e in all_endpoints() if e.table not in off]


@dataclass
class EndpointRow:
    path: str
    table: str
    kind: str  # incremental | full | per-parent
    parent: str
    enabled: bool
    declared: str  # built-in | config

    @property
    def enabled_text(self) -> str:
        return "yes" if self.enabled else "no"


def endpoint_rows() -> list[EndpointRow]:
    """Every endpoint with how it is synced and whether a plain run syncs it."""
    off = set(disabled_tables())
    extra = {e.table for e in EXTRA}
    rows = []
    for e in all_endpoints():
        kind = "per-parent" if e.is_child else ("incremental" if e.incremental else "full")
        rows.append(
            EndpointRow(
                path=e.path,
                table=e.table,
                kind=kind,
                parent=e.parent_table or "",
                enabled=e.table not in off,
                declared="config" if e.table in extra else "built-in",
            )
        )
    return rows

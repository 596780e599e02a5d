"""API model versions selected by the ``Accept`` header.

``Accept: application/vnd.connectwise.com+json; version=2024.1`` pins the models of
that release; no header (or no ``version=``) gives the latest. Stored records are in the
latest model; :func:`to_version` turns a body into an older model on the way out, and
:func:`renamed_path` maps an older field name in a condition to the stored one.

The breaking changes simulated here follow the guide's own examples of breaking
changes (a renamed field, int -> decimal, object -> array of objects), all released
in :data:`BREAKING_RELEASE`:

* ``service/tickets`` and ``project/tickets``: ``requiredDate`` was renamed
  ``estimatedStartDate``; ``budgetHours`` was an int and became a decimal.
* ``company/companies``: the single reference ``type`` became the array ``types``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

LATEST = "2025.8"
OLDEST = "2019.1"
BREAKING_RELEASE = "2025.1"
ACCEPT_MEDIA = "application/vnd.connectwise.com+json"

_VERSION_RE = re.compile(r"^\s*(\d{4})\.(\d{1,2})\s*$")


class VersionError(ValueError):
    """The Accept header names no version this API serves."""


def _key(version: str) -> tuple[int, int]:
    m = _VERSION_RE.match(version)
    if not m:
        raise VersionError(f"invalid API version {version!r}: expected YYYY.N, e.g. {LATEST}")
    return int(m.group(1)), int(m.group(2))


def parse_accept(header: str | None) -> str:
    """The version an ``Accept`` header asks for (the latest when it names none)."""
    if not header:
        return LATEST
    for part in header.split(","):
        params = [p.strip() for p in part.split(";")]
        for param in params[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "version":
                version = value.strip().strip('"')
                key = _key(version)
                if key < _key(OLDEST):
                    raise VersionError(f"API version {version} is no longer supported")
                if key > _key(LATEST):
                    raise VersionError(f"API version {version} does not exist (latest {LATEST})")
                return version
    return LATEST


@dataclass(frozen=True)
class Change:
    """One breaking change, expressed as how to turn a latest-model body into the old one."""

    resources: tuple[str, ...]
    old_name: str
    new_name: str
    downgrade: Callable[[object], object]


def _int(value: object) -> object:
    return int(round(value)) if isinstance(value, int | float) else value


def _first(value: object) -> object:
    return value[0] if isinstance(value, list) and value else None


_TICKETS = ("service/tickets", "project/tickets")
CHANGES: tuple[Change, ...] = (
    Change(_TICKETS, "requiredDate", "estimatedStartDate", lambda v: v),
    Change(_TICKETS, "budgetHours", "budgetHours", _int),
    Change(("company/companies",), "type", "types", _first),
)


def is_old(version: str) -> bool:
    return _key(version) < _key(BREAKING_RELEASE)


def changes_for(resource: str, version: str) -> tuple[Change, ...]:
    if not is_old(version):
        return ()
    return tuple(c for c in CHANGES if resource in c.resources)


def to_version(body: dict, changes: tuple[Change, ...]) -> dict:
    """Rewrite a latest-model body into the older model (key order kept)."""
    if not changes:
        return body
    by_new = {c.new_name: c for c in changes}
    out: dict = {}
    for key, value in body.items():
        change = by_new.get(key)
        if change is None:
            out[key] = value
            continue
        old = change.downgrade(value)
        if old is not None:
            out[change.old_name] = old
    return out


def from_version(body: dict, changes: tuple[Change, ...]) -> dict:
    """Map an old-model request body to the latest model (for writes)."""
    if not changes:
        return body
    by_old = {c.old_name: c for c in changes}
    out: dict = {}
    for key, value in body.items():
        change = by_old.get(key)
        if change is None:
            out[key] = value
        elif change.new_name == "types" and isinstance(value, dict):
            out["types"] = [value]
        else:
            out[change.new_name] = value
    return out


def renamed_path(text: str, changes: tuple[Change, ...]) -> str:
    """Replace old top-level field names in a conditions/orderBy/fields string by the
    stored ones; quoted strings and [datetimes] are left alone."""
    renames = {c.old_name.lower(): c.new_name for c in changes if c.old_name != c.new_name}
    if not renames:
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "\"'":
            j = i + 1
            while j < n and text[j] != ch:
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif ch == "[":
            j = text.find("]", i)
            j = n - 1 if j < 0 else j
            out.append(text[i : j + 1])
            i = j + 1
        elif ch.isalpha() or ch == "_":
            m = _IDENT.match(text, i)
            word = m.group(0)
            prev = "".join(out).rstrip()[-1:]
            out.append(renames.get(word.lower(), word) if prev != "/" else word)
            i = m.end()
        else:
            out.append(ch)
            i += 1
    return "".join(out)


_IDENT = re.compile(r"[A-Za-z_]\w*")

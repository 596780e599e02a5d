"""Building ``conditions`` strings in the ConnectWise grammar.

Values are written the way the guide shows them: strings in double quotes with ``"`` and
``\\`` escaped, datetimes in square brackets (``[2026-01-01T00:00:00Z]``), booleans as
``True``/``False``. The incremental cursor is always ``lastUpdated >= [cursor]``
(inclusive, see :mod:`.watermark`).
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import pendulum

from .errors import ConfigurationError


def to_utc_iso(value: str | datetime | date) -> str:
    """Any date/datetime (or ISO text) as ``YYYY-MM-DDTHH:MM:SSZ`` in UTC, at second
    granularity, the form ConnectWise writes and compares."""
    if isinstance(value, str):
        try:
            parsed = pendulum.parse(value.strip(), tz="UTC")
        except (ValueError, pendulum.parsing.exceptions.ParserError):
            raise ConfigurationError(
                f"invalid date {value!r}: use ISO 8601, e.g. 2024-01-01 or 2024-01-01T00:00:00Z"
            ) from None
        value = parsed  # type: ignore[assignment]
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return f"{value.isoformat()}T00:00:00Z"
    raise ConfigurationError(f"invalid date {value!r}")


def quote(value: object) -> str:
    """A literal in the conditions grammar."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime | date):
        return f"[{to_utc_iso(value)}]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def updated_since(cursor: str, field: str = "lastUpdated") -> str:
    """The incremental condition: records updated at or after ``cursor`` (inclusive)."""
    return f"{field} >= [{to_utc_iso(cursor)}]"


def all_of(*parts: str | None) -> str | None:
    """Join conditions with ``and``, each parenthesised; ``None`` when there are none."""
    present = [p.strip() for p in parts if p and p.strip()]
    if not present:
        return None
    if len(present) == 1:
        return present[0]
    return " and ".join(f"({p})" for p in present)

"""The sandbox clock: real UTC time by default, or frozen / shifted by tests.

Every write stamps ``_info.lastUpdated`` from this clock at second granularity, as
ConnectWise does, so tests can make several records share one second on purpose.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

ISO = "%Y-%m-%dT%H:%M:%SZ"


def parse_iso(text: str) -> float:
    """'2026-01-01T00:00:00Z' (or with an offset / fraction) -> POSIX seconds."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def format_iso(seconds: float) -> str:
    return time.strftime(ISO, time.gmtime(int(seconds)))


class Clock:
    """Wall clock with an offset, or frozen at a fixed instant."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0
        self._frozen: float | None = None

    def now(self) -> float:
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            return time.time() + self._offset

    def now_iso(self) -> str:
        return format_iso(self.now())

    def freeze(self, at: str | float | None = None) -> None:
        """Stop the clock at ``at`` (ISO string or POSIX seconds), default: now."""
        instant = self.now() if at is None else (parse_iso(at) if isinstance(at, str) else at)
        with self._lock:
            self._frozen = float(instant)

    def unfreeze(self) -> None:
        with self._lock:
            if self._frozen is not None:
                self._offset = self._frozen - time.time()
            self._frozen = None

    def advance(self, seconds: float) -> None:
        with self._lock:
            if self._frozen is not None:
                self._frozen += seconds
            else:
                self._offset += seconds

    def set(self, at: str | float) -> None:
        """Jump to ``at`` and keep running from there (or stay frozen there)."""
        instant = parse_iso(at) if isinstance(at, str) else float(at)
        with self._lock:
            if self._frozen is not None:
                self._frozen = instant
            else:
                self._offset = instant - time.time()

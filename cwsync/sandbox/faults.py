"""Fault injection: the transient failures a real tenant and its network produce.

Faults come from two places: a random rate (``--fault-rate``, seeded, so a run is
repeatable) spread over the enabled kinds, and a script of faults a test queues for the
next matching requests (``Faults.inject``). Only API requests (``.../apis/3.0/...``) are
ever faulted. The server acts a fault out; this module only decides which one.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

# kind -> what the server does
KINDS: dict[str, str] = {
    "500": "500 with a JSON error body",
    "502": "502 with an HTML gateway error page",
    "503": "503 with a JSON error body",
    "429": "429 Too Many Requests with Retry-After",
    "reset": "connection reset (TCP RST) before any response",
    "slow": "a correct response, sent only after a long delay",
    "truncated": "200 whose body stops short of its Content-Length, then the connection closes",
    "html": "200 with an HTML page instead of JSON",
}


@dataclass
class _Scripted:
    kind: str
    remaining: int
    path_contains: str | None
    method: str | None


class Faults:
    """Decides, per request, whether and how it fails."""

    def __init__(
        self,
        rate: float = 0.0,
        kinds: list[str] | None = None,
        *,
        seed: int = 0,
        slow_seconds: float = 2.0,
        retry_after: int = 1,
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError("fault rate must be between 0 and 1")
        self.rate = rate
        self.kinds = list(kinds or KINDS)
        unknown = [k for k in self.kinds if k not in KINDS]
        if unknown:
            raise ValueError(f"unknown fault kind(s) {unknown}; known: {', '.join(KINDS)}")
        self.slow_seconds = slow_seconds
        self.retry_after = retry_after
        self._rng = random.Random(f"faults:{seed}")
        self._lock = threading.Lock()
        self._script: list[_Scripted] = []
        self.injected: dict[str, int] = {}

    def inject(
        self,
        kind: str,
        count: int = 1,
        *,
        path_contains: str | None = None,
        method: str | None = None,
    ) -> None:
        """Fail the next ``count`` matching API requests with ``kind``."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(KINDS)}")
        with self._lock:
            self._script.append(_Scripted(kind, count, path_contains, method))

    def clear(self) -> None:
        with self._lock:
            self._script.clear()
            self.rate = 0.0

    def pick(self, method: str, path: str) -> str | None:
        with self._lock:
            for item in self._script:
                if item.remaining <= 0:
                    continue
                if item.path_contains and item.path_contains.lower() not in path.lower():
                    continue
                if item.method and item.method.upper() != method:
                    continue
                item.remaining -= 1
                self._script = [s for s in self._script if s.remaining > 0]
                return self._count(item.kind)
            if self.rate and self._rng.random() < self.rate:
                return self._count(self._rng.choice(self.kinds))
        return None

    def _count(self, kind: str) -> str:
        self.injected[kind] = self.injected.get(kind, 0) + 1
        return kind

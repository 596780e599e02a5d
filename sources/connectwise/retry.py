"""The retry policy: which failures are retried, how long to wait, when to give up.

Following the ConnectWise guide: server errors (500/502/503/504), 429 (waiting at least
``Retry-After``), connection errors, timeouts and truncated or non-JSON 200 bodies are
transient and retried with exponential backoff and full jitter, a bounded number of
times. 400/401/403/404 are the caller's problem and are never retried.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass
class RetryPolicy:
    """Bounded exponential backoff with jitter.

    ``delay(attempt)`` for attempt 1, 2, 3… is a random value in
    ``[base * 2**(attempt-1) / 2, base * 2**(attempt-1)]`` capped at ``max_delay``; a
    ``Retry-After`` from the server raises the wait to at least that many seconds.
    """

    max_attempts: int = 8  # total tries of one request, the first included
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 300.0  # never sleep longer than this on a Retry-After
    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.connect_timeout, self.read_timeout)

    def should_retry_status(self, status: int) -> bool:
        return status in RETRYABLE_STATUS

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before try number ``attempt + 1``."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** max(0, attempt - 1)))
        wait = self.rng.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_retry_after))
        return wait


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        from datetime import datetime, timezone

        when = parsedate_to_datetime(value)
        return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
    except (TypeError, ValueError):
        return None

"""The request budget: how many requests may be in flight, and how many start per second.

One budget is shared by every thread of a run (parallel endpoints, per-parent fetches), so
a run never exceeds it however its work is spread. The defaults are polite for a shared
tenant: 4 requests in flight and at most 10 new requests per second; raise them for a
dedicated API member (``max_in_flight``, ``requests_per_second``). 429s are still handled
by the retry policy.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

DEFAULT_MAX_IN_FLIGHT = 4
DEFAULT_REQUESTS_PER_SECOND = 10.0


class RequestBudget:
    """A semaphore for requests in flight plus a token bucket for their start rate."""

    def __init__(
        self,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        requests_per_second: float | None = DEFAULT_REQUESTS_PER_SECOND,
        *,
        clock=time.monotonic,
        sleep=time.sleep,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        if requests_per_second is not None and requests_per_second < 0:
            raise ValueError("requests_per_second must not be negative")
        self.max_in_flight = int(max_in_flight)
        self.rate = float(requests_per_second) if requests_per_second else None  # None/0: no cap
        self._slots = threading.BoundedSemaphore(self.max_in_flight)
        # pages the extra walks of split tables may fetch ahead, run-wide (paginator.py)
        self.range_pages = threading.BoundedSemaphore(self.max_in_flight)
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self._next_start = clock()

    def _wait_for_rate(self) -> None:
        if self.rate is None:
            return
        with self._lock:
            now = self._clock()
            start = max(now, self._next_start)
            self._next_start = start + 1.0 / self.rate
        if start > now:
            self._sleep(start - now)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one in-flight slot for the duration of a request."""
        self._slots.acquire()
        try:
            self._wait_for_rate()
            yield
        finally:
            self._slots.release()

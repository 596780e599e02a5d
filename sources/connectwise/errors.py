"""Errors the source raises: each one is a single line that says what to fix.

The command line prints ``str(error)`` and exits non-zero; nothing here ever carries a
credential (messages are built from the endpoint path and the API's own error text).
"""

from __future__ import annotations


class ConnectWiseError(Exception):
    """A failure the user can act on; ``str()`` is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


class ConfigurationError(ConnectWiseError):
    """Missing or invalid configuration (site, keys, base_url, start_date, ...)."""


class ApiRequestError(ConnectWiseError):
    """The API refused a request in a way retrying cannot fix (400/401/403/404)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class UnreachableError(ConfigurationError):
    """The host does not resolve or never answers: a wrong site/base_url or no network."""


class RetriesExhausted(ConnectWiseError):
    """A transient failure (5xx, 429, timeout, reset, truncated body) outlived the retries."""


def find_connectwise_error(exc: BaseException) -> ConnectWiseError | None:
    """The ConnectWiseError somewhere in an exception's cause/context chain (dlt wraps
    errors raised inside resources in its own pipeline exceptions)."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ConnectWiseError):
            return current
        stack.extend([current.__cause__, current.__context__])
        for arg in getattr(current, "args", ()):
            if isinstance(arg, BaseException):
                stack.append(arg)
    return None

"""HTTP plumbing of the sandbox: the threaded server, responses, errors and faults.

The API semantics live in :mod:`cwsync.sandbox.api`; this module only moves bytes:
it parses requests into :class:`Request`, writes :class:`Response` objects, and acts
out the faults :mod:`cwsync.sandbox.faults` picks (resets, truncated bodies, ...).
"""

from __future__ import annotations

import email.utils
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import orjson

JSON_TYPE = "application/json; charset=utf-8"

HTML_ERROR_PAGE = (
    "<!DOCTYPE html><html><head><title>502 - Web server received an invalid response"
    "</title></head><body><h1>Server Error</h1><h2>502 - Web server received an invalid "
    "response while acting as a gateway or proxy server.</h2></body></html>"
)
HTML_LOGIN_PAGE = (
    "<!DOCTYPE html><html><head><title>ConnectWise Manage</title></head><body>"
    "<p>The site is being upgraded. Please try again later.</p></body></html>"
)


class ApiError(Exception):
    """An error answered in the guide's shape ``{"code", "message", "errors"}``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        errors: list[dict] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.headers = headers or {}

    def response(self) -> Response:
        body = orjson.dumps({"code": self.code, "message": self.message, "errors": self.errors})
        return Response(self.status, body, headers=dict(self.headers))


@dataclass
class Request:
    method: str
    path: str  # decoded path without the query
    raw_query: str
    query: dict[str, str]  # lower-cased names -> last value
    headers: dict[str, str]  # lower-cased names
    body: bytes
    host: str

    @property
    def url_length(self) -> int:
        return (
            len("https://")
            + len(self.host)
            + len(self.path)
            + (1 + len(self.raw_query) if self.raw_query else 0)
        )

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def raw_params(self) -> list[tuple[str, str]]:
        """The query's ``name=value`` pieces as the client encoded them."""
        pieces = []
        for piece in self.raw_query.split("&"):
            if piece:
                name, _, value = piece.partition("=")
                pieces.append((name, value))
        return pieces


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    records: int = 0  # records in a list response (drives per-record latency)


Handler = Callable[[Request], Response]


@dataclass
class LoggedRequest:
    """One entry of the request log (no credentials: the clientId is masked)."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    fault: str | None
    records: int
    seconds: float
    pagination: str | None
    accept: str | None
    at: float


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: App):
        self.app = app
        super().__init__(address, _RequestHandler)


class App:
    """What the HTTP layer calls: routing plus policies (latency, faults, logging)."""

    def __init__(
        self, handler: Handler, faults, *, latency_ms: float = 0.0, per_record_ms: float = 0.0
    ):
        self.handler = handler
        self.faults = faults
        self.latency_ms = latency_ms
        self.per_record_ms = per_record_ms
        self.log: list[LoggedRequest] = []
        self._log_lock = threading.Lock()
        self.max_body = 50 * 1024 * 1024
        self.now: Callable[[], float] = time.time  # the clock behind the Date header

    def record(self, entry: LoggedRequest) -> None:
        with self._log_lock:
            self.log.append(entry)

    def clear_log(self) -> None:
        with self._log_lock:
            self.log.clear()


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body go out in separate writes: with Nagle on, a small response on a
    # kept-alive connection waits ~40 ms for the client's delayed ACK
    disable_nagle_algorithm = True
    server_version = "Microsoft-IIS/10.0"
    sys_version = ""
    server: SandboxServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        pass

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header follows the sandbox clock (frozen or shifted by tests)."""
        return email.utils.formatdate(
            self.server.app.now() if timestamp is None else timestamp, usegmt=True
        )

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _handle(self) -> None:
        app = self.server.app
        started = time.perf_counter()
        path, _, raw_query = self.path.partition("?")
        headers = {k.lower(): v for k, v in self.headers.items()}
        length = int(headers.get("content-length") or 0)
        if length > app.max_body:
            self.close_connection = True
            self._send(ApiError(413, "RequestTooLarge", "request body too large").response())
            return
        body = self.rfile.read(length) if length else b""
        try:
            query = {k.lower(): v for k, v in parse_qsl(raw_query, keep_blank_values=True)}
        except ValueError:
            query = {}
        request = Request(
            method=self.command,
            path=_unquote_path(path),
            raw_query=raw_query,
            query=query,
            headers=headers,
            body=body,
            host=headers.get("host", "127.0.0.1"),
        )
        fault = app.faults.pick(self.command, path) if "/apis/3.0" in path else None
        if fault == "reset":
            self._log(request, 0, fault, 0, started)
            self._reset()
            return
        if fault in ("500", "503"):
            response = ApiError(
                int(fault),
                "ServerError" if fault == "500" else "ServiceUnavailable",
                "An error has occurred." if fault == "500" else "The service is unavailable.",
            ).response()
        elif fault == "502":
            response = Response(502, HTML_ERROR_PAGE.encode(), "text/html")
        elif fault == "429":
            response = ApiError(
                429,
                "TooManyRequests",
                "Request rate limit exceeded. Retry later.",
                headers={"Retry-After": str(app.faults.retry_after)},
            ).response()
        elif fault == "html":
            response = Response(200, HTML_LOGIN_PAGE.encode(), "text/html; charset=utf-8")
        else:
            try:
                response = app.handler(request)
            except ApiError as exc:
                response = exc.response()
            except Exception as exc:  # a bug in the sandbox: answer like the API would
                response = ApiError(500, "UnexpectedError", f"sandbox error: {exc!r}").response()
        delay = app.latency_ms / 1000 + app.per_record_ms * response.records / 1000
        if fault == "slow":
            delay += app.faults.slow_seconds
        if delay > 0:
            time.sleep(delay)
        self._log(request, response.status, fault, response.records, started)
        if fault == "truncated":
            self._send(response, truncate=True)
        else:
            self._send(response, head=self.command == "HEAD")

    def _log(
        self, request: Request, status: int, fault: str | None, records: int, started: float
    ) -> None:
        self.server.app.record(
            LoggedRequest(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                status=status,
                fault=fault,
                records=records,
                seconds=time.perf_counter() - started,
                pagination=request.header("pagination-type"),
                accept=request.header("accept"),
                at=time.time(),
            )
        )

    def _send(self, response: Response, *, truncate: bool = False, head: bool = False) -> None:
        body = response.body
        try:
            self.send_response(response.status)
            if response.status != 204:
                self.send_header("Content-Type", response.content_type)
                self.send_header("Content-Length", str(len(body)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            if truncate:
                self.send_header("Connection", "close")
            self.end_headers()
            if head or response.status == 204:
                return
            if truncate:
                self.wfile.write(body[: max(1, len(body) // 2)])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _reset(self) -> None:
        """Abort the connection with a TCP RST, as a dropped load balancer would."""
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass
        self.close_connection = True

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass


def _unquote_path(path: str) -> str:
    from urllib.parse import unquote

    return unquote(path)

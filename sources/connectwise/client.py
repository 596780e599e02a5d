"""The HTTP client: site discovery, authentication headers, one request with retries.

* ``Authorization: Basic base64("{company_id}+{public_key}:{private_key}")`` and the
  ``clientId`` header on every request, the ``Accept`` header pinning the model version.
* Site discovery: ``GET https://{site}/login/companyinfo/{company_id}`` gives the
  codebase; a cloud codebase (anything but ``v4_6_release/``) is served from the
  ``api-`` host, e.g. ``https://api-na.myconnectwise.net/v2025_8/apis/3.0``.
* ``https`` is required, except for loopback addresses (the sandbox).
* Every response goes through :mod:`.retry`; every retry is logged (method, path and
  reason only: never headers, never credentials).
"""

from __future__ import annotations

import base64
import ipaddress
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
import requests.auth
import urllib3.exceptions

from .errors import ApiRequestError, ConfigurationError, RetriesExhausted, UnreachableError
from .retry import RetryPolicy, parse_retry_after
from .throttle import RequestBudget

log = logging.getLogger("cwsync.connectwise")

ACCEPT = "application/vnd.connectwise.com+json; version={version}"
ON_PREMISE_CODEBASE = "v4_6_release/"
USER_AGENT = "cwsync (+https://github.com/cwsync/cwsync)"


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    name = name.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _host_of_site(site: str) -> tuple[str, str]:
    """``na.myconnectwise.net`` / ``https://na.myconnectwise.net/`` -> (scheme, host)."""
    text = site.strip().rstrip("/")
    if "://" in text:
        parts = urlsplit(text)
        scheme, host = parts.scheme.lower(), parts.netloc
    else:
        host = text.split("/", 1)[0]
        scheme = "http" if is_loopback(host) else "https"
    if not host:
        raise ConfigurationError(
            f"invalid site {site!r}: use a host name like na.myconnectwise.net"
        )
    return scheme, host


def require_https(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"invalid base_url {url!r}: expected https://host/…/apis/3.0")
    if parts.scheme != "https" and not is_loopback(parts.netloc):
        raise ConfigurationError(
            f"refusing plain http to {parts.netloc}: ConnectWise requires https "
            "(http is only allowed for loopback addresses such as the sandbox)"
        )


def api_base_from_codebase(site: str, codebase: str) -> str:
    """Where the API lives, given the site and the ``Codebase`` from companyinfo."""
    scheme, host = _host_of_site(site)
    codebase = codebase.strip().strip("/") + "/"
    cloud = codebase != ON_PREMISE_CODEBASE
    if cloud and not host.lower().startswith("api-") and not is_loopback(host):
        host = "api-" + host
    return f"{scheme}://{host}/{codebase}apis/3.0"


def basic_auth(company_id: str, public_key: str, private_key: str) -> str:
    token = f"{company_id}+{public_key}:{private_key}".encode()
    return "Basic " + base64.b64encode(token).decode()


@dataclass
class RequestStats:
    """Counters for the run summary (shared by every thread of one client)."""

    requests: int = 0
    retries: int = 0
    records: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # the client that counts into these stats (set by the source; the run uses it after
    # the load for the count check and the delete sweep)
    client: ConnectWiseClient | None = field(default=None, repr=False)

    # called as observer(path, requests, retries, records) after every count: the hook of
    # progress displays (per table); must be quick and thread-safe
    observer: Callable[[str, int, int, int], None] | None = field(default=None, repr=False)

    def add(
        self, *, requests: int = 0, retries: int = 0, records: int = 0, path: str | None = None
    ) -> None:
        with self.lock:
            self.requests += requests
            self.retries += retries
            self.records += records
        if self.observer is not None and path is not None:
            self.observer(path, requests, retries, records)


class Page:
    """One list response. Its records are decoded from the body on first use: a decoded
    page takes ~3.5x the bytes of its body (~15 MB for 1000 tickets), so pages that wait
    in a queue stay small, and a reader that turns a page into Arrow right away holds the
    decoded form only while it does.

    A body that looked like a JSON list when it arrived but does not decode is fetched
    again once (``refetch``) and then fails loudly: never a silently short page."""

    __slots__ = ("_body", "_records", "headers", "_refetch", "_on_decode", "_what", "_summary")

    def __init__(
        self,
        records: list[dict] | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        body: bytes | None = None,
        what: str = "",
        refetch: Callable[[], bytes] | None = None,
        on_decode: Callable[[int], None] | None = None,
    ) -> None:
        self._records = records
        self._body = body
        self.headers: Mapping[str, str] = headers or {}
        self._what = what
        self._refetch = refetch
        self._on_decode = on_decode
        self._summary: tuple[int, Any, Any] | None = None
        if records is not None and on_decode is not None:
            on_decode(len(records))
            self._on_decode = None

    @property
    def records(self) -> list[dict]:
        if self._records is None:
            records = _decode_list(self._body or b"", self._what)
            if records is None and self._refetch is not None:
                log.warning("GET /%s: the body did not decode; fetching the page again", self._what)
                records = _decode_list(self._refetch(), self._what)
            if records is None:
                raise ApiRequestError(f"GET /{_short(self._what)}: the response is not JSON")
            self._records, self._body, self._refetch = records, None, None
            if self._on_decode is not None:
                self._on_decode(len(records))
                self._on_decode = None
        return self._records

    @property
    def body(self) -> bytes | None:
        """The raw list body while the page is not decoded (None once it is)."""
        return self._body if self._records is None else None

    def read_elsewhere(self, count: int, first_id: Any, last_id: Any) -> None:
        """Told by a reader that parsed :attr:`body` itself (into Arrow): the page's
        record count and first and last ids, so the page need not be decoded."""
        self._summary = (count, first_id, last_id)
        if self._on_decode is not None:
            self._on_decode(count)
            self._on_decode = None

    def summary(self) -> tuple[int, Any, Any]:
        """(record count, first record's id, last record's id)."""
        if self._summary is None:
            records = self.records
            first = records[0].get("id") if records and isinstance(records[0], dict) else None
            last = records[-1].get("id") if records and isinstance(records[-1], dict) else None
            self._summary = (len(records), first, last)
        return self._summary


def _decode_list(body: bytes, what: str) -> list[dict] | None:
    """The records of a list body; None when it is not JSON."""
    try:
        records = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(records, list):
        raise ApiRequestError(f"GET /{what}: expected a JSON list, got {type(records).__name__}")
    return records


def _looks_like_list(body: bytes) -> bool:
    """A cheap check of a whole list body (a cut body has lost its closing bracket)."""
    head, tail = body[:64].lstrip()[:1], body[-64:].rstrip()[-1:]
    return head == b"[" and tail == b"]"


class _HeadersCarryAuth(requests.auth.AuthBase):
    """Leaves a request as it is: its headers already carry the credentials."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


class ConnectWiseClient:
    """A small ConnectWise Manage REST client (thread-safe: one session per thread)."""

    def __init__(
        self,
        *,
        company_id: str,
        public_key: str,
        private_key: str,
        client_id: str,
        site: str | None = None,
        base_url: str | None = None,
        api_version: str = "2025.8",
        retry: RetryPolicy | None = None,
        budget: RequestBudget | None = None,
        sleep=time.sleep,
    ) -> None:
        missing = [
            name
            for name, value in (
                ("company_id", company_id),
                ("public_key", public_key),
                ("private_key", private_key),
                ("client_id", client_id),
            )
            if not value or not str(value).strip()
        ]
        if missing:
            raise ConfigurationError(
                f"missing {', '.join(missing)} in sources.connectwise "
                "(.dlt/secrets.toml or SOURCES__CONNECTWISE__… environment variables)"
            )
        if not site and not base_url:
            raise ConfigurationError(
                "set sources.connectwise.site (e.g. na.myconnectwise.net) or base_url"
            )
        self.company_id = str(company_id).strip()
        self.site = site
        self.api_version = api_version
        self.retry = retry or RetryPolicy()
        self.budget = budget or RequestBudget()
        self.stats = RequestStats()
        self._sleep = sleep
        self._auth = basic_auth(self.company_id, str(public_key).strip(), str(private_key).strip())
        self._client_id = str(client_id).strip()
        self._local = threading.local()
        self.cloud: bool | None = None
        self._reached = False  # has any response come back from the host yet?
        if base_url:
            base_url = base_url.strip().rstrip("/")
            require_https(base_url)
            self.base_url = base_url
        else:
            self.base_url = self.discover(str(site))

    # -- plumbing -----------------------------------------------------------------------
    @property
    def session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            # the Authorization header is set on every request (headers()); an auth object
            # on the session keeps requests from reading ~/.netrc on every request, and
            # from replacing that header with a .netrc entry for the host
            session.auth = _HeadersCarryAuth()
            adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=16)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            self._local.session = session
        return session

    def headers(self, api_version: str | None = None) -> dict[str, str]:
        return {
            "Authorization": self._auth,
            "clientId": self._client_id,
            "Accept": ACCEPT.format(version=api_version or self.api_version),
            "User-Agent": USER_AGENT,
        }

    def discover(self, site: str) -> str:
        """Resolve the API base URL of ``site`` through ``/login/companyinfo``."""
        scheme, host = _host_of_site(site)
        if scheme != "https" and not is_loopback(host):
            raise ConfigurationError(f"refusing plain http to {host}: ConnectWise requires https")
        url = f"{scheme}://{host}/login/companyinfo/{self.company_id}"
        try:
            response = self._send(
                "GET",
                url,
                what="login/companyinfo",
                headers={"User-Agent": USER_AGENT},
                attempts=3,
                retry_non_json=False,
            )
        except (RetriesExhausted, ApiRequestError) as exc:
            raise ConfigurationError(
                f"{host} did not answer /login/companyinfo like a ConnectWise site "
                f"[{getattr(exc, 'reason', str(exc))}]: check site"
            ) from None
        if response.status_code == 404:
            raise ConfigurationError(
                f"company {self.company_id!r} is not known at {host}: check site and company_id"
            )
        self._raise_for_status(response, "company info")
        try:
            info = self._decode(response, "company info")
        except ApiRequestError:
            info = None
        if not isinstance(info, dict) or not info.get("Codebase"):
            raise ConfigurationError(
                f"{host} did not answer /login/companyinfo like a ConnectWise site: check site"
            )
        self.cloud = str(info.get("IsCloud", "")).lower() == "true"
        base = api_base_from_codebase(site, str(info["Codebase"]))
        require_https(base)
        log.info("discovered API base %s (cloud=%s)", base, self.cloud)
        return base

    # -- requests -----------------------------------------------------------------------
    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def get_page(
        self,
        path: str,
        params: Mapping[str, Any],
        *,
        forward_only: bool = False,
        api_version: str | None = None,
        on_headers: Callable[[Mapping[str, str]], None] | None = None,
    ) -> Page:
        """GET one page of a collection; retried per the policy; always a list of records.
        ``on_headers``: called with each successful response's headers before its body is
        read (the first look tells a big page from them)."""
        headers = self.headers(api_version)
        if forward_only:
            headers["pagination-type"] = "forward-only"
        url = self.url(path)

        def fetch(decode: bool) -> requests.Response:
            response = self._send(
                "GET",
                url,
                what=path,
                params=params,
                headers=headers,
                list_body=not decode,
                on_headers=on_headers,
            )
            self._raise_for_status(response, path)
            return response

        def count(records: int) -> None:
            self.stats.add(records=records, path=path)

        response = fetch(decode=False)
        cached = getattr(response, "_cw_json", None)
        if cached is not None:  # not a list body: decoded already to say what it is
            if not isinstance(cached, list):
                raise ApiRequestError(
                    f"GET /{path}: expected a JSON list, got {type(cached).__name__}"
                )
            return Page(cached, response.headers, what=path, on_decode=count)
        return Page(
            headers=response.headers,
            body=response.content,
            what=path,
            refetch=lambda: fetch(decode=True).content,
            on_decode=count,
        )

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        response = self._send(
            "GET", self.url(path), what=path, params=params or {}, headers=self.headers()
        )
        self._raise_for_status(response, path)
        return self._decode(response, path)

    def _send(
        self,
        method: str,
        url: str,
        *,
        what: str,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        attempts: int | None = None,
        retry_non_json: bool = True,
        list_body: bool = False,
        on_headers: Callable[[Mapping[str, str]], None] | None = None,
    ) -> requests.Response:
        """Send with retries; returns the final response whose status is not retryable,
        with its body fully read and checked to be JSON when it is a 200 (``list_body``:
        only checked to look like a whole JSON list; :class:`Page` decodes it later).

        A host that has never answered is given up on quickly: a name that does not
        resolve fails at once, a refused or timed-out connection after two tries (a
        mistyped site must not cost minutes of backoff)."""
        policy = self.retry
        limit = min(attempts or policy.max_attempts, policy.max_attempts)
        attempt = 0
        while True:
            attempt += 1
            reason: str
            retry_after: float | None = None
            try:
                self.stats.add(requests=1, path=what)
                with self.budget.slot():
                    response = self.session.request(
                        method,
                        url,
                        params=params,
                        headers=headers,
                        timeout=policy.timeout,
                        stream=True,
                    )
                    if on_headers is not None and response.status_code == 200:
                        on_headers(response.headers)
                    read_whole_body(response)
                self._reached = True
                if policy.should_retry_status(response.status_code):
                    reason = f"HTTP {response.status_code}"
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                elif response.status_code == 200 and not _looks_like_json(response):
                    reason = f"a 200 that is not JSON ({_content_type(response) or 'no type'})"
                    if not retry_non_json:
                        error = ApiRequestError(f"GET /{_short(what)}: {reason}")
                        error.reason = reason  # type: ignore[attr-defined]
                        raise error
                else:
                    if (
                        response.status_code == 200
                        and list_body
                        and _looks_like_list(response.content)
                    ):
                        return response
                    if response.status_code == 200:
                        try:
                            response._cw_json = orjson.loads(response.content)  # type: ignore[attr-defined]
                        except orjson.JSONDecodeError:
                            reason = "a truncated or invalid JSON body"
                        else:
                            return response
                    else:
                        return response
            except requests.Timeout:
                reason = "a timeout"
            except requests.ConnectionError as exc:
                reason = f"a connection error ({type(exc).__name__})"
                if not self._reached:
                    host = urlsplit(url).netloc
                    text = str(exc)
                    if (
                        "NameResolution" in text
                        or "Name or service not known" in text
                        or ("nodename nor servname" in text)
                    ):
                        raise UnreachableError(
                            f"cannot resolve {host}: check site / base_url"
                        ) from None
                    if attempt >= 2 and _never_connected(exc):
                        raise UnreachableError(
                            f"cannot reach {host} ({_connection_reason(text)}): check site / "
                            "base_url and that the host is reachable from here"
                        ) from None
            except requests.exceptions.ChunkedEncodingError:
                reason = "a truncated body"
            except requests.exceptions.ContentDecodingError:
                reason = "an undecodable body"
            if attempt >= limit:
                exhausted = RetriesExhausted(
                    f"{method} /{_short(what)} still failing after {attempt} attempts "
                    f"(last: {reason}); the API may be down or rate limiting, try again later"
                )
                exhausted.reason = reason  # type: ignore[attr-defined]
                raise exhausted
            wait = policy.delay(attempt, retry_after)
            self.stats.add(retries=1, path=what)
            # a host that never answered yet is being probed: quiet unless -v (it either
            # answers next time or the run ends with one line saying it cannot be reached)
            log.log(
                logging.WARNING if self._reached else logging.INFO,
                "retrying %s /%s after %s (attempt %d of %d, waiting %.1fs)",
                method,
                _short(what),
                reason,
                attempt + 1,
                limit,
                wait,
            )
            self._sleep(wait)

    def _decode(self, response: requests.Response, what: str) -> Any:
        cached = getattr(response, "_cw_json", None)
        if cached is not None:
            return cached
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise ApiRequestError(f"GET /{_short(what)}: the response is not JSON") from None

    def _raise_for_status(self, response: requests.Response, what: str) -> None:
        status = response.status_code
        if status < 400:
            return
        message = _api_message(response)
        where = f"/{_short(what)}"
        if status == 400:
            raise ApiRequestError(f"the API rejected GET {where}: {message}", status)
        if status == 401:
            raise ApiRequestError(
                "authentication failed (401): check company_id, public_key and private_key "
                f"in sources.connectwise, and that client_id is registered ({message})",
                status,
            )
        if status == 403:
            raise ApiRequestError(
                f"access denied (403) to {where}: give the API member's security role access "
                f"to this area, or leave the table out with --resources ({message})",
                status,
            )
        if status == 404:
            hint = (
                "check site and company_id (the cloud codebase is discovered from the site)"
                if self.cloud or self.site
                else "check base_url"
            )
            raise ApiRequestError(f"not found (404): {where}: {hint} ({message})", status)
        raise ApiRequestError(f"GET {where} failed with HTTP {status}: {message}", status)


def read_whole_body(response: requests.Response) -> None:
    """Read a streamed response's body in one read, as ``response.content``.

    requests reads a body in 10 KB pieces and joins them: a 4 MB page costs 4.7-6.6 ms
    of CPU that way, 2.0-2.2 ms read at once. Errors become the ones requests raises
    while reading a body, so the retry policy sees the same exceptions."""
    try:
        body = response.raw.read(decode_content=True)
    except urllib3.exceptions.ProtocolError as exc:
        raise requests.exceptions.ChunkedEncodingError(exc) from None
    except urllib3.exceptions.DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc) from None
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise requests.exceptions.ConnectionError(exc) from None
    except urllib3.exceptions.SSLError as exc:
        raise requests.exceptions.SSLError(exc) from None
    response._content = body or b""  # type: ignore[attr-defined]
    response._content_consumed = True  # type: ignore[attr-defined]


def _never_connected(exc: requests.ConnectionError) -> bool:
    """A refused or timed-out connect (the host is not there), not a reset of a connection
    the host had accepted (a flaky network or server, worth the full retries)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    text = str(exc).lower()
    return "refused" in text or "failed to establish a new connection" in text


def _connection_reason(text: str) -> str:
    low = text.lower()
    if "refused" in low:
        return "connection refused"
    if "timed out" in low or "timeout" in low:
        return "connection timed out"
    if "reset" in low:
        return "connection reset"
    return "connection failed"


def _content_type(response: requests.Response) -> str:
    return (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()


def _looks_like_json(response: requests.Response) -> bool:
    ctype = _content_type(response)
    return ctype.endswith("json") or ctype == ""


def _api_message(response: requests.Response) -> str:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return f"HTTP {response.status_code}"
    if isinstance(body, dict):
        parts = [str(body.get("message") or body.get("code") or "")]
        for err in body.get("errors") or []:
            if isinstance(err, dict) and err.get("message"):
                parts.append(str(err["message"]))
        return " ".join(p for p in parts if p)[:300] or f"HTTP {response.status_code}"
    return f"HTTP {response.status_code}"


def _short(path: str) -> str:
    return path.split("?", 1)[0].strip("/")

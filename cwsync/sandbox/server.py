"""The :class:`Sandbox`: a seeded ConnectWise Manage tenant served over real HTTP.

Use it from the command line (``cwsync sandbox``) or in-process::

    with Sandbox(scale="small", seed=7) as sb:
        sb.info["base_url"]            # http://127.0.0.1:PORT/v4_6_release/apis/3.0
        sb.update("service/tickets", 1234, {"summary": "changed"})
        sb.clock.freeze(); sb.clock.advance(5)
        sb.requests                    # the request log
        sb.faults.inject("429", 2)     # next two API requests are throttled
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping

import orjson

from .api import Api, Member, Options, Tenant
from .callbacks import CallbackDispatcher, new_key_id
from .catalog import BY_PATH, RESOURCES
from .clock import Clock
from .faults import Faults
from .generate import TenantGenerator, scale_counts
from .http import ApiError, App, LoggedRequest, SandboxServer
from .model import Resource
from .store import Store

DEFAULT_COMPANY_ID = "cwsync"


def _key(seed: int, label: str, length: int = 16) -> str:
    return hashlib.sha256(f"{seed}:{label}".encode()).hexdigest()[:length]


class Sandbox:
    """A ConnectWise Manage API simulator bound to host:port."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 1,
        scale: str | int = "small",
        counts: Mapping[str, int] | None = None,
        latency_ms: float = 0.0,
        per_record_ms: float = 0.0,
        fault_rate: float = 0.0,
        fault_kinds: list[str] | None = None,
        slow_seconds: float = 2.0,
        retry_after: int = 1,
        db: str | None = None,
        company_id: str = DEFAULT_COMPANY_ID,
        cloud: bool = False,
        max_url_length: int = 2000,
        forward_link_keeps_params: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.seed = seed
        self.scale = scale
        self.counts = dict(counts or {})
        unknown = [p for p in self.counts if p not in BY_PATH]
        if unknown:
            raise ValueError(f"unknown collection(s) in counts: {', '.join(unknown)}")
        self.db_path = db
        self.clock = Clock()
        self.faults = Faults(
            fault_rate, fault_kinds, seed=seed, slow_seconds=slow_seconds, retry_after=retry_after
        )
        self.tenant = Tenant(
            company_id=company_id,
            company_name="Sandbox MSP",
            client_ids={_uuid(seed, "client")},
            cloud=cloud,
        )
        self.member = self.add_member("apiuser", _key(seed, "public"), _key(seed, "private", 24))
        self.limited_member = self.add_member(
            "limitedapi",
            _key(seed, "limited-public"),
            _key(seed, "limited-private", 24),
            denied_modules=("finance",),
        )
        self.options = Options(
            max_url_length=max_url_length, forward_link_keeps_params=forward_link_keeps_params
        )
        self.latency_ms = latency_ms
        self.per_record_ms = per_record_ms
        self.store: Store | None = None
        self.api: Api | None = None
        self._server: SandboxServer | None = None
        self._thread: threading.Thread | None = None
        self.callbacks: CallbackDispatcher | None = None  # delivers system/callbacks
        self.seed_seconds = 0.0

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> Sandbox:
        self.store = Store(RESOURCES, self.db_path, clock=self.clock)
        if self.store.get_meta("seeded") is None:
            started = time.perf_counter()
            counts = scale_counts(self.scale, self.counts)
            generator = TenantGenerator(self.seed, counts)
            for res in generator.order():
                self.store.bulk_insert(res, generator.rows(res))
            self.store.create_indexes()
            self.store.set_meta(
                "seeded",
                orjson.dumps(
                    {"seed": self.seed, "scale": str(self.scale), "counts": counts}
                ).decode(),
            )
            self.seed_seconds = time.perf_counter() - started
        self.api = Api(self.store, self.tenant, self.clock, self.options)
        self.callbacks = CallbackDispatcher(
            self.store,
            company_id=self.tenant.company_id,
            site=lambda: self.site,
            codebase=self.tenant.codebase,
            signing_key=_key(self.seed, "callback-signing-key", 32),
            key_id=new_key_id(self.seed),
        )
        self.store.listeners.append(self.callbacks.listener)
        app = App(
            self.callbacks.route(self.api),
            self.faults,
            latency_ms=self.latency_ms,
            per_record_ms=self.per_record_ms,
        )
        app.now = self.clock.now
        self._server = SandboxServer((self.host, self.port), app)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="cw-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop the tenant (unless kept with ``db``); again: nothing."""
        if self.callbacks is not None:
            self.callbacks.stop()
            self.callbacks = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self.store is not None:
            self.store.close(remove=self.db_path is None)
            self.store = None

    def serve_forever(self) -> None:
        """Block until interrupted (the command line's mode)."""
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- connection facts ------------------------------------------------------------
    @property
    def site(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.site}/{self.tenant.codebase}apis/3.0"

    @property
    def client_id(self) -> str:
        return next(iter(self.tenant.client_ids))

    @property
    def info(self) -> dict:
        """What a client needs to connect (the command line prints it first)."""
        return {
            "base_url": self.base_url,
            "site": self.site,
            "company_id": self.tenant.company_id,
            "public_key": self.member.public_key,
            "private_key": self.member.private_key,
            "client_id": self.client_id,
            "limited_member": {
                "public_key": self.limited_member.public_key,
                "private_key": self.limited_member.private_key,
                "denied_modules": sorted(self.limited_member.denied_modules),
            },
        }

    def add_member(
        self,
        identifier: str,
        public_key: str,
        private_key: str,
        *,
        denied_modules: tuple[str, ...] = (),
    ) -> Member:
        member = Member(
            identifier, public_key, private_key, frozenset(m.lower() for m in denied_modules)
        )
        self.tenant.members[public_key] = member
        return member

    # -- request log -----------------------------------------------------------------
    @property
    def requests(self) -> list[LoggedRequest]:
        return list(self._app.log)

    def clear_requests(self) -> None:
        self._app.clear_log()

    @property
    def _app(self) -> App:
        if self._server is None:
            raise RuntimeError("the sandbox is not running")
        return self._server.app

    # -- data, in-process (same code path and stamping as the HTTP writes) -----------
    def resource(self, path: str) -> Resource:
        try:
            return BY_PATH[path]
        except KeyError:
            raise KeyError(f"unknown collection {path!r}") from None

    def get(self, path: str, rid: int) -> dict | None:
        row = self._store.get_row(self.resource(path), rid)
        return row[1] if row else None

    def ids(self, path: str, parent_id: int | None = None) -> list[int]:
        return self._store.ids(self.resource(path), parent_id)

    def count(self, path: str) -> int:
        return self._store.count(self.resource(path), [], [])

    def create(self, path: str, body: dict, *, parent_id: int | None = None) -> dict:
        return self._api_call(
            lambda api: api.write(
                self.resource(path), body, action="added", member=self.member, parent_id=parent_id
            )
        )

    def update(self, path: str, rid: int, changes: dict) -> dict:
        """PATCH-replace the given top-level fields (refs as {"id": ...})."""
        ops = [{"op": "replace", "path": k, "value": v} for k, v in changes.items()]
        return self._api_call(
            lambda api: api.patch(self.resource(path), rid, ops, member=self.member)
        )

    def delete(self, path: str, rid: int) -> bool:
        return self._store.delete(self.resource(path), rid, member=self.member.identifier)

    def _api_call(self, fn):
        try:
            return fn(self._api_obj)
        except ApiError as exc:
            raise ValueError(
                f"{exc.status} {exc.code}: {exc.message} {exc.errors or ''}".strip()
            ) from None

    @property
    def _store(self) -> Store:
        if self.store is None:
            raise RuntimeError("the sandbox is not running")
        return self.store

    @property
    def _api_obj(self) -> Api:
        if self.api is None:
            raise RuntimeError("the sandbox is not running")
        return self.api


def _uuid(seed: int, label: str) -> str:
    h = _key(seed, label, 32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

"""``cwsync webhook``: the receiver (uvicorn) and the event processor in one process.

uvicorn serves :class:`pipelines.webhook.WebhookApp` on a socket bound here (so port 0
works and the address is printed before the first request); the processor thread
applies the journal every ``interval_seconds``. SIGINT/SIGTERM stop the server
gracefully, then the processor finishes its batch and the journal closes. Events
accepted but not yet applied stay ``pending`` in the journal for the next start.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass

import dlt
import uvicorn

from sources.connectwise import client_from_config
from sources.connectwise.throttle import (
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_REQUESTS_PER_SECOND,
    RequestBudget,
)

from .callbacks import EventProcessor
from .journal import Journal
from .webhook import KeyCache, Receiver, ReceiverSettings, WebhookApp, trusted_origins

log = logging.getLogger("cwsync.webhook")


def request_budget() -> RequestBudget:
    """The configured request budget (``max_in_flight``, ``requests_per_second``), which
    the micro-batches share like a run does."""
    in_flight = dlt.config.get("sources.connectwise.max_in_flight", int)
    rate = dlt.config.get("sources.connectwise.requests_per_second", float)
    return RequestBudget(
        int(in_flight or DEFAULT_MAX_IN_FLIGHT),
        (float(DEFAULT_REQUESTS_PER_SECOND if rate is None else rate) or None),
    )


@dataclass
class WebhookConfig:
    host: str = "127.0.0.1"
    port: int = 8787
    journal: str = "cwsync_callbacks.sqlite"
    interval_seconds: float = 2.0
    max_body_bytes: int = 1024 * 1024
    max_url_length: int = 2000
    replay_window_hours: float = 72.0
    key_cache_seconds: float = 3600.0
    hard_deletes: bool = False
    tables: list[str] | None = None  # only these tables (None: every synced one)


def serve(config: WebhookConfig, make_pipeline: Callable[[], dlt.Pipeline]) -> int:
    """Run until SIGINT/SIGTERM; returns the exit status."""
    client = client_from_config()
    client.budget = request_budget()
    site = dlt.config.get("sources.connectwise.site")
    origins = trusted_origins([client.base_url, str(site) if site else ""])
    keys = KeyCache(origins, ttl_seconds=config.key_cache_seconds)
    journal = Journal(config.journal)
    window = config.replay_window_hours * 3600.0
    receiver = Receiver(
        journal,
        keys,
        ReceiverSettings(max_body_bytes=config.max_body_bytes, replay_window_seconds=window),
    )
    processor = EventProcessor(
        journal,
        client,
        make_pipeline,
        interval_seconds=config.interval_seconds,
        max_url_length=config.max_url_length,
        replay_window_seconds=window,
        hard_deletes=config.hard_deletes,
        tables=config.tables,
    )
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((config.host, config.port))
    except OSError as exc:
        journal.close()
        from .cli import UsageError

        raise UsageError(f"cannot listen on {config.host}:{config.port}: {exc.strerror}") from None
    sock.listen(512)
    host, port = sock.getsockname()[:2]
    print(
        json.dumps(
            {
                "listening": f"http://{host}:{port}/",
                "journal": journal.path,
                "trusted_key_hosts": sorted(f"{s}://{h}:{p}" for s, h, p in origins),
            }
        ),
        flush=True,
    )
    print(
        f"webhook: receiving on {host}:{port}, journal {journal.path}; Ctrl-C stops it",
        file=sys.stderr,
        flush=True,
    )
    server = uvicorn.Server(
        uvicorn.Config(
            WebhookApp(receiver),
            log_level="warning",
            access_log=False,
            lifespan="on",
            proxy_headers=True,
            timeout_keep_alive=30,
            limit_concurrency=1000,
            h11_max_incomplete_event_size=64 * 1024,
        )
    )
    processor.start()
    try:
        server.run(sockets=[sock])
    finally:
        processor.stop()
        journal.close()
    return 0

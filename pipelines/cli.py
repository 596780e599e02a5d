"""The ``cwsync`` command line: one subcommand per job.

Errors a user can fix end in a one-line message on stderr and exit status 2; no
tracebacks for bad input, and no secrets in anything printed.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence


class UsageError(Exception):
    """A problem with what the user asked for: printed as one line, exit 2."""


def _scale(text: str) -> str | int:
    if text in ("small", "medium", "large"):
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid scale {text!r}: use small, medium, large or a record count"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError("scale must not be negative")
    return value


def _count(text: str) -> tuple[str, int]:
    path, sep, number = text.partition("=")
    if not sep or not number.strip().isdigit():
        raise argparse.ArgumentTypeError(
            f"invalid --count {text!r}: use PATH=N, e.g. service/tickets=1000000"
        )
    return path.strip().strip("/"), int(number)


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid rate {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("--fault-rate must be between 0 and 1")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage block) and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="cwsync",
        description="Sync a ConnectWise Manage tenant into a warehouse; run a ConnectWise sandbox.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    sb = sub.add_parser(
        "sandbox",
        help="serve a simulated ConnectWise Manage tenant over HTTP",
        description=(
            "Serve a seeded, simulated ConnectWise Manage tenant until interrupted. The first "
            "line on stdout is one JSON object with base_url, site, company_id, public_key, "
            "private_key and client_id."
        ),
    )
    sb.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sb.add_argument(
        "--port", type=int, default=0, help="port to bind; 0 picks a free one (default)"
    )
    sb.add_argument("--seed", type=int, default=1, help="seed of the generated tenant (default 1)")
    sb.add_argument(
        "--scale",
        type=_scale,
        default="small",
        help="small | medium | large | N records in the biggest table (default small)",
    )
    sb.add_argument(
        "--count",
        type=_count,
        action="append",
        default=[],
        metavar="PATH=N",
        help="set one collection's record count, e.g. service/tickets=1000000 (repeatable)",
    )
    sb.add_argument(
        "--latency-ms", type=float, default=0.0, help="added to every response (default 0)"
    )
    sb.add_argument(
        "--per-record-ms",
        type=float,
        default=0.0,
        help="added per record in a list response (default 0)",
    )
    sb.add_argument(
        "--fault-rate", type=_rate, default=0.0, help="share of API requests that fail (0..1)"
    )
    sb.add_argument(
        "--fault-kinds",
        default=None,
        help="comma list of 500,502,503,429,reset,slow,truncated,html (default all)",
    )
    sb.add_argument(
        "--slow-seconds", type=float, default=2.0, help="delay of a 'slow' fault (default 2)"
    )
    sb.add_argument(
        "--retry-after", type=int, default=1, help="Retry-After seconds on 429 (default 1)"
    )
    sb.add_argument(
        "--db", default=None, help="SQLite file to keep the tenant in (default: a temp file)"
    )
    sb.add_argument("--company-id", default="cwsync", help="login company id (default cwsync)")
    sb.add_argument(
        "--cloud", action="store_true", help="act as a cloud tenant (codebase v2025_8/)"
    )
    sb.add_argument(
        "--max-url-length", type=int, default=2000, help="longest URL accepted (default 2000)"
    )
    sb.add_argument(
        "--forward-link-keeps-params",
        action="store_true",
        help="make forward-only next links repeat conditions/fields (off by default)",
    )
    sb.set_defaults(func=cmd_sandbox)
    return parser


def cmd_sandbox(args: argparse.Namespace) -> int:
    from cwsync.sandbox import Sandbox

    kinds = [k.strip() for k in args.fault_kinds.split(",")] if args.fault_kinds else None
    try:
        sandbox = Sandbox(
            host=args.host,
            port=args.port,
            seed=args.seed,
            scale=args.scale,
            counts=dict(args.count),
            latency_ms=args.latency_ms,
            per_record_ms=args.per_record_ms,
            fault_rate=args.fault_rate,
            fault_kinds=kinds,
            slow_seconds=args.slow_seconds,
            retry_after=args.retry_after,
            db=args.db,
            company_id=args.company_id,
            cloud=args.cloud,
            max_url_length=args.max_url_length,
            forward_link_keeps_params=args.forward_link_keeps_params,
        )
        sandbox.start()
    except (ValueError, OSError) as exc:
        raise UsageError(f"cannot start the sandbox: {exc}") from None
    print(json.dumps(sandbox.info), flush=True)
    print(
        f"sandbox: serving {sandbox.base_url} (seeded in {sandbox.seed_seconds:.1f}s); Ctrl-C stops it",
        file=sys.stderr,
        flush=True,
    )
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    sandbox.serve_forever()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"cwsync: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130

"""``matcher console``: the web console, and ``matcher console publish``: the public page.

    matcher console --listen 127.0.0.1:8080 --target 127.0.0.1:50051
    matcher --as local-auditor console publish --out public/ --from 2026-01-01T00:00Z --to 2027-01-01T00:00Z

The console holds no credential of its own: people sign in with theirs. ``publish`` runs as the
auditor given by the usual client flags (``--as``, ``--token-file``, ``--ca/--cert/--key``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from matcher.cli.cases import instant
from matcher.cli.output import Printer
from matcher.client import MatcherClient
from matcher.config import DEFAULT_LISTEN


def _address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)


def serve(args: argparse.Namespace) -> int:
    from matcher.console.app import serve as run
    from matcher.console.web import Config

    if bool(args.tls_cert) != bool(args.tls_key):
        print("error: give both --tls-cert and --tls-key, or neither", file=sys.stderr)
        return 2
    service_ca = args.service_ca or os.environ.get("MATCHER_TLS_CA")
    config = Config(
        target=args.console_target or os.environ.get("MATCHER_TARGET", DEFAULT_LISTEN),
        service_ca=Path(service_ca).read_bytes() if service_ca else None,
        tls=bool(args.tls_cert),
        idle_seconds=args.idle_minutes * 60,
        max_upload_bytes=int(args.max_upload_mb * 1024 * 1024),
        public_dir=Path(args.public_dir) if args.public_dir else None,
    )
    host, port = args.listen
    scheme = "https" if config.tls else "http"
    mode = "client certificates (mutual TLS)" if config.service_ca else "tokens"
    print(f"console on {scheme}://{host}:{port}/ for the service at {config.target}; sign-in with {mode}")
    run(
        config,
        host,
        port,
        Path(args.tls_cert) if args.tls_cert else None,
        Path(args.tls_key) if args.tls_key else None,
    )
    return 0


def publish(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    """Exit 3 when the audit chain does not verify: no figure is published from it."""
    from matcher.console.app import publish as write

    try:
        files = write(client, Path(args.out), args.start, args.end)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
    for path in files:
        print(path)
    return 0


def register(commands: Any) -> None:
    console = commands.add_parser(
        "console", help="the web console for investigators, supervisors, operators, auditors"
    )
    console.add_argument(
        "--listen", type=_address, default=("127.0.0.1", 8080), help="HOST:PORT (default 127.0.0.1:8080)"
    )
    console.add_argument(
        "--target", dest="console_target", help="the service (default MATCHER_TARGET or 127.0.0.1:50051)"
    )
    console.add_argument(
        "--service-ca",
        help="mutual TLS: the CA of the service (or MATCHER_TLS_CA); people sign in with certificates",
    )
    console.add_argument("--tls-cert", help="serve HTTPS with this certificate (cookies become Secure)")
    console.add_argument("--tls-key", help="the key of --tls-cert")
    console.add_argument(
        "--idle-minutes", type=float, default=15.0, help="sign out after this long unused (15)"
    )
    console.add_argument("--max-upload-mb", type=float, default=16.0, help="largest form accepted, MiB (16)")
    console.add_argument("--public-dir", help="serve a published transparency page at /transparency/")
    console.set_defaults(handler=serve, local=True)
    actions = console.add_subparsers(dest="console_action")
    pub = actions.add_parser("publish", help="write the public transparency page as static files (auditor)")
    pub.add_argument("--out", required=True, help="folder to write index.html, figures.json, console.css")
    pub.add_argument("--from", dest="start", required=True, type=instant)
    pub.add_argument("--to", dest="end", required=True, type=instant)
    pub.set_defaults(handler=publish, local=False)

"""The ``matcher`` command: the service itself (``matcher serve``) and the investigator's CLI.

Every client command prints a readable table for people, or JSON with ``--json`` for scripts.
Refusals print the gRPC code, the machine-readable reason, the message and, for a refused photo,
the boxes the detector saw (see ``matcher.cli.errors``), and exit with 1.
Each command group lives in its own module and registers its sub-commands here.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from matcher.cli import (
    access,
    cases,
    console,
    database,
    edge,
    faces,
    governance,
    local,
    plates,
    presence,
    registry,
)
from matcher.cli.errors import show_details
from matcher.cli.output import Printer
from matcher.client import MatcherClient, MatcherError
from matcher.config import DEFAULT_DATA_DIR


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="matcher", description="Case-scoped face matching with automatic purge."
    )
    parser.add_argument(
        "--target",
        help="server address, or replicas' IP:PORT list separated by commas, or a DNS name of all "
        "replicas (default MATCHER_TARGET or 127.0.0.1:50051); calls go round robin",
    )
    parser.add_argument(
        "--token-file", help="file holding the bearer token (default ./matcher-data/client.token)"
    )
    parser.add_argument(
        "--as",
        dest="as_principal",
        help="act as a local principal: use DATA_DIR/tokens/NAME.token (e.g. local-auditor)",
    )
    parser.add_argument("--ca", help="mutual TLS: the CA that signed the server (or MATCHER_TLS_CA)")
    parser.add_argument("--cert", help="mutual TLS: your certificate (or MATCHER_TLS_CLIENT_CERT)")
    parser.add_argument("--key", help="mutual TLS: your key (or MATCHER_TLS_CLIENT_KEY)")
    parser.add_argument("--timeout", type=float, default=30.0, help="deadline of each call, seconds")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    commands = parser.add_subparsers(dest="command", required=True)
    for module in (
        local,
        database,
        cases,
        faces,
        plates,
        registry,
        access,
        governance,
        presence,
        console,
        edge,
    ):
        module.register(commands)
    return parser


def _token_file(args: argparse.Namespace) -> Path | None:
    if args.token_file:
        return Path(args.token_file)
    if args.as_principal:
        data_dir = Path(os.environ.get("MATCHER_DATA_DIR", str(DEFAULT_DATA_DIR)))
        return data_dir / "tokens" / f"{args.as_principal}.token"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "local", False):  # serve, models: no server to talk to.
        return int(args.handler(args))
    try:
        client = MatcherClient.connect(
            args.target,
            token_file=_token_file(args),
            principal=args.as_principal or "",
            tls_ca=Path(args.ca) if args.ca else None,
            tls_cert=Path(args.cert) if args.cert else None,
            tls_key=Path(args.key) if args.key else None,
            timeout=args.timeout,
        )
    except ValueError as error:  # a --target the client cannot use
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        with client:
            return int(args.handler(client, args, Printer(args.json)))
    except MatcherError as error:
        print(f"error: {error}", file=sys.stderr)
        show_details(error, args.json)
        return 1

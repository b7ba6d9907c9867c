"""Commands that run on this machine without a server: ``serve`` and ``models``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from matcher.config import Settings


def settings_of(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    if getattr(args, "listen", None):
        settings.listen = args.listen
    if getattr(args, "data_dir", None):
        settings.data_dir = Path(args.data_dir)
    if getattr(args, "database_url", None):
        settings.database_url = args.database_url
    if getattr(args, "model_dir", None):
        settings.model_dir = Path(args.model_dir)
    if getattr(args, "metrics_listen", None):
        settings.metrics_listen = args.metrics_listen
    if getattr(args, "log_format", None):
        settings.log_format = args.log_format
    if getattr(args, "log_file", None):
        settings.log_file = Path(args.log_file)
    return settings.resolved()


def serve(args: argparse.Namespace) -> int:
    from matcher.process_memory import reexec_scrubbed

    reexec_scrubbed()  # Before anything of the service runs: freed memory scrubbed (P18).
    from matcher.server import StartError
    from matcher.server import serve as run

    try:
        settings = settings_of(args)
        configure_logging(args.log_level, settings)
        run(settings)
    except StartError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def configure_logging(level: str, settings: Settings) -> None:
    """The operator's log as the settings say; a log that cannot be written stops the start."""
    from matcher.logs import LogSetupError, configure
    from matcher.server import StartError

    try:
        configure(level, settings.log_format, settings.log_file)
    except LogSetupError as error:
        raise StartError(str(error)) from None


def models_install(args: argparse.Namespace) -> int:
    from matcher.faces import ModelError, install_from

    settings = settings_of(args)
    assert settings.model_dir is not None
    try:
        paths = install_from(args.source, settings.model_dir, args.pack, allow_unpinned=args.allow_unpinned)
    except (ModelError, KeyError) as error:
        print(f"error: {error}")
        return 1
    print(f"installed pack {paths.pack}: {paths.detector}, {paths.recognizer}")
    print(f"licence: {paths.licence}")
    print("restart the service to load it")
    return 0


def models_list(args: argparse.Namespace) -> int:
    from matcher.faces import ModelError, load_manifest, resolve

    settings = settings_of(args)
    assert settings.model_dir is not None
    manifest = load_manifest()
    for name in sorted(manifest.packs):
        try:
            resolve(settings.model_dir, name, manifest)
            state = "installed"
        except ModelError:
            state = "not installed"
        print(f"{name:28} {state:14} {manifest.packs[name].licence}")
    return 0


def token_issue(args: argparse.Namespace) -> int:
    """Issues a bearer token for an existing principal (local token mode, on the server machine)."""
    from matcher.transport.auth import Authenticator

    settings = settings_of(args)
    target = Path(args.out) if args.out else settings.token_dir / f"{args.principal}.token"
    Authenticator(settings.tokens_file, tls_enabled=False).issue(args.principal, target)
    print(f"token for {args.principal} written to {target} (mode 0600); the service picks it up at once")
    return 0


def token_revoke(args: argparse.Namespace) -> int:
    """Revokes every token of a principal (local token mode, on the server machine)."""
    from matcher.transport.auth import Authenticator

    settings = settings_of(args)
    count = Authenticator(settings.tokens_file, tls_enabled=False).revoke(args.principal)
    print(f"{count} token(s) of {args.principal} revoked; the service refuses them at once")
    return 0


def break_glass_unlock(args: argparse.Namespace) -> int:
    """Releases a locked account straight in the system of record (P11's break-glass).

    Runs on the server's host with the data folder (key file) and the database's credentials:
    whoever can run it can already read the whole deployment. Audited as
    ``system:break-glass:<operating-system user>``.
    """
    import getpass

    from lifecycle.access import AccessControl
    from lifecycle.audit import AuditLog
    from lifecycle.clock import SystemClock
    from lifecycle.db import Database
    from lifecycle.errors import PolicyError
    from matcher.kek import load_audit_key

    settings = settings_of(args)
    assert settings.kek_file is not None
    audit_key = load_audit_key(settings.kek_file)
    db = Database(settings.database_url)
    clock = SystemClock()
    audit = AuditLog(db, clock, audit_key, settings.audit_anchor_file)
    try:
        principal = AccessControl(db, clock, audit).break_glass_unlock(
            args.principal, operator=getpass.getuser(), reason=args.reason
        )
    except PolicyError as error:
        print(f"error: {error.message}")
        return 1
    finally:
        audit.close()
        db.dispose()
    print(f"{principal.id} released; the audit log records it as a break-glass unlock")
    return 0


def doctor(args: argparse.Namespace) -> int:
    """Checks a deployment (database, key, models, TLS, clock, audit chain); exit 1 on a failure."""
    import logging

    from matcher.doctor import FAIL, Doctor, report

    logging.basicConfig(level=logging.CRITICAL)  # the findings say it all, once
    findings = list(Doctor(settings_of(args)).run())
    print(report(findings))
    return 1 if any(f.status == FAIL for f in findings) else 0


def dev_certs(args: argparse.Namespace) -> int:
    """A local CA with server and client certificates, for trying mutual TLS (never production)."""
    from matcher.tls import DEV_PRINCIPALS, make_dev_certs

    names = args.principal or list(DEV_PRINCIPALS)
    certs = make_dev_certs(Path(args.out), names)
    print(f"CA:     {certs.ca_cert}")
    print(f"server: {certs.server_cert} {certs.server_key}")
    for name, (cert, key) in certs.clients.items():
        print(f"client {name}: {cert} {key}")
    print(
        "serve with MATCHER_TLS_CERT, MATCHER_TLS_KEY and MATCHER_TLS_CLIENT_CA set to the server files"
        " and the CA; the first administrator is the certificate named MATCHER_BOOTSTRAP_ADMIN (admin)"
    )
    return 0


def register(commands: Any) -> None:
    run = commands.add_parser("serve", help="run the service")
    run.add_argument("--listen", help="address to listen on (default 127.0.0.1:50051)")
    run.add_argument("--data-dir", help="folder for the database, keys and tokens (default ./matcher-data)")
    run.add_argument("--database-url", help="SQLAlchemy URL (default SQLite in the data folder)")
    run.add_argument("--model-dir", help="folder of installed model packs (default DATA_DIR/models)")
    run.add_argument("--log-level", default="INFO")
    run.add_argument("--log-format", choices=("text", "json"), help="one JSON object per line with json")
    run.add_argument("--log-file", help="write the log to this file (default: standard error)")
    run.add_argument("--metrics-listen", help="serve Prometheus /metrics on HOST:PORT (off unless given)")
    run.set_defaults(handler=serve, local=True)

    models = commands.add_parser("models", help="face model packs (never downloaded by the service)")
    actions = models.add_subparsers(dest="action", required=True)
    install = actions.add_parser("install", help="copy and verify a pack's files into the model folder")
    install.add_argument("--from", dest="source", required=True, help="folder holding the pack's .onnx files")
    install.add_argument("--pack", default="buffalo_l", help="pack name from models/manifest.json")
    install.add_argument(
        "--allow-unpinned", action="store_true", help="accept files the manifest has no sha256 for"
    )
    install.add_argument("--data-dir")
    install.add_argument("--model-dir")
    install.set_defaults(handler=models_install, local=True)
    listing = actions.add_parser("list", help="supported packs and whether they are installed")
    listing.add_argument("--data-dir")
    listing.add_argument("--model-dir")
    listing.set_defaults(handler=models_list, local=True)

    check = commands.add_parser("doctor", help="check a deployment and say what to fix (exit 1 on a failure)")
    check.add_argument("--data-dir")
    check.add_argument("--database-url")
    check.add_argument("--model-dir")
    check.set_defaults(handler=doctor, local=True)

    certs = commands.add_parser("dev-certs", help="make a local CA and certificates for trying mutual TLS")
    certs.add_argument("out", help="folder to write them to (mode 0700)")
    certs.add_argument("--principal", action="append", help="client certificate to make (repeatable)")
    certs.set_defaults(handler=dev_certs, local=True)

    token = commands.add_parser("token", help="bearer tokens for local use (run on the server machine)")
    token_actions = token.add_subparsers(dest="action", required=True)
    issue = token_actions.add_parser(
        "issue", help="write a new token for a principal an administrator created"
    )
    issue.add_argument("principal")
    issue.add_argument("--out", help="token file (default DATA_DIR/tokens/PRINCIPAL.token)")
    issue.add_argument("--data-dir")
    issue.set_defaults(handler=token_issue, local=True)
    revoke = token_actions.add_parser(
        "revoke", help="revoke every token of a principal (presenting one again counts towards its lockout)"
    )
    revoke.add_argument("principal")
    revoke.add_argument("--data-dir")
    revoke.set_defaults(handler=token_revoke, local=True)

    glass = commands.add_parser(
        "break-glass", help="the host operator's emergency actions, without the API (audited)"
    )
    unlock = glass.add_subparsers(dest="action", required=True).add_parser(
        "unlock", help="release a locked account (for when no administrator can sign in)"
    )
    unlock.add_argument("principal")
    unlock.add_argument("--reason", required=True, help="why (P12); recorded in the audit log")
    unlock.add_argument("--data-dir")
    unlock.add_argument("--database-url")
    unlock.set_defaults(handler=break_glass_unlock, local=True)

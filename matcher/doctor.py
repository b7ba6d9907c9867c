"""``matcher doctor``: one command that checks a deployment and says what to fix.

It reads what the service would read at start (the settings, the database, the key-encryption
key, the models, the TLS files) and checks what an operator cannot see from outside: that the
database is reachable and its schema current, that the key-encryption key is present, private and
not stored beside the database (whoever holds both can read every template), that the models are
the verified files, that no certificate expires within 30 days, that this host's clock agrees
with the database's, and that the audit chain verifies. Each check is OK, WARN or FAIL with the
fix; the exit status is 1 when any check fails.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import make_url

from lifecycle.audit import AuditLog
from lifecycle.clock import SystemClock
from lifecycle.db import Base, Database
from lifecycle.models import AuditRecord
from matcher.config import Settings
from matcher.crypto import KEK_ENV, KeyRing, KeyringError
from matcher.model_loading import Unavailable, load_pipeline, load_plate_reader

EXPIRY_WARNING = timedelta(days=30)
CLOCK_TOLERANCE = timedelta(seconds=5)
OK, WARN, FAIL = "OK", "WARN", "FAIL"


@dataclass(frozen=True)
class Finding:
    status: str
    check: str
    detail: str
    fix: str = ""


class Doctor:
    """Runs the checks in order; later checks that need an earlier one's result skip politely."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings.resolved()
        self.db: Database | None = None
        self.keyring: KeyRing | None = None

    def run(self) -> Iterator[Finding]:
        checks: list[Callable[[], Iterator[Finding]]] = [
            self._database,
            self._key,
            self._models,
            self._tls,
            self._clock,
            self._audit,
        ]
        try:
            for check in checks:
                yield from check()
        finally:
            if self.db is not None:
                self.db.dispose()

    # --- the checks ---------------------------------------------------------------------------

    def _database(self) -> Iterator[Finding]:
        where = make_url(self.settings.database_url).render_as_string(hide_password=True)
        try:
            self.db = Database(self.settings.database_url, create=False)
            with self.db.reading() as session:
                session.execute(text("SELECT 1"))
        except Exception as error:
            self.db = None
            yield Finding(
                FAIL,
                "database",
                f"cannot reach {where} ({type(error).__name__})",
                "check --database-url and that the database runs",
            )
            return
        yield Finding(OK, "database", f"reachable: {where}")
        missing = sorted(set(Base.metadata.tables) - set(inspect(self.db.engine).get_table_names()))
        if missing:
            yield Finding(FAIL, "schema", f"missing tables: {', '.join(missing)}", "run: matcher db upgrade")
        else:
            yield Finding(OK, "schema", "every table of this release is present")

    def _key(self) -> Iterator[Finding]:
        settings = self.settings
        assert settings.kek_file is not None
        from_env = bool(os.environ.get(KEK_ENV))
        if not from_env and not settings.kek_file.exists():
            yield Finding(
                FAIL,
                "key",
                f"no key-encryption key at {settings.kek_file}",
                f"set {KEK_ENV} or MATCHER_KEK_FILE, or restore the key file",
            )
            return
        try:
            self.keyring = KeyRing.load(settings.kek_file)
        except (KeyringError, OSError) as error:
            yield Finding(FAIL, "key", str(error), "restore the key file from its escrow")
            return
        if from_env:
            yield Finding(OK, "key", f"from {KEK_ENV}")
        else:
            mode = stat.S_IMODE(settings.kek_file.stat().st_mode)
            if mode & 0o077:
                yield Finding(
                    WARN, "key", f"{settings.kek_file} has mode {mode:o}", f"chmod 600 {settings.kek_file}"
                )
            else:
                yield Finding(OK, "key", f"{settings.kek_file}, mode {mode:o}")
            database = make_url(settings.database_url).database
            if settings.database_url.startswith("sqlite") and database:
                db_dir = Path(database).resolve().parent
                kek_dir = settings.kek_file.resolve().parent
                if kek_dir == db_dir or db_dir in kek_dir.parents or kek_dir in db_dir.parents:
                    yield Finding(
                        WARN,
                        "key placement",
                        f"the key ({kek_dir}) lives beside the database ({db_dir}): one backup takes both",
                        "move the key to another volume (MATCHER_KEK_FILE), or pass MATCHER_KEK",
                    )

    def _models(self) -> Iterator[Finding]:
        pipeline = load_pipeline(self.settings)
        if isinstance(pipeline, Unavailable):
            yield Finding(WARN, "face models", pipeline.why, "matcher models install --from DIR --pack NAME")
        else:
            yield Finding(OK, "face models", f"verified: {pipeline.model_id}")
        reader = load_plate_reader(self.settings)
        if isinstance(reader, Unavailable):
            yield Finding(WARN, "plate models", reader.why)
        else:
            yield Finding(OK, "plate models", "loaded on the CPU provider")

    def _tls(self) -> Iterator[Finding]:
        settings = self.settings
        files = {"certificate": settings.tls_cert, "client CA": settings.tls_client_ca}
        if not any((settings.tls_cert, settings.tls_key, settings.tls_client_ca)):
            yield Finding(
                WARN,
                "tls",
                "no mutual TLS: bearer tokens, for local use only",
                "serve with MATCHER_TLS_CERT, _KEY and _CLIENT_CA in production",
            )
            return
        now = datetime.now(UTC)
        for what, path in files.items():
            if path is None or not path.exists():
                yield Finding(
                    FAIL,
                    "tls",
                    f"the {what} file is missing ({path})",
                    "set MATCHER_TLS_CERT, MATCHER_TLS_KEY and MATCHER_TLS_CLIENT_CA",
                )
                continue
            try:
                certificate = x509.load_pem_x509_certificate(path.read_bytes())
            except ValueError:
                yield Finding(FAIL, "tls", f"{path} is not a PEM certificate")
                continue
            left = certificate.not_valid_after_utc - now
            if left <= timedelta(0):
                yield Finding(
                    FAIL,
                    "tls",
                    f"the {what} {path} expired on {certificate.not_valid_after_utc:%Y-%m-%d}",
                    "renew it",
                )
            elif left <= EXPIRY_WARNING:
                yield Finding(
                    WARN, "tls", f"the {what} {path} expires in {left.days} days", "renew it before then"
                )
            else:
                yield Finding(
                    OK, "tls", f"the {what} is valid until {certificate.not_valid_after_utc:%Y-%m-%d}"
                )
        if settings.tls_key is None or not settings.tls_key.exists():
            yield Finding(
                FAIL, "tls", f"the server key is missing ({settings.tls_key})", "set MATCHER_TLS_KEY"
            )

    def _clock(self) -> Iterator[Finding]:
        if self.db is None:
            return
        now = datetime.now(UTC)
        with self.db.reading() as session:
            if not self.db.is_sqlite:
                theirs = session.scalar(text("SELECT now()"))
                assert theirs is not None
                skew = abs(theirs.astimezone(UTC) - now)
                if skew > CLOCK_TOLERANCE:
                    yield Finding(
                        FAIL,
                        "clock",
                        f"this host and the database disagree by {skew.total_seconds():.1f} s",
                        "synchronise both with NTP: holds and orders end by the clock",
                    )
                    return
            latest = session.scalar(select(func.max(AuditRecord.at)))
        if latest is not None and latest.replace(tzinfo=UTC) > now + CLOCK_TOLERANCE:
            yield Finding(
                FAIL,
                "clock",
                f"the audit log has a record from {latest:%Y-%m-%d %H:%M} UTC, after this host's now",
                "the clock went backwards: fix NTP before serving",
            )
        else:
            yield Finding(OK, "clock", f"{now:%Y-%m-%d %H:%M:%S} UTC, consistent with the database")

    def _audit(self) -> Iterator[Finding]:
        if self.db is None or self.keyring is None:
            return
        audit = AuditLog(
            self.db,
            SystemClock(),
            self.keyring.derive("matcher audit chain v1"),
            self.settings.audit_anchor_file,
        )
        try:
            result = audit.verify(seal=False)
        finally:
            audit.close()
        if result.ok:
            yield Finding(OK, "audit chain", f"{result.records_checked} records verify")
        else:
            yield Finding(
                FAIL,
                "audit chain",
                f"broken at record {result.first_bad_sequence}: {result.problem}",
                "keep the database as it is and call the auditors: this is evidence",
            )


def report(findings: list[Finding]) -> str:
    """The findings as lines a person reads: status, check, what was found, what to do."""
    lines = []
    for finding in findings:
        line = f"{finding.status:4}  {finding.check:14} {finding.detail}"
        if finding.fix and finding.status != OK:
            line += f"\n{'':20}fix: {finding.fix}"
        lines.append(line)
    return "\n".join(lines)

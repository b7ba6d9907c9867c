"""Service configuration: command-line flags over environment variables over defaults.

Defaults run the service on its embedded setup: SQLite and key files under ./matcher-data,
listening on 127.0.0.1:50051 only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_LISTEN = "127.0.0.1:50051"
DEFAULT_DATA_DIR = Path("matcher-data")
DEFAULT_FACE_MODEL = "arcface-512"


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def _parse_models(text: str) -> dict[str, int]:
    """'name:dim,name:dim' to a mapping; the first is the default model."""
    models: dict[str, int] = {}
    for item in text.split(","):
        name, _, dim = item.strip().partition(":")
        if not name or not dim.isdigit() or int(dim) <= 0:
            raise ValueError(f"MATCHER_FACE_MODELS entry {item!r} is not 'name:dimension'")
        models[name] = int(dim)
    return models


@dataclass
class Settings:
    listen: str = DEFAULT_LISTEN
    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = ""
    kek_file: Path | None = None
    # Face models whose embeddings are accepted, with their dimensions; the first is the default.
    face_models: dict[str, int] = field(default_factory=lambda: {DEFAULT_FACE_MODEL: 512})
    default_min_score: float = 0.35
    # Transport limits: the hard gRPC limit, and the per-call limit for calls without images.
    max_message_bytes: int = 16 * 1024 * 1024
    max_embedding_call_bytes: int = 256 * 1024
    faiss_threads: int = 1
    # Worker threads for policy work (database, FAISS, inference); calls and streams waiting for
    # their next message wait on the event loop, not on a worker.
    grpc_workers: int = 16
    # Each principal's share of the service (issue 17): calls and streams in flight at once.
    max_calls_per_principal: int = 32
    max_streams_per_principal: int = 8
    # How long a call's body may take to arrive after its headers.
    request_body_timeout_seconds: float = 10.0
    # Health checking and reflection answer anyone: calls in flight per peer host, and in all.
    max_open_calls_per_host: int = 32
    max_open_calls: int = 512
    max_streams_per_connection: int = 100
    # HTTP/2 flow-control window growth (BDP probing): off, so that unauthenticated bodies cannot
    # fill the server's memory before their headers are checked; on for faster uploads over WANs.
    http2_bdp_probe: bool = False
    # Operations: Prometheus metrics (off unless an address is given), the log's format and file.
    metrics_listen: str = ""
    log_format: str = "text"
    log_file: Path | None = None
    # Face pipeline: a pack installed under model_dir (``matcher models install``), or explicit
    # detector and recogniser files (which take precedence).
    model_dir: Path | None = None
    face_pack: str = "buffalo_l"
    face_detector: Path | None = None
    face_recognizer: Path | None = None
    face_threads: int = 1
    min_face_px: int = 40
    min_detector_score: float = 0.5
    # Plate reader (fast-alpr): detector, OCR model and its plate config, all local files.
    plate_detector: Path | None = None
    plate_detector_kind: str = "yolov8"
    plate_ocr_model: Path | None = None
    plate_ocr_config: Path | None = None
    min_plate_detector_score: float = 0.4
    # How uncertain one plate read may be (issue 17, P8): characters below the confidence
    # threshold it may leave unknown, and characters that must match an entry whatever the edit
    # budget (see matcher.plates.uncertainty for the rule and its figures).
    plate_max_unknown: int = 2
    plate_min_anchored: int = 4
    # A principal with this many reads refused as too uncertain within the window has its plate
    # checks suspended until the window passes, and the designee is told (matcher.plate_probing).
    plate_max_uncertain_reads: int = 30
    # P9: a stored plate hit (a gateway's read that hit) is a plate read: kept this long.
    plate_hit_retention_days: float = 30.0
    plate_uncertain_window_seconds: float = 600.0
    # Registered individuals (P5): how sure a match must be to raise an alert, and how far a
    # camera's clock may run ahead before its sightings are refused.
    alert_min_score: float = 0.5
    max_clock_skew_seconds: float = 120.0
    # Mutual TLS (production): the server's certificate and key, and the CA that signs clients'
    # certificates. Without them the service takes bearer tokens and should listen on loopback.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    # The first administrator's principal id (its certificate's common name) under mTLS.
    bootstrap_admin: str = "admin"
    # The first Mayor's designee (approves department heads, P11) under mTLS.
    bootstrap_designee: str = "designee"

    @classmethod
    def from_env(cls) -> Settings:
        settings = cls()
        env = os.environ
        settings.listen = env.get("MATCHER_LISTEN", settings.listen)
        settings.data_dir = Path(env.get("MATCHER_DATA_DIR", str(settings.data_dir)))
        settings.database_url = env.get("MATCHER_DATABASE_URL", "")
        if env.get("MATCHER_KEK_FILE"):
            settings.kek_file = Path(env["MATCHER_KEK_FILE"])
        if env.get("MATCHER_FACE_MODELS"):
            settings.face_models = _parse_models(env["MATCHER_FACE_MODELS"])
        settings.default_min_score = _env_float("MATCHER_MIN_SCORE", settings.default_min_score)
        settings.faiss_threads = int(env.get("MATCHER_FAISS_THREADS", settings.faiss_threads))
        settings.grpc_workers = int(env.get("MATCHER_WORKERS", settings.grpc_workers))
        settings.max_calls_per_principal = int(
            env.get("MATCHER_MAX_CALLS_PER_PRINCIPAL", settings.max_calls_per_principal)
        )
        settings.max_streams_per_principal = int(
            env.get("MATCHER_MAX_STREAMS_PER_PRINCIPAL", settings.max_streams_per_principal)
        )
        if env.get("MATCHER_MODEL_DIR"):
            settings.model_dir = Path(env["MATCHER_MODEL_DIR"])
        settings.face_pack = env.get("MATCHER_FACE_PACK", settings.face_pack)
        if env.get("MATCHER_FACE_DETECTOR"):
            settings.face_detector = Path(env["MATCHER_FACE_DETECTOR"])
        if env.get("MATCHER_FACE_RECOGNIZER"):
            settings.face_recognizer = Path(env["MATCHER_FACE_RECOGNIZER"])
        settings.face_threads = int(env.get("MATCHER_FACE_THREADS", settings.face_threads))
        settings.min_face_px = int(env.get("MATCHER_MIN_FACE_PX", settings.min_face_px))
        settings.min_detector_score = _env_float("MATCHER_MIN_DETECTOR_SCORE", settings.min_detector_score)
        for name in (
            "tls_cert",
            "tls_key",
            "tls_client_ca",
            "plate_detector",
            "plate_ocr_model",
            "plate_ocr_config",
        ):
            value = env.get(f"MATCHER_{name.upper()}")
            if value:
                setattr(settings, name, Path(value))
        settings.http2_bdp_probe = env.get("MATCHER_HTTP2_BDP_PROBE", "") in ("1", "true", "yes")
        settings.metrics_listen = env.get("MATCHER_METRICS_LISTEN", settings.metrics_listen)
        settings.log_format = env.get("MATCHER_LOG_FORMAT", settings.log_format)
        if env.get("MATCHER_LOG_FILE"):
            settings.log_file = Path(env["MATCHER_LOG_FILE"])
        settings.bootstrap_admin = env.get("MATCHER_BOOTSTRAP_ADMIN", settings.bootstrap_admin)
        settings.bootstrap_designee = env.get("MATCHER_BOOTSTRAP_DESIGNEE", settings.bootstrap_designee)
        settings.alert_min_score = _env_float("MATCHER_ALERT_MIN_SCORE", settings.alert_min_score)
        settings.max_clock_skew_seconds = _env_float(
            "MATCHER_MAX_CLOCK_SKEW", settings.max_clock_skew_seconds
        )
        settings.plate_detector_kind = env.get("MATCHER_PLATE_DETECTOR_KIND", settings.plate_detector_kind)
        settings.min_plate_detector_score = _env_float(
            "MATCHER_MIN_PLATE_DETECTOR_SCORE", settings.min_plate_detector_score
        )
        settings.plate_max_unknown = int(env.get("MATCHER_PLATE_MAX_UNKNOWN", settings.plate_max_unknown))
        settings.plate_min_anchored = int(env.get("MATCHER_PLATE_MIN_ANCHORED", settings.plate_min_anchored))
        settings.plate_max_uncertain_reads = int(
            env.get("MATCHER_PLATE_MAX_UNCERTAIN_READS", settings.plate_max_uncertain_reads)
        )
        settings.plate_hit_retention_days = _env_float(
            "MATCHER_PLATE_HIT_RETENTION_DAYS", settings.plate_hit_retention_days
        )
        settings.plate_uncertain_window_seconds = _env_float(
            "MATCHER_PLATE_UNCERTAIN_WINDOW", settings.plate_uncertain_window_seconds
        )
        return settings

    def resolved(self) -> Settings:
        """Fills the paths that default to places under the data folder."""
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'matcher.db').resolve()}"
        if self.kek_file is None:
            self.kek_file = self.data_dir / "keys" / "kek"
        if self.model_dir is None:
            self.model_dir = self.data_dir / "models"
        return self

    def plate_setting_problem(self) -> str | None:
        """What is wrong with the plate read bounds (issue 17), in one line with its fix."""
        if not 0 <= self.plate_max_unknown <= 10:
            return "MATCHER_PLATE_MAX_UNKNOWN must be 0-10 (characters a read may leave unknown)"
        if not 1 <= self.plate_min_anchored <= 10:
            return "MATCHER_PLATE_MIN_ANCHORED must be 1-10 (characters a read must match)"
        if self.plate_max_uncertain_reads < 1 or not self.plate_uncertain_window_seconds > 0:
            return (
                "MATCHER_PLATE_MAX_UNCERTAIN_READS must be at least 1 and "
                "MATCHER_PLATE_UNCERTAIN_WINDOW (seconds) positive"
            )
        if not self.plate_hit_retention_days > 0:
            return "MATCHER_PLATE_HIT_RETENTION_DAYS must be positive (P9: 30 by default)"
        return None

    @property
    def default_face_model(self) -> str:
        return next(iter(self.face_models))

    @property
    def tls_enabled(self) -> bool:
        parts = (self.tls_cert, self.tls_key, self.tls_client_ca)
        if any(parts) and not all(parts):
            raise ValueError("mutual TLS needs MATCHER_TLS_CERT, MATCHER_TLS_KEY and MATCHER_TLS_CLIENT_CA")
        return all(parts)

    @property
    def tokens_file(self) -> Path:
        return self.data_dir / "tokens.json"

    @property
    def token_dir(self) -> Path:
        return self.data_dir / "tokens"

    @property
    def client_token_file(self) -> Path:
        return self.data_dir / "client.token"

    @property
    def audit_anchor_file(self) -> Path:
        return self.data_dir / "audit.anchor"

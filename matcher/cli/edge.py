"""Edge commands that run beside the cameras as the camera gateway: ``gateway``, ``bridge frigate``.

They run until Ctrl-C or SIGTERM, log what they do (never a plate text or a face), and print a
summary of their counts when they stop.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from matcher.cli.output import Printer
from matcher.client import MatcherClient

log = logging.getLogger("matcher.edge")


def stop_on_signals() -> threading.Event:
    """An event set by Ctrl-C or SIGTERM, so that the command stops cleanly."""
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    return stop


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


def camera_gateway_check(client: MatcherClient) -> str:
    """Empty when the service answers and the credentials are a camera gateway's, else what to fix
    (said at start, not after the first frames or plates are lost)."""
    from matcher.client import MatcherError

    try:
        principal = client.whoami()
    except MatcherError as error:
        return f"the service does not accept this gateway: {error}"
    if "camera_gateway" not in principal.roles:
        name = principal.name.removeprefix("principals/")
        return (
            f"{name} is not a camera gateway (roles: {', '.join(principal.roles) or 'none'}); "
            "run as one: --as local-camera, --token-file, or its mutual TLS certificate"
        )
    return ""


def _password(args: argparse.Namespace) -> str:
    if args.mqtt_password_file:
        return Path(args.mqtt_password_file).read_text().strip()
    return os.environ.get("MATCHER_MQTT_PASSWORD", "")


def bridge_frigate(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    from matcher.gateway.frigate import FrigateBridge, parse_camera_map
    from matcher.gateway.mqtt import BrokerSettings, BrokerUnreachable, FrigateSubscriber, parse_address

    _configure_logging(args.log_level)
    try:
        cameras = parse_camera_map(args.camera or [])
        host, port = parse_address(args.mqtt)
        password = _password(args)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    problem = camera_gateway_check(client)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    bridge = FrigateBridge(client, cameras, reason=args.reason)
    settings = BrokerSettings(
        host,
        port,
        topic_prefix=args.topic_prefix,
        username=args.mqtt_username or "",
        password=password,
        tls_ca=Path(args.mqtt_ca) if args.mqtt_ca else None,
    )
    subscriber = FrigateSubscriber(settings, bridge)
    try:
        subscriber.start()
    except BrokerUnreachable as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    stop = stop_on_signals()
    log.info("checking the plates of Frigate cameras %s (Ctrl-C to stop)", ", ".join(sorted(cameras)))
    worker = threading.Thread(target=bridge.run, args=(stop,), name="plate-checks", daemon=True)
    worker.start()
    try:
        while not stop.wait(args.report_every):
            log.info("%s", bridge.counts.line())
    finally:
        subscriber.stop()
        worker.join(timeout=5)
    print(bridge.counts.line(), file=sys.stderr)
    if bridge.checks.waiting():
        print(f"stopped with {bridge.checks.waiting()} plate reads not checked", file=sys.stderr)
    return 0


def gateway(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    from matcher.cli.local import settings_of
    from matcher.gateway.camera_gateway import Gateway
    from matcher.gateway.video import Source, SourceError, open_capture
    from matcher.model_loading import Unavailable, load_pipeline, load_plate_reader

    _configure_logging(args.log_level)
    settings = settings_of(args)
    for name in ("face_detector", "face_recognizer", "plate_detector", "plate_ocr_model", "plate_ocr_config"):
        if getattr(args, name):
            setattr(settings, name, Path(getattr(args, name)))
    problem = camera_gateway_check(client)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        sources = [Source.parse(spec, replay_live=args.live) for spec in args.source or []]
        for source in sources:  # a wrong file is said before the models take seconds to load
            if "://" not in source.url:
                open_capture(source).release()
        pipeline = None if args.no_faces else load_pipeline(settings)
        reader = None if args.no_plates else load_plate_reader(settings)
        for what, loaded in (("faces", pipeline), ("plates", reader)):
            if isinstance(loaded, Unavailable):
                raise ValueError(f"cannot read {what}: {loaded.why} (or pass --no-{what})")
        assert not isinstance(pipeline, Unavailable) and not isinstance(reader, Unavailable)
        edge = Gateway(
            client,
            sources,
            pipeline=pipeline,
            plate_reader=reader,
            fps=args.fps,
            reason=args.reason,
            plate_reason=args.plate_reason,
        )
        stop = stop_on_signals()
        edge.start(stop)
    except (ValueError, SourceError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.metrics_listen:
        from matcher.gateway.gateway_metrics import serve_metrics

        serve_metrics(edge, args.metrics_listen)
    live = sys.stderr.isatty()
    drawn = 0
    last_report = time.monotonic()
    while not stop.wait(1.0) and not edge.sources_done():
        if live:
            lines = edge.lines()
            sys.stderr.write(("\x1b[F" * drawn) + "".join(f"\x1b[K{line}\n" for line in lines))
            sys.stderr.flush()
            drawn = len(lines)
        elif time.monotonic() - last_report >= args.report_every:
            last_report = time.monotonic()
            for line in edge.lines():
                log.info("%s", line)
    stop.set()  # files done, or Ctrl-C: stop reading, then send what is waiting
    edge.finish()
    for line in edge.lines():
        print(line, file=sys.stderr)
    return 0


def register(commands: Any) -> None:
    run = commands.add_parser(
        "gateway",
        help="read cameras (RTSP or files), send face embeddings and plate reads (as a camera gateway)",
        description="One process for one or many cameras. Faces are detected and embedded here and sent "
        "as embeddings, one sighting per appearance; plates are read here and checked as text with "
        "per-character confidences. No frame leaves this machine or is written to disk (P7).",
    )
    run.add_argument(
        "--source",
        action="append",
        metavar="CAMERA_ID=URL_OR_FILE",
        help="a registered camera and its video (rtsp://..., or a file); repeat for each camera",
    )
    run.add_argument("--fps", type=float, default=5.0, help="frames analysed per second of video (default 5)")
    run.add_argument("--live", action="store_true", help="replay files at their own pace, as cameras")
    run.add_argument("--no-faces", action="store_true", help="read plates only")
    run.add_argument("--no-plates", action="store_true", help="look for faces only")
    run.add_argument("--reason", default="exclusion-zone monitoring", help="P12: the sightings' purpose")
    run.add_argument(
        "--plate-reason",
        default="vehicle watchlist check of a city camera",
        help="P12: the purpose recorded with every plate check",
    )
    run.add_argument("--data-dir", help="where installed face models are (default ./matcher-data)")
    for name in ("face-detector", "face-recognizer", "plate-detector", "plate-ocr-model", "plate-ocr-config"):
        run.add_argument(f"--{name}", help=f"model file (default MATCHER_{name.upper().replace('-', '_')})")
    run.add_argument("--metrics-listen", help="serve Prometheus metrics at HOST:PORT")
    run.add_argument(
        "--report-every", type=float, default=60.0, help="seconds between log lines (no terminal)"
    )
    run.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    run.set_defaults(handler=gateway)

    bridge = commands.add_parser(
        "bridge", help="feed plates recognised by another system (run as a camera gateway)"
    )
    kinds = bridge.add_subparsers(dest="kind", required=True)
    frigate = kinds.add_parser(
        "frigate",
        help="check plates that a Frigate NVR recognises (MQTT) against the open cases' watchlists",
        description="Subscribes to Frigate's frigate/tracked_object_update (type lpr) and frigate/events; "
        "checks each distinct plate of a tracked object once; logs hits without the plate text. "
        "Run it as the camera gateway: --as local-camera, or --token-file / mutual TLS.",
    )
    frigate.add_argument("--mqtt", required=True, help="the broker Frigate publishes to, HOST:PORT")
    frigate.add_argument(
        "--camera",
        action="append",
        metavar="FRIGATE_NAME=CAMERA_ID",
        help="map a Frigate camera to a registered camera (repeat for each); others are refused",
    )
    frigate.add_argument(
        "--topic-prefix", default="frigate", help="Frigate's mqtt.topic_prefix (default frigate)"
    )
    frigate.add_argument("--mqtt-username")
    frigate.add_argument(
        "--mqtt-password-file", help="file holding the MQTT password (or MATCHER_MQTT_PASSWORD)"
    )
    frigate.add_argument("--mqtt-ca", help="connect over TLS, trusting this CA")
    frigate.add_argument(
        "--reason",
        default="vehicle watchlist check of a licence-plate camera (Frigate LPR)",
        help="P12: the deployment's purpose, recorded with every check",
    )
    frigate.add_argument(
        "--report-every", type=float, default=60.0, help="seconds between count lines in the log"
    )
    frigate.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    frigate.set_defaults(handler=bridge_frigate)

"""CLI commands for registered individuals (P5): cameras, zones, orders, sightings and alerts."""

from __future__ import annotations

import argparse
import signal
import sys
from datetime import UTC, datetime
from typing import Any

from matcher.cli.cases import instant
from matcher.cli.faces import ALIGNED_HELP, load_embedding, read_photo
from matcher.cli.output import Printer, as_dict, enum_name, short_time, with_reason
from matcher.client import MatcherClient

ORDER_COLS = ("ORDER", "STATE", "LABEL", "ZONES", "START", "END", "TEMPLATES", "LEGAL REFERENCE")


def order_row(order: Any) -> list[object]:
    return [
        order.name.removeprefix("orders/"),
        enum_name(order, "state"),
        order.label,
        ",".join(z.removeprefix("zones/") for z in order.zones),
        short_time(order.start_time),
        short_time(order.end_time),
        order.face_template_count,
        order.legal_reference,
    ]


def _split(text: str | None) -> list[str]:
    return [item.strip() for item in (text or "").split(",") if item.strip()]


def camera_add(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    camera = client.create_camera(args.camera, description=args.description or "", reason=args.reason)
    out.message(camera, ("CAMERA", "DESCRIPTION"), lambda c: [c.name, c.description])
    return 0


def camera_list(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    out.messages(client.list_cameras(), ("CAMERA", "DESCRIPTION"), lambda c: [c.name, c.description])
    return 0


ZONE_COLS = ("ZONE", "CAMERAS", "DESCRIPTION")


def zone_row(z: Any) -> list[object]:
    return [z.name, ",".join(c.removeprefix("cameras/") for c in z.cameras), z.description]


def zone_add(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    zone = client.create_zone(
        args.zone, _split(args.cameras), description=args.description or "", reason=args.reason
    )
    out.message(zone, ZONE_COLS, zone_row)
    return 0


def zone_cameras(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    out.message(
        client.set_zone_cameras(args.zone, _split(args.cameras), reason=args.reason), ZONE_COLS, zone_row
    )
    return 0


def zone_list(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    out.messages(client.list_zones(), ZONE_COLS, zone_row)
    return 0


def operator_zones(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    client.set_operator_zones(args.principal, _split(args.zones), reason=args.reason)
    if not out.as_json:
        print(f"{args.principal} now sees the alerts of: {args.zones or '(no zone)'}")
    return 0


def order_create(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    order = client.create_order(
        args.id or "",
        label=args.label,
        legal_reference=args.legal_reference,
        zones=_split(args.zones),
        start=args.start,
        end=args.end,
        reason=args.reason,
    )
    out.message(order, ORDER_COLS, order_row)
    return 0


def order_get(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    out.message(client.get_order(args.order), ORDER_COLS, order_row)
    return 0


def order_list(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    out.messages(client.list_orders(), ORDER_COLS, order_row)
    return 0


def order_amend(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    order = client.amend_order(
        args.order,
        legal_reference=args.legal_reference,
        zones=_split(args.zones) or None,
        end=args.end,
        reason=args.reason,
    )
    out.message(order, ORDER_COLS, order_row)
    return 0


def order_revoke(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    out.message(client.revoke_order(args.order, reason=args.reason), ORDER_COLS, order_row)
    return 0


def order_enroll(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    if args.photo:
        template = client.enroll_order_face(
            args.order, photo=read_photo(args.photo), reason=args.reason, aligned_crop=args.aligned_crop
        )
    else:
        template = client.enroll_order_face(args.order, load_embedding(args.embedding), reason=args.reason)
    out.message(template, ("TEMPLATE", "MODEL"), lambda t: [t.name, t.model])
    return 0


def sighting(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    captured = args.at or datetime.now(UTC)
    if args.photo:
        result = client.report_sighting(
            args.camera,
            captured,
            image=read_photo(args.photo),
            reason=args.reason,
            aligned_crop=args.aligned_crop,
        )
    else:
        result = client.report_sighting(
            args.camera, captured, [load_embedding(args.embedding)], reason=args.reason
        )
    if out.as_json:
        out.json(as_dict(result))
    else:
        print(f"accepted: {result.faces} face(s) checked")
    return 0


def alerts_watch(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    """The operator's console: prints alerts as they come, acknowledging each once printed."""
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    token = args.resume or ""
    print("watching alerts of your zones (Ctrl-C to stop)", file=sys.stderr)
    for alert in client.subscribe_alerts(token, timeout=args.duration):
        if out.as_json:
            out.json(as_dict(alert))
        else:
            zones = ",".join(z.removeprefix("zones/") for z in alert.zones)
            print(
                f"{short_time(alert.capture_time)}  ALERT  {alert.person_label} ({alert.order})  "
                f"at {alert.camera} [{zones}]  score {alert.score:.3f}  resume={alert.resume_token}",
                flush=True,
            )
        if not args.no_ack:
            client.ack_alert(alert.name)
    return 0


def register(commands: Any) -> None:
    cameras = commands.add_parser("cameras", help="cameras (administrators)").add_subparsers(
        dest="action", required=True
    )
    add = with_reason(cameras.add_parser("add"))
    add.add_argument("camera")
    add.add_argument("--description")
    add.set_defaults(handler=camera_add)
    cameras.add_parser("list").set_defaults(handler=camera_list)

    zones = commands.add_parser("zones", help="zones: named sets of cameras (administrators)").add_subparsers(
        dest="action", required=True
    )
    zadd = with_reason(zones.add_parser("add"))
    zadd.add_argument("zone")
    zadd.add_argument("--cameras", required=True, help="comma-separated camera ids")
    zadd.add_argument("--description")
    zadd.set_defaults(handler=zone_add)
    zset = with_reason(zones.add_parser("set-cameras"))
    zset.add_argument("zone")
    zset.add_argument("--cameras", required=True)
    zset.set_defaults(handler=zone_cameras)
    zones.add_parser("list").set_defaults(handler=zone_list)
    zops = with_reason(zones.add_parser("operator", help="the zones whose alerts an operator sees"))
    zops.add_argument("principal")
    zops.add_argument("--zones", default="")
    zops.set_defaults(handler=operator_zones)

    orders = commands.add_parser("orders", help="registered-individual orders (registry officers, P5)")
    actions = orders.add_subparsers(dest="action", required=True)
    create = with_reason(actions.add_parser("create"))
    create.add_argument("--id")
    create.add_argument("--label", required=True, help="pseudonymous label of the person")
    create.add_argument("--legal-reference", required=True, help="the court order or statute")
    create.add_argument("--zones", required=True, help="comma-separated restricted zones")
    create.add_argument("--start", required=True, type=instant)
    create.add_argument("--end", required=True, type=instant)
    create.set_defaults(handler=order_create)
    get = actions.add_parser("get")
    get.add_argument("order")
    get.set_defaults(handler=order_get)
    actions.add_parser("list").set_defaults(handler=order_list)
    amend = with_reason(actions.add_parser("amend", help="new zones or end, under a new legal reference"))
    amend.add_argument("order")
    amend.add_argument("--legal-reference", required=True)
    amend.add_argument("--zones")
    amend.add_argument("--end", type=instant)
    amend.set_defaults(handler=order_amend)
    revoke = with_reason(actions.add_parser("revoke", help="end early: data destroyed"))
    revoke.add_argument("order")
    revoke.set_defaults(handler=order_revoke)
    enrol = with_reason(actions.add_parser("enroll", help="a face of the person, under the order"))
    enrol.add_argument("order")
    source = enrol.add_mutually_exclusive_group(required=True)
    source.add_argument("--photo")
    source.add_argument("--embedding")
    enrol.add_argument("--aligned-crop", action="store_true", help=ALIGNED_HELP)
    enrol.set_defaults(handler=order_enroll)

    sight = with_reason(commands.add_parser("sighting", help="report a camera's sighting (camera gateways)"))
    sight.add_argument("camera")
    sight.add_argument("--at", type=instant, help="capture time (default now)")
    probe = sight.add_mutually_exclusive_group(required=True)
    probe.add_argument("--photo")
    probe.add_argument("--embedding")
    sight.add_argument("--aligned-crop", action="store_true", help=ALIGNED_HELP)
    sight.set_defaults(handler=sighting)

    alerts = commands.add_parser("alerts", help="zone alerts (alert operators)").add_subparsers(
        dest="action", required=True
    )
    watch = alerts.add_parser("watch", help="print alerts as they come")
    watch.add_argument("--resume", help="resume token of the last alert seen")
    watch.add_argument("--duration", type=float, help="stop after this many seconds")
    watch.add_argument("--no-ack", action="store_true", help="do not acknowledge printed alerts")
    watch.set_defaults(handler=alerts_watch)

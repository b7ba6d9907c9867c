"""P5, P7, P8: registered-individual orders, sightings routed by zone and period, zone alerts.

Time moves by the manual clock. "Not consulted" is observed on the real gallery's search counter:
a sighting that no order routes never reaches the index.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta

import grpc
import numpy as np
import pytest
from sqlalchemy import func, select

from lifecycle import order_models as o
from matcher.client import MatcherClient, MatcherError
from matcher.v1 import cases_pb2, registry_pb2, sightings_pb2
from tests.conftest import START, Harness, near, unit, wait_until

DAY = timedelta(days=1)
FACE, OTHER = unit(101), unit(202)


class World:
    def __init__(self, h: Harness) -> None:
        self.h = h
        self.admin = h.as_("local-admin")
        self.registry = h.as_("local-registry")
        self.camera = h.as_("local-camera")
        self.operator = h.as_("local-operator")
        for camera in ("cam-1", "cam-2", "cam-3", "cam-4"):
            self.admin.create_camera(camera, description=f"camera {camera}", reason="installed")
        self.admin.create_zone("park", ["cam-1", "cam-2"], description="Forest Park", reason="r")
        self.admin.create_zone("school", ["cam-2", "cam-3"], description="Central school", reason="r")
        self.admin.set_operator_zones("local-operator", ["park"], reason="park desk")

    def order(
        self,
        order_id: str,
        zones: list[str],
        *,
        face: np.ndarray = FACE,
        start: timedelta = timedelta(hours=1),
        end: timedelta = DAY,
    ) -> registry_pb2.RegistrationOrder:
        order = self.registry.create_order(
            order_id,
            label=f"RI-{order_id}",
            legal_reference="Circuit Court order 26-PO-7",
            zones=zones,
            start=START + start,
            end=START + end,
            reason="protection order",
        )
        self.registry.enroll_order_face(order_id, face, reason="photo from the order file")
        return order

    def alert_rows(self, after: int = 0) -> int:
        with self.h.app.db.transaction() as session:
            query = select(func.count()).select_from(o.Alert).where(o.Alert.id > after)
            return int(session.scalar(query) or 0)

    def last_alert(self) -> int:
        with self.h.app.db.transaction() as session:
            return int(session.scalar(select(func.max(o.Alert.id))) or 0)

    def sight(self, camera: str, at: timedelta, face: object = FACE) -> int:
        """Reports a sighting; returns the alerts it raised (stored for the operators: the camera
        itself is told only that it was accepted, issue 17)."""
        before = self.last_alert()
        result = self.camera.report_sighting(camera, START + at, [near(face, 7)])  # type: ignore[arg-type]
        assert result.accepted
        return self.alert_rows(after=before)

    def searches(self) -> int:
        return sum(g.searches for g in self.h.app.faces._galleries.values())


@pytest.fixture
def world(harness: Harness) -> World:
    return World(harness)


def test_P5_camera_inside_zone_and_period_raises_an_alert(world: World) -> None:
    world.order("o-1", ["park"])
    world.h.clock.set(START + timedelta(hours=2))
    assert world.sight("cam-1", timedelta(hours=2)) == 1
    assert world.sight("cam-1", timedelta(hours=2), face=OTHER) == 0  # somebody else
    [record] = [r for r in world.h.audit("sightings.report") if r.count == 1]
    assert "o-1" not in record.detail_json + record.resource and "cam-1" not in record.detail_json  # P8


def test_P5_camera_outside_the_zones_is_never_compared(world: World) -> None:
    world.order("o-1", ["park"])
    world.h.clock.set(START + timedelta(hours=2))
    before = world.searches()
    assert world.sight("cam-3", timedelta(hours=2)) == 0  # school camera
    assert world.sight("cam-4", timedelta(hours=2)) == 0  # in no zone
    assert world.searches() == before, "the index was consulted for a sighting no order routes"


@pytest.mark.parametrize(
    ("at", "alerts"),
    [
        (timedelta(hours=1) - timedelta(microseconds=1), 0),
        (timedelta(hours=1), 1),  # the instant of start: inside [start, end)
        (DAY - timedelta(microseconds=1), 1),
        (DAY, 0),  # the instant of end: outside
    ],
    ids=["before-start", "at-start", "just-before-end", "at-end"],
)
def test_P5_period_is_start_inclusive_end_exclusive(world: World, at: timedelta, alerts: int) -> None:
    world.order("o-1", ["park"])
    world.h.clock.set(START + at)  # the sighting arrives as it is captured
    before = world.searches()
    assert world.sight("cam-1", at) == alerts
    if not alerts:
        assert world.searches() == before, "a sighting outside the period reached the index"


def test_P5_one_camera_in_two_zones_and_overlapping_orders(world: World) -> None:
    world.order("o-park", ["park"])
    world.order("o-school", ["school"], face=OTHER)
    world.order("o-both", ["park", "school"])  # a second order for the first person
    world.h.clock.set(START + timedelta(hours=2))
    assert world.sight("cam-2", timedelta(hours=2)) == 2  # o-park and o-both, not o-school
    assert world.sight("cam-2", timedelta(hours=2), face=OTHER) == 1  # o-school
    assert world.sight("cam-3", timedelta(hours=2)) == 1  # only o-both restricts the school


def test_P5_amendment_that_shrinks_the_zones_stops_matching_there(world: World) -> None:
    world.order("o-1", ["park", "school"])
    world.h.clock.set(START + timedelta(hours=2))
    assert world.sight("cam-1", timedelta(hours=2)) == 1
    with pytest.raises(MatcherError) as error:
        world.registry.amend_order("o-1", legal_reference="", zones=["school"], reason="r")
    assert error.value.reason == "ORDER_INVALID"  # an amendment needs its own legal reference
    world.registry.amend_order("o-1", legal_reference="Amended order 26-PO-7/A", zones=["school"], reason="r")
    assert world.sight("cam-1", timedelta(hours=2)) == 0
    assert world.sight("cam-3", timedelta(hours=2)) == 1


def test_P5_P8_revocation_destroys_templates_and_alerts(world: World) -> None:
    world.order("o-1", ["park"])
    world.h.clock.set(START + timedelta(hours=2))
    assert world.sight("cam-1", timedelta(hours=2)) == 1
    world.registry.revoke_order("o-1", reason="order vacated by the court")
    assert world.sight("cam-1", timedelta(hours=2)) == 0
    h = world.h
    assert wait_until(lambda: all(p.state == p.DONE for p in h.client.list_purges()))
    [purge] = [p for p in h.client.list_purges() if p.order]
    assert (purge.order, cases_pb2.Purge.Trigger.Name(purge.trigger)) == ("orders/o-1", "ORDER_REVOKED")
    assert (purge.face_template_count, purge.alert_count) == (1, 1)
    assert world.registry.get_order("o-1").face_template_count == 0
    assert registry_pb2.RegistrationOrder.State.Name(world.registry.get_order("o-1").state) == "REVOKED"
    assert list(_replay(world.operator)) == []  # the alert went with the order (P8)


def test_P5_end_of_period_purges_and_late_sightings_do_not_match(world: World) -> None:
    world.order("o-1", ["park"])
    h = world.h
    h.clock.set(START + timedelta(hours=2))
    assert world.sight("cam-1", timedelta(hours=2)) == 1
    h.clock.set(START + DAY)  # the worker wakes at the order's end
    assert wait_until(
        lambda: any(p.order == "orders/o-1" and p.state == p.DONE for p in h.client.list_purges())
    )
    # Captured before the end, arriving after the purge: no match, the index not consulted.
    before = world.searches()
    assert world.sight("cam-1", DAY - timedelta(minutes=5)) == 0
    assert world.searches() == before
    receipt = [r for r in h.audit("purge.receipt") if r.resource == "orders/o-1"]
    assert len(receipt) == 1 and receipt[0].code == "order_ended"


def test_P5_ended_order_never_matches_even_before_the_worker_runs(world: World) -> None:
    world.order("o-1", ["park"])
    h = world.h
    h.app.worker.stop()  # the worker lags: the query-time check alone must refuse
    h.clock.set(START + DAY + timedelta(seconds=1))
    assert world.sight("cam-1", DAY - timedelta(minutes=1)) == 0


def test_capture_time_too_far_in_the_future_is_refused(world: World) -> None:
    world.order("o-1", ["park"])
    world.h.clock.set(START + timedelta(hours=2))
    with pytest.raises(MatcherError) as error:
        world.sight("cam-1", timedelta(hours=2, minutes=3))
    assert (error.value.code, error.value.reason) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "CAPTURE_TIME_IN_FUTURE",
    )
    assert world.sight("cam-1", timedelta(hours=2, minutes=1)) == 1  # within the 120 s tolerance


def test_order_needs_legal_reference_zones_and_period(world: World) -> None:
    with pytest.raises(MatcherError) as error:
        world.registry.create_order(
            "bad", label="x", legal_reference="", zones=[], start=START, end=START, reason="r"
        )
    assert (error.value.code, error.value.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "ORDER_INVALID")
    with pytest.raises(MatcherError) as error:
        world.registry.create_order(
            "bad",
            label="x",
            legal_reference="Order",
            zones=["nowhere"],
            start=START,
            end=START + DAY,
            reason="r",
        )
    assert error.value.reason == "ZONE_NOT_FOUND"
    assert world.registry.list_orders() == []


def _replay(client: MatcherClient, token: str = "") -> Iterator[sightings_pb2.Alert]:
    """What a (re)connecting operator receives before live alerts: read with a short deadline."""
    return client.subscribe_alerts(token, timeout=1.5)


def test_P5_subscriber_gets_live_alerts_resumes_and_acknowledges(world: World) -> None:
    world.order("o-1", ["park"])
    world.h.clock.set(START + timedelta(hours=2))
    received: list[sightings_pb2.Alert] = []

    def listen() -> None:
        for alert in world.operator.subscribe_alerts(timeout=4):
            received.append(alert)

    listener = threading.Thread(target=listen)
    listener.start()
    assert wait_until(lambda: any(r.action == "alerts.watch" for r in world.h.audit("alerts.watch")))
    assert world.sight("cam-1", timedelta(hours=2)) == 1
    assert wait_until(lambda: len(received) == 1)
    listener.join()
    # The operator's delivery-lag metric timed the live delivery (a replay is not "live").
    registry = world.h.app.metrics.registry
    assert registry.get_sample_value("matcher_alert_delivery_lag_seconds_count") == 1
    first = received[0]
    assert (first.order, first.person_label, first.camera, list(first.zones)) == (
        "orders/o-1",
        "RI-o-1",
        "cameras/cam-1",
        ["zones/park"],
    )
    # Disconnected: another alert arrives; reconnecting replays both (none acknowledged yet).
    assert world.sight("cam-2", timedelta(hours=2, minutes=1)) == 1
    replay = list(_replay(world.operator, first.resume_token))
    assert [a.camera for a in replay] == ["cameras/cam-1", "cameras/cam-2"]
    world.operator.ack_alert(first.name)
    assert [a.camera for a in _replay(world.operator, first.resume_token)] == ["cameras/cam-2"]
    world.operator.ack_alert(replay[1].name)
    assert list(_replay(world.operator, replay[1].resume_token)) == []


def test_P5_operator_of_another_zone_does_not_see_the_alert(world: World) -> None:
    world.order("o-1", ["park"])
    world.admin.set_operator_zones("local-operator", ["school"], reason="moved to the school desk")
    world.h.clock.set(START + timedelta(hours=2))
    assert world.sight("cam-1", timedelta(hours=2)) == 1
    assert list(_replay(world.operator)) == []
    with pytest.raises(MatcherError) as error:
        world.operator.ack_alert("alerts/1")
    assert error.value.reason == "ALERT_NOT_FOUND"


def test_P10_only_registry_officers_write_orders_and_only_cameras_report(world: World) -> None:
    with pytest.raises(MatcherError) as error:
        world.h.client.create_order(
            "o-x", label="x", legal_reference="y", zones=["park"], start=START, end=START + DAY, reason="r"
        )
    assert error.value.code == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(MatcherError) as error:
        world.h.client.report_sighting("cam-1", START, [FACE])
    assert error.value.code == grpc.StatusCode.PERMISSION_DENIED


def test_camera_feed_stream_counts_accepted_and_refused_sightings(world: World) -> None:
    world.order("o-1", ["park"])
    world.h.clock.set(START + timedelta(hours=2))

    def feed() -> Iterator[sightings_pb2.Sighting]:
        from matcher.client import _timestamp, embedding

        for minutes, face in [(0, FACE), (1, OTHER), (2, FACE), (30, FACE)]:  # the last: 28 min ahead
            yield sightings_pb2.Sighting(
                camera="cameras/cam-1",
                capture_time=_timestamp(START + timedelta(hours=2, minutes=minutes)),
                faces=[embedding(near(face, minutes))],
                reason="feed",
            )

    summary = world.camera.stream_sightings(feed())
    assert (summary.sightings, summary.faces, summary.accepted, summary.refused) == (4, 3, 3, 1)
    assert summary.first_refusal == "CAPTURE_TIME_IN_FUTURE"
    assert [(r.index, r.reason) for r in summary.refusals] == [(3, "CAPTURE_TIME_IN_FUTURE")]
    assert world.alert_rows() == 2  # raised for the operators, not told to the camera (issue 17)


def test_cli_registry_officer_and_operator_console(
    harness: Harness, capsys: pytest.CaptureFixture[str], tmp_path: object
) -> None:
    from matcher.cli import main

    def cli(principal: str, *args: str) -> tuple[int, str]:
        token = str(harness.data_dir / "tokens" / f"{principal}.token")
        code = main(["--target", harness.target, "--token-file", token, *args])
        return code, capsys.readouterr().out

    face = tmp_path / "face.npy"  # type: ignore[operator]
    np.save(face, FACE)
    assert cli("local-admin", "cameras", "add", "cam-1", "--reason", "installed")[0] == 0
    assert cli("local-admin", "zones", "add", "park", "--cameras", "cam-1", "--reason", "r")[0] == 0
    assert (
        cli("local-admin", "zones", "operator", "local-operator", "--zones", "park", "--reason", "r")[0] == 0
    )
    code, out = cli(
        "local-registry",
        "orders",
        "create",
        "--id",
        "o-1",
        "--label",
        "RI-7",
        "--legal-reference",
        "Order 7",
        "--zones",
        "park",
        "--start",
        "2026-03-01T09:00Z",
        "--end",
        "2026-03-08T09:00Z",
        "--reason",
        "r",
    )
    assert code == 0 and "ACTIVE" in out and "park" in out
    assert cli("local-registry", "orders", "enroll", "o-1", "--embedding", str(face), "--reason", "r")[0] == 0
    code, out = cli(
        "local-camera",
        "sighting",
        "cam-1",
        "--at",
        "2026-03-01T09:00Z",
        "--embedding",
        str(face),
        "--reason",
        "feed",
    )
    assert code == 0 and "accepted: 1 face(s) checked" in out and "alert" not in out
    code, out = cli("local-operator", "alerts", "watch", "--duration", "1.5")
    assert code == 0 and "ALERT  RI-7 (orders/o-1)  at cameras/cam-1 [park]" in out
    code, out = cli("local-operator", "alerts", "watch", "--duration", "1")
    assert "ALERT" not in out  # acknowledged by the console the first time


def test_P5_P8_registry_officer_sees_the_receipts_of_orders_never_of_cases(world: World) -> None:
    """Issue 10: the registry officer was refused ``purge.list`` altogether (citing P11)."""
    h = world.h
    world.order("o-1", ["park"])
    h.client.create_case("c-1", "Burglary", reason="opened")
    h.client.create_subject("c-1", "poi-1", "poi", label="POI-1", reason="seen")
    h.client.close_case("c-1", reason="charges filed")
    world.registry.revoke_order("o-1", reason="order vacated by the court")
    assert wait_until(
        lambda: len(h.client.list_purges()) == 2 and all(p.state == p.DONE for p in h.client.list_purges())
    )

    mine = world.registry.list_purges()  # every receipt the officer may see: the order's only
    assert [(p.order, p.case, p.state) for p in mine] == [("orders/o-1", "", cases_pb2.Purge.DONE)]
    assert [p.order for p in world.registry.list_purges(order_id="o-1")] == ["orders/o-1"]
    with pytest.raises(MatcherError) as refused:
        world.registry.list_purges("c-1")
    assert (refused.value.code, refused.value.reason) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "ROLE_NOT_PERMITTED",
    )
    assert refused.value.rule == "P12"  # a case is not the registry's use; P11 (accounts) was wrong
    assert [p.case for p in h.client.list_purges("c-1")] == ["cases/c-1"]  # a supervisor's, as before


def test_a_resent_sighting_id_is_acknowledged_once_and_never_alerts_twice(world: World) -> None:
    """A gateway that lost its stream resends what was not confirmed: the receipt of each
    sighting_id makes the resend harmless (no second match, no second alert), and is audited.
    The gateway learns only that a sighting was a duplicate, never whether it matched."""
    world.order("o-1", ["park"])
    world.h.clock.set(START + timedelta(hours=2))
    at = START + timedelta(hours=2)

    def operator_alerts() -> int:
        return len(world.h.app.individuals.pending_alerts("local-operator", frozenset({"park"}), None))

    first = world.camera.report_sighting("cam-1", at, [near(FACE, 1)], sighting_id="gw1.0001")
    again = world.camera.report_sighting("cam-1", at, [near(FACE, 1)], sighting_id="gw1.0001")
    assert not first.duplicate and again.duplicate and operator_alerts() == 1

    def feed() -> Iterator[sightings_pb2.Sighting]:
        from matcher.client import _timestamp, embedding

        for sighting_id in ("gw1.0001", "gw1.0002", "gw1.0002", "gw1.0003"):
            yield sightings_pb2.Sighting(
                camera="cameras/cam-1",
                capture_time=_timestamp(at),
                faces=[embedding(near(FACE, 2))],
                reason="feed",
                sighting_id=sighting_id,
            )

    summary = world.camera.stream_sightings(feed())
    assert (summary.sightings, summary.duplicates) == (4, 2)
    assert operator_alerts() == 3  # 0002 and 0003: one alert each
    records = [
        json.loads(r.detail_json or "{}") | {"count": r.count} for r in world.h.audit("sightings.report")
    ]
    duplicates = [r for r in records if r.get("duplicate")]
    assert len(duplicates) == 3 and all(r["count"] == 0 for r in duplicates)
    with pytest.raises(MatcherError) as error:
        world.camera.report_sighting("cam-1", at, [FACE], sighting_id="not a valid id!")
    assert error.value.reason == "FIELD_INVALID"


def test_sighting_receipts_hold_no_face_camera_or_time_and_are_pruned_after_a_day(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import func, inspect, select

    from lifecycle import order_models as o
    from matcher import sighting_receipts

    monkeypatch.setattr(sighting_receipts, "PRUNE_EVERY", 1)
    columns = {c["name"] for c in inspect(world.h.app.db.engine).get_columns("sighting_receipts")}
    assert columns == {"pk", "principal_id", "sighting_id", "received_at"}  # P7, P8

    def receipts() -> int:
        with world.h.app.db.reading() as session:
            return int(session.scalar(select(func.count()).select_from(o.SightingReceipt)) or 0)

    world.camera.report_sighting("cam-1", START, [OTHER], sighting_id="gw.1")
    world.camera.report_sighting("cam-1", START, [OTHER], sighting_id="gw.2")
    assert receipts() == 2
    world.h.clock.advance(2 * DAY)
    world.camera.report_sighting("cam-1", START + 2 * DAY, [OTHER], sighting_id="gw.3")
    assert receipts() == 1


def test_a_camera_feed_is_stored_in_batches_each_sighting_audited_and_refused_alone(world: World) -> None:
    """Issue 12: consecutive sightings of a stream share one commit (a feed is not bound by one
    commit per frame), yet each has its own audit record, a refused one (an unregistered camera,
    found while storing as while checking) is refused alone at its index, and a sighting_id sent
    twice in the same batch is a duplicate (P5, P16)."""
    world.order("o-1", ["park"])
    at = START + timedelta(hours=2)
    world.h.clock.set(at)
    count = 200

    def feed() -> Iterator[sightings_pb2.Sighting]:
        from matcher.client import _timestamp, embedding

        for i in range(count):
            yield sightings_pb2.Sighting(
                camera="cameras/cam-9" if i == 150 else "cameras/cam-1",
                capture_time=_timestamp(at),
                faces=[embedding(near(FACE if i % 50 == 0 else OTHER, i))],
                reason="feed",
                sighting_id=f"gw.{min(i, 100) if i in (100, 101) else i}",
            )

    commits = world.h.app.db.commits
    summary = world.camera.stream_sightings(feed())
    commits = world.h.app.db.commits - commits
    assert (summary.sightings, summary.accepted, summary.refused, summary.duplicates) == (count, 199, 1, 1)
    assert [(r.index, r.reason) for r in summary.refusals] == [(150, "CAMERA_NOT_FOUND")]
    assert world.alert_rows() == 3  # sightings 0, 50 and 100 (150 was refused)
    records = world.h.audit("sightings.report")
    assert len(records) == count
    assert commits < count / 4, f"{commits} commits for {count} sightings"


def test_routing_reads_from_the_camera_not_every_active_order(world: World) -> None:
    """Issue 12: a sighting's routing starts from its camera's zones; SQLite without statistics
    would otherwise scan every active order by the state's index (1.7 ms a sighting with 1,000
    orders, the largest cost of a camera feed)."""
    if world.h.backend != "sqlite":
        pytest.skip("the query plan checked is SQLite's; PostgreSQL plans by its statistics")
    from lifecycle.orders import _ROUTE

    world.order("o-1", ["park"])
    db = world.h.app.db
    compiled = _ROUTE.compile(dialect=db.engine.dialect)
    params = [compiled.params[name] for name in compiled.positiontup or []]
    with db.reading() as session:
        plan = [
            row[3]
            for row in session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", tuple(params))
        ]
    assert "zone_cameras" in plan[0] and "camera_id" in plan[0], plan
    assert not any("ix_orders_state" in step for step in plan), plan
    routes = world.h.app.individuals.registry.route
    with db.reading() as session:
        assert [r.order_id for r in routes(session, "cam-1", START + timedelta(hours=2))] == ["o-1"]

"""P6 through the real server: presence, never identity, during a declared emergency.

The Director of Health or Human Services declares an emergency for zones and a period; a health
official then counts the faces a camera of those zones sees. The server runs the generated ONNX
models through insightface and onnxruntime for real; that the recogniser never runs is observed on
the real onnxruntime sessions (their ``run`` calls counted, each still executing), and that nothing
is stored on the row counts of every table of the system of record.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import cv2
import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import func, select

from lifecycle.db import Base
from matcher.cli import main
from matcher.client import MatcherClient, MatcherError
from matcher.faces import synthetic as syn
from matcher.v1 import audit_pb2, presence_pb2
from tests.conftest import START, Harness, open_case_with_subject

DAY = timedelta(days=1)
OK, REFUSED = audit_pb2.AuditRecord.OK, audit_pb2.AuditRecord.REFUSED
CENTRES = [(96, 96), (320, 320), (544, 544)]


def _frame(faces: int) -> bytes:
    image = np.full((640, 640, 3), 128, dtype=np.uint8)
    for seed, centre in enumerate(CENTRES[:faces]):
        syn.paint(image, centre, syn.face_texture(seed + 40))
    ok, data = cv2.imencode(".png", image)
    assert ok
    return data.tobytes()


class World:
    """Cameras in two zones, the health director and a health official (approved by the head)."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.admin = h.as_("local-admin")
        for camera in ("cam-1", "cam-2"):
            self.admin.create_camera(camera, description=camera, reason="installed")
        self.admin.create_zone("shelters", ["cam-1"], description="Cooling centres", reason="r")
        self.admin.create_zone("market", ["cam-2"], description="Market square", reason="r")
        self.director = self._principal("dir-health", "health", "health_director")
        self.official = self._principal("health-1", "local", "health_official")
        h.as_("local-head").revalidate("health-1", reason="yearly approval (P11)")

    def _principal(self, principal_id: str, department: str, role: str) -> MatcherClient:
        self.admin.create_principal(
            principal_id, display_name=principal_id, department=department, reason="r"
        )
        self.admin.grant_role(principal_id, role, reason="appointed")
        self.h.app.auth.issue(principal_id, self.h.data_dir / "tokens" / f"{principal_id}.token")
        return self.h.as_(principal_id)

    def declare(self, zones: tuple[str, ...] = ("shelters",), **kwargs: Any) -> Any:
        kwargs.setdefault("end", START + DAY)
        kwargs.setdefault("reason", "heat advisory, cooling centres open")
        return self.director.declare_emergency("Heat wave: cooling centres", list(zones), **kwargs)

    def count(self, camera: str = "cam-1", faces: int = 3) -> Any:
        return self.official.count_people(camera, _frame(faces), reason="are the shelters occupied?")

    def refused(self, call: Callable[[], object]) -> MatcherError:
        with pytest.raises(MatcherError) as error:
            call()
        return error.value

    def rows(self) -> dict[str, int]:
        """Rows of every table but the audit log's: what the system of record holds."""
        with self.h.app.db.reading() as session:
            return {
                table.name: int(session.scalar(select(func.count()).select_from(table)) or 0)
                for table in Base.metadata.sorted_tables
                if not table.name.startswith("audit")
            }


@pytest.fixture
def world(face_harness: Harness) -> World:
    return World(face_harness)


@contextmanager
def session_runs(h: Harness) -> Iterator[dict[str, int]]:
    """Counts the ``run`` calls of the pipeline's real onnxruntime sessions (each still runs):
    the detector's, one per input size (insightface's pool), and the recogniser's."""
    pipeline = h.app.pipeline
    detector_pool = pipeline._detector._resolution_session_pool  # type: ignore[union-attr]
    sessions = [
        ("detector", session) for session in {id(s): s for s in detector_pool.snapshot().values()}.values()
    ]
    sessions.append(("recognizer", pipeline._recognizer.session))  # type: ignore[union-attr]
    runs = {"detector": 0, "recognizer": 0}
    originals = [session.run for _, session in sessions]

    def counting(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            runs[name] += 1
            return original(*args, **kwargs)

        return run

    for (name, session), original in zip(sessions, originals, strict=True):
        session.run = counting(name, original)
    try:
        yield runs
    finally:
        for (_, session), original in zip(sessions, originals, strict=True):
            session.run = original


def test_P6_count_during_a_declared_emergency_runs_the_detector_only_and_stores_nothing(
    world: World,
) -> None:
    emergency = world.declare()
    assert (emergency.state, list(emergency.zones)) == ("active", ["zones/shelters"])
    before = world.rows()
    with session_runs(world.h) as runs:
        answer = world.count(faces=3)
        assert (answer.count, answer.emergency) == (3, emergency.name)
        assert world.count(faces=0).count == 0
        assert runs["detector"] > 0 and runs["recognizer"] == 0  # P6: never who
        assert world.rows() == before  # nothing of the frames is kept
        # The same spy sees the recogniser when a photo is searched: it would have seen it above.
        open_case_with_subject(world.h)
        world.h.client.search_faces_photo(["c-1"], _frame(1), reason="control")
        assert runs["recognizer"] > 0
    records = world.h.audit("presence.count")
    assert [(r.resource, r.count, r.outcome) for r in records] == [
        (emergency.name, 3, OK),
        (emergency.name, 0, OK),
    ]
    for record in records:  # the count only: no camera, nothing that places anybody (P8)
        assert "cam-1" not in record.resource + record.detail_json
        detail = json.loads(record.detail_json)
        detail.pop("peer")  # the caller's address, on every record
        assert detail == {"rule": "P6"}


def test_P6_count_is_refused_outside_an_active_emergency_and_its_zones(world: World) -> None:
    with session_runs(world.h) as runs:
        none = world.refused(world.count)
        assert (none.code, none.reason, none.rule) == (
            grpc.StatusCode.FAILED_PRECONDITION,
            "EMERGENCY_NOT_DECLARED",
            "P6",
        )
        assert "Director of Health or Human Services" in none.details
        emergency = world.declare(start=START + timedelta(hours=1))  # pending
        assert emergency.state == "pending"
        assert world.refused(world.count).reason == "EMERGENCY_NOT_DECLARED"
        world.h.clock.set(START + timedelta(hours=2))
        assert world.count().count == 3
        assert world.refused(lambda: world.count("cam-2")).reason == "EMERGENCY_NOT_DECLARED"  # other zone
        assert (
            world.refused(lambda: world.count("cam-9")).reason == "EMERGENCY_NOT_DECLARED"
        )  # no such camera
        world.h.clock.set(START + DAY)  # its end: over
        assert world.refused(world.count).reason == "EMERGENCY_NOT_DECLARED"
        assert runs["recognizer"] == 0
    records = world.h.audit("presence.count")
    assert [(r.outcome, r.code) for r in records if r.outcome == REFUSED] == [
        (REFUSED, "EMERGENCY_NOT_DECLARED"),
        (REFUSED, "EMERGENCY_NOT_DECLARED"),
        (REFUSED, "EMERGENCY_NOT_DECLARED"),
        (REFUSED, "EMERGENCY_NOT_DECLARED"),
        (REFUSED, "EMERGENCY_NOT_DECLARED"),
    ]


def test_P6_an_emergency_ended_early_stops_the_count_at_once(world: World) -> None:
    emergency = world.declare()
    assert world.count().count == 3
    ended = world.director.end_emergency(emergency.name, reason="advisory lifted")
    assert (ended.state, ended.end_reason) == ("revoked", "advisory lifted")
    assert world.refused(world.count).reason == "EMERGENCY_NOT_DECLARED"
    again = world.refused(lambda: world.director.end_emergency(emergency.name, reason="twice"))
    assert (again.code, again.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "EMERGENCY_ENDED")
    unknown = world.refused(lambda: world.director.end_emergency("emergencies/nope", reason="r"))
    assert (unknown.code, unknown.reason) == (grpc.StatusCode.NOT_FOUND, "EMERGENCY_NOT_FOUND")
    for reader in (world.director, world.official, world.h.as_("local-auditor")):
        assert [(e.name, e.state) for e in reader.list_emergencies()] == [(emergency.name, "revoked")]
    changes = [(r.action, r.outcome, r.code) for r in world.h.audit() if r.action.startswith("emergency.")]
    assert changes == [
        ("emergency.declare", OK, ""),
        ("emergency.end", OK, ""),
        ("emergency.end", REFUSED, "EMERGENCY_ENDED"),
        ("emergency.end", REFUSED, "EMERGENCY_NOT_FOUND"),
        ("emergency.list", OK, ""),
        ("emergency.list", OK, ""),
        ("emergency.list", OK, ""),
    ]


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"end": START + timedelta(days=30, seconds=1)}, "EMERGENCY_PERIOD_INVALID"),
        ({"start": START - timedelta(hours=1)}, "EMERGENCY_PERIOD_INVALID"),
        ({"end": START}, "EMERGENCY_PERIOD_INVALID"),
        ({"zones": ()}, "EMERGENCY_SCOPE_INVALID"),
        ({"zones": ("atlantis",)}, "ZONE_NOT_FOUND"),
        ({"reason": ""}, "REASON_REQUIRED"),
    ],
    ids=["31-days", "backdated", "no-period", "no-zones", "unknown-zone", "no-reason"],
)
def test_P6_a_declaration_needs_zones_a_bounded_period_and_a_reason(
    world: World, kwargs: dict[str, Any], reason: str
) -> None:
    kwargs = dict(kwargs)  # the parametrised dict is shared by both backends' runs: never mutate it
    zones = kwargs.pop("zones", ("shelters",))
    error = world.refused(lambda: world.declare(zones, **kwargs))
    assert error.reason == reason
    assert world.director.list_emergencies() == []
    [record] = [r for r in world.h.audit("emergency.declare")]
    assert (record.outcome, record.code) == (REFUSED, reason)


def test_P6_a_declaration_without_an_end_is_refused(world: World) -> None:
    request = presence_pb2.DeclareEmergencyRequest(
        emergency=presence_pb2.Emergency(title="Flood", zones=["zones/market"]), reason="river rising"
    )
    error = world.refused(lambda: world.director._call(world.director.presence.DeclareEmergency, request))
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "EMERGENCY_PERIOD_INVALID")


def test_P6_P10_only_the_director_declares_and_the_declarer_never_counts(world: World) -> None:
    for client in (world.official, world.h.client, world.admin):
        error = world.refused(
            functools.partial(client.declare_emergency, "x", ["shelters"], end=START + DAY, reason="r")
        )
        assert error.code == grpc.StatusCode.PERMISSION_DENIED
    world.declare()
    assert world.refused(lambda: world.director.count_people("cam-1", _frame(1), reason="r")).code == (
        grpc.StatusCode.PERMISSION_DENIED
    )
    mixed = world.refused(lambda: world.admin.grant_role("dir-health", "health_official", reason="both hats"))
    assert (mixed.reason, mixed.rule) == ("SEPARATION_OF_DUTIES", "P10")
    also = world.refused(lambda: world.admin.grant_role("health-1", "health_director", reason="promotion"))
    assert also.reason == "SEPARATION_OF_DUTIES"


def test_P6_health_official_still_gets_nothing_else(world: World) -> None:
    open_case_with_subject(world.h)
    world.declare()
    for call in (
        lambda: list(world.official.list_cases()),
        lambda: world.official.search_faces_photo(["c-1"], _frame(1), reason="who is there?"),
        lambda: world.official.report_sighting("cam-1", START, image=_frame(1)),
        lambda: world.official.end_emergency("emergencies/x", reason="r"),
    ):
        assert world.refused(call).code == grpc.StatusCode.PERMISSION_DENIED


def test_P6_count_without_the_face_detector_is_failed_precondition(harness: Harness) -> None:
    w = World(harness)
    w.declare()
    error = w.refused(w.count)
    assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "FACE_PIPELINE_UNAVAILABLE")
    health = health_pb2_grpc.HealthStub(harness.client._channel)

    def status(name: str) -> int:
        return int(health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5).status)

    assert status("matcher.v1.PresenceService") == health_pb2.HealthCheckResponse.NOT_SERVING
    assert status("matcher.v1.PresenceService/emergencies") == health_pb2.HealthCheckResponse.SERVING


def test_P6_presence_service_serves_with_the_face_models(world: World) -> None:
    health = health_pb2_grpc.HealthStub(world.h.client._channel)
    reply = health.Check(health_pb2.HealthCheckRequest(service="matcher.v1.PresenceService"), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_P6_cli_declare_list_count_and_end(
    world: World, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def cli(principal: str, *args: str) -> tuple[int, str, str]:
        token = world.h.data_dir / "tokens" / f"{principal}.token"
        code = main(["--target", world.h.target, "--token-file", str(token), *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    end = (START + DAY).isoformat()
    code, out, _ = cli(
        "dir-health", "--json", "emergency", "declare", "--title", "Heat wave", "--zone", "shelters",
        "--end", end, "--reason", "heat advisory",
    )  # fmt: skip
    assert code == 0
    name = json.loads(out)["name"]
    frame = tmp_path / "frame.png"
    frame.write_bytes(_frame(2))
    code, out, _ = cli(
        "health-1", "presence", "count", "--camera", "cam-1", "--photo", str(frame), "--reason", "r"
    )
    assert code == 0 and out.startswith("2 people present") and name in out
    code, out, _ = cli(
        "health-1", "--json", "presence", "count", "--camera", "cam-1", "--photo", str(frame), "--reason", "r"
    )
    assert code == 0 and json.loads(out) == {"count": 2, "emergency": name}
    code, out, _ = cli("health-1", "emergency", "list")
    assert code == 0 and name in out and "active" in out and "shelters" in out
    code, out, _ = cli("dir-health", "emergency", "end", name, "--reason", "advisory lifted")
    assert code == 0 and "revoked" in out
    code, _, err = cli(
        "health-1", "presence", "count", "--camera", "cam-1", "--photo", str(frame), "--reason", "r"
    )
    assert code == 1 and "EMERGENCY_NOT_DECLARED" in err

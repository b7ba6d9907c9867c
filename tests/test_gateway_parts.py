"""The gateway's and the bridge's parts that need no broker, server or model: message parsing in
Frigate's documented formats, appearances, certainty, and the command-line forms."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest

from matcher.faces import DetectedFace
from matcher.gateway.appearances import Appearances
from matcher.gateway.frigate import Malformed, parse_camera_map, parse_event, parse_tracked_object_update
from matcher.gateway.mqtt import parse_address
from matcher.gateway.plate_checks import Certainty
from matcher.gateway.video import Source, redact
from tests.conftest import near, unit

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_frigate_documented_lpr_update_and_event_forms() -> None:
    update = {
        "type": "lpr",
        "id": "1607123955.475377-mxklsc",
        "name": "John's Car",
        "plate": "123ABC",
        "score": 0.95,
        "camera": "driveway_cam",
        "timestamp": 1607123958.748393,
        "plate_box": [917, 487, 1029, 529],
    }
    seen = parse_tracked_object_update(json.dumps(update).encode())
    assert seen is not None and (seen.object_id, seen.camera, seen.plate) == (
        update["id"],
        "driveway_cam",
        "123ABC",
    )
    face = {"type": "face", "id": "x", "name": "John", "score": 0.9, "camera": "c", "timestamp": 1.0}
    assert parse_tracked_object_update(json.dumps(face).encode()) is None
    after = {"id": "e-1", "camera": "front", "recognized_license_plate": "ABC 12345"}
    event = parse_event(json.dumps({"type": "end", "before": after, "after": after}).encode())
    assert event is not None and event.plate == "ABC12345" and event.ended
    pair = parse_event(
        json.dumps({"type": "update", "after": dict(after, recognized_license_plate=["AB-1", 0.9])}).encode()
    )
    assert pair is not None and pair.plate == "AB1" and not pair.ended
    for bad in (
        b"null",
        b'{"type": "lpr", "id": "a", "camera": "c", "plate": 7}',
        b'{"type": "update", "after": []}',
    ):
        with pytest.raises(Malformed):
            parse_tracked_object_update(bad) if b"lpr" in bad or bad == b"null" else parse_event(bad)


def _face(vector: np.ndarray, score: float = 0.8) -> DetectedFace:
    return DetectedFace((0, 0, 100, 100), score, np.zeros((5, 2), np.float32), vector, "m")


def test_one_sighting_per_appearance_the_best_of_its_first_samples() -> None:
    person, other = unit(1), unit(2)
    tracks = Appearances(gap=2.0, settle=3)
    assert tracks.update(0.0, NOW, [_face(near(person, 1), 0.6), _face(other, 0.9)]) == []
    assert tracks.update(0.2, NOW, [_face(near(person, 2), 0.95)]) == []
    due = tracks.update(0.4, NOW, [_face(near(person, 3), 0.7)])
    assert len(due) == 1 and due[0].score == 0.95  # the best of its three samples
    for step in range(5):  # still passing: nothing more
        assert tracks.update(0.6 + step * 0.2, NOW, [_face(near(person, 10 + step))]) == []
    # The other person was seen once and left: due when the gap passes, as one sighting.
    assert [a.score for a in tracks.update(3.0, NOW, [])] == [0.9]
    # The person comes back after the gap: a new appearance.
    for step in range(3):
        due = tracks.update(6.0 + step * 0.2, NOW, [_face(near(person, 20 + step))])
    assert len(due) == 1
    assert tracks.end() == []


def test_reads_too_uncertain_to_check_are_kept_back() -> None:
    rule = Certainty(min_confidence=0.5, max_unknown=2, min_known=4)
    assert not rule.too_uncertain((0.9,) * 7)
    assert not rule.too_uncertain((0.9, 0.2, 0.9, 0.3, 0.9, 0.9, 0.9))
    assert rule.too_uncertain((0.9, 0.2, 0.9, 0.3, 0.1, 0.9, 0.9))  # three unknown
    assert rule.too_uncertain((0.9, 0.9, 0.9, 0.2, 0.3))  # three known


def test_command_line_forms() -> None:
    assert parse_camera_map(["driveway_cam=cam-17", "gate = cameras/cam-18"]) == {
        "driveway_cam": "cam-17",
        "gate": "cam-18",
    }
    for bad in ([], ["nameonly"], ["a=b", "a=c"]):
        with pytest.raises(ValueError):
            parse_camera_map(bad)
    assert parse_address("10.0.0.5:1883") == ("10.0.0.5", 1883) and parse_address("broker") == (
        "broker",
        1883,
    )
    with pytest.raises(ValueError):
        parse_address("host:99999")
    live = Source.parse("cam-17=rtsp://user:secret@10.0.0.17/stream1")
    assert live.live and live.camera == "cam-17"
    assert redact(live.url) == "rtsp://***@10.0.0.17/stream1"
    assert not Source.parse("cam-1=/videos/a.mp4").live and Source.parse("cam-1=a.mp4", replay_live=True).live
    with pytest.raises(ValueError, match="CAMERA_ID=") as error:
        Source.parse("rtsp://user:secret@host/x")
    assert "secret" not in str(error.value)

"""The Frigate bridge against the real Mosquitto broker at 127.0.0.1:1883 and a real server.

Messages are published in Frigate's documented formats (docs/docs/integrations/mqtt.md) on a
topic prefix of the test's own, so that other users of the broker are not disturbed. Skips when
no broker answers (``.ci/run`` starts Mosquitto when it is installed).
"""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.publish as publish
import pytest

from matcher.gateway.frigate import MAX_MESSAGE_BYTES, FrigateBridge
from matcher.gateway.mqtt import BrokerSettings, FrigateSubscriber
from tests.conftest import Harness, wait_until
from tests.serverproc import REPO, free_port

BROKER = ("127.0.0.1", 1883)


def _broker_answers() -> bool:
    try:
        with socket.create_connection(BROKER, timeout=1):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not _broker_answers(), reason="no MQTT broker answers at 127.0.0.1:1883")


def send(prefix: str, kind: str, message: object) -> None:
    """Publishes like Frigate: JSON on ``PREFIX/KIND`` (bytes as they are, for broken messages)."""
    payload = message if isinstance(message, bytes) else json.dumps(message).encode()
    publish.single(f"{prefix}/{kind}", payload, qos=1, hostname=BROKER[0], port=BROKER[1])


@dataclass
class Running:
    bridge: FrigateBridge
    prefix: str

    def publish(self, kind: str, message: object) -> None:
        send(self.prefix, kind, message)

    def settle(self, messages: int) -> None:
        assert wait_until(lambda: self.bridge.counts.messages >= messages), self.bridge.counts.line()
        assert self.bridge.wait_idle(10), self.bridge.counts.line()


@pytest.fixture
def running(harness: Harness) -> Iterator[Running]:
    harness.as_("local-admin").create_camera("c1", description="gate", reason="installed")
    harness.client.create_case("c-1", "Stolen vehicles", reason="opened")
    harness.client.add_plate("c-1", "5AU 5341", reason="reported stolen")
    bridge = FrigateBridge(harness.as_("local-camera"), {"driveway_cam": "c1"})
    prefix = f"matcher-test-{uuid.uuid4().hex[:10]}"
    subscriber = FrigateSubscriber(BrokerSettings(*BROKER, topic_prefix=prefix), bridge)
    subscriber.start()
    stop = threading.Event()
    worker = threading.Thread(target=bridge.run, args=(stop,), daemon=True)
    worker.start()
    try:
        assert subscriber.subscribed.wait(10)
        yield Running(bridge, prefix)
    finally:
        stop.set()
        subscriber.stop()
        worker.join(5)


def lpr(object_id: str, plate: str, camera: str = "driveway_cam") -> dict[str, object]:
    """A License Plate Recognition update, as Frigate's documentation shows it."""
    return {
        "type": "lpr",
        "id": object_id,
        "name": None,
        "plate": plate,
        "score": 0.95,
        "camera": camera,
        "timestamp": 1607123958.748393,
        "plate_box": [917, 487, 1029, 529],
    }


def event(object_id: str, plate: object, kind: str = "update", **extra: object) -> dict[str, object]:
    """A frigate/events message of a car (trimmed to the fields the documentation lists)."""
    after = {
        "id": object_id,
        "camera": "driveway_cam",
        "frame_time": 1607123962.082975,
        "label": "car",
        "sub_label": None,
        "end_time": None if kind != "end" else 1607123970.0,
        "current_zones": ["driveway"],
        "recognized_license_plate": plate,
        **extra,
    }
    return {"type": kind, "before": dict(after, recognized_license_plate=None), "after": after}


def test_frigate_plates_hit_and_miss_as_the_watchlists_say_each_plate_of_an_object_once(
    running: Running, harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    running.publish("tracked_object_update", lpr("1607123955.475377-mxklsc", "5AU5341"))
    running.publish("tracked_object_update", lpr("1607123955.475377-mxklsc", "5AU 5341"))  # refined again
    running.publish("tracked_object_update", lpr("1607123999.000001-other", "XYZ999"))
    # frigate/events: the documented string form, then the [plate, score] pair Frigate's code sends.
    running.publish("events", event("1607124000.1-abc", "5AU5341", recognized_license_plate_score=0.93))
    running.publish("events", event("1607124000.2-def", ["5AU5341", 0.91]))
    running.publish("events", event("1607124000.2-def", ["5AU5341", 0.91], kind="end"))
    running.publish("events", event("1607124000.3-ghi", None, kind="new"))  # a car not yet read
    running.publish("tracked_object_update", {"type": "description", "id": "x", "description": "a red car"})
    running.settle(8)
    counts = running.bridge.counts
    assert (counts.checked, counts.hits, counts.misses) == (4, 3, 1), counts.line()
    assert counts.duplicates == 2 and counts.malformed == 0, counts.line()
    records = harness.audit("plates.check")
    assert len(records) == 4 and sorted(r.count for r in records) == [0, 1, 1, 1]
    assert all(r.actor == "local-camera" and "cameras/c1" in r.detail_json for r in records)
    # Hits are logged, and no log line, audit record or count carries a plate (P7, P8).
    assert sum("watchlist hit on camera c1" in r.getMessage() for r in caplog.records) == 3
    seen = " ".join(r.getMessage() for r in caplog.records) + " ".join(r.detail_json for r in records)
    assert "5AU" not in seen and "XYZ999" not in seen


def test_malformed_and_oversized_messages_are_counted_and_dropped_and_the_bridge_goes_on(
    running: Running,
) -> None:
    bad: list[tuple[str, object]] = [
        ("tracked_object_update", b"\xff\xfe not json"),
        ("tracked_object_update", b"[1, 2, 3]"),
        ("tracked_object_update", {"id": "no-type", "plate": "5AU5341"}),
        ("tracked_object_update", {"type": "lpr", "id": "a", "camera": "driveway_cam"}),  # no plate
        ("tracked_object_update", lpr("b", "5AU-53<41>")),  # not a plate
        ("tracked_object_update", dict(lpr("c", "5AU5341"), score="high")),
        ("tracked_object_update", dict(lpr("d", "5AU5341"), id=["list"])),
        ("events", {"type": "update"}),
        ("events", event("e", ["5AU5341"])),
        ("events", b"{" * 100_000),  # deep nesting: must not crash the parser
    ]
    for kind, message in bad:
        running.publish(kind, message)
    running.publish("tracked_object_update", b"x" * (MAX_MESSAGE_BYTES + 1))
    running.publish("tracked_object_update", lpr("good", "5AU5341"))
    running.settle(len(bad) + 2)
    counts = running.bridge.counts
    assert counts.malformed == len(bad) and counts.oversized == 1, counts.line()
    assert (counts.checked, counts.hits) == (1, 1), counts.line()


def test_unmapped_frigate_camera_is_refused_loudly_once_and_not_checked(
    running: Running, harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    running.publish("tracked_object_update", lpr("o1", "5AU5341", camera="back_yard"))
    running.publish("tracked_object_update", lpr("o2", "5AU5341", camera="back_yard"))
    running.settle(2)
    assert running.bridge.counts.unmapped == 2 and running.bridge.counts.checked == 0
    refusals = [r for r in caplog.records if "'back_yard' is not mapped" in r.getMessage()]
    assert len(refusals) == 1 and refusals[0].levelno == logging.ERROR
    assert harness.audit("plates.check") == []


def test_bridge_command_refuses_a_broker_that_does_not_answer_and_a_bad_camera_map(harness: Harness) -> None:
    command = [sys.executable, "-m", "matcher.cli", "--target", harness.target, "bridge", "frigate"]
    env = {"PATH": "/usr/bin:/bin", "MATCHER_TOKEN": harness.token("local-camera")}
    closed = subprocess.run(
        [*command, "--mqtt", f"127.0.0.1:{free_port()}", "--camera", "a=c1"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=60,
    )
    assert closed.returncode == 2 and "is not answering" in closed.stderr, closed.stderr
    unmapped = subprocess.run(
        [*command, "--mqtt", "127.0.0.1:1883", "--camera", "just-a-name"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=60,
    )
    assert unmapped.returncode == 2 and "FRIGATE_CAMERA=REGISTERED_CAMERA_ID" in unmapped.stderr
    investigator = subprocess.run(
        [*command, "--mqtt", "127.0.0.1:1883", "--camera", "a=c1"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=dict(env, MATCHER_TOKEN=harness.token("local-investigator")),
        timeout=60,
    )
    assert (
        investigator.returncode == 2 and "local-investigator is not a camera gateway" in investigator.stderr
    )
    assert "Traceback" not in closed.stderr + unmapped.stderr + investigator.stderr


def test_plates_read_while_the_service_is_away_are_checked_when_it_comes_back(tmp_path: Path) -> None:
    from matcher.client import MatcherClient
    from tests.serverproc import ServerProcess

    data = tmp_path / "data"
    server = ServerProcess(
        data, f"sqlite:///{data / 'matcher.db'}", tmp_path / "clock", tmp_path / "server.log"
    )
    server.set_clock(datetime.now(UTC))
    server.start()
    stop = threading.Event()
    try:
        server.wait_serving()
        investigator = server.client()
        investigator.create_case("c-1", "Stolen vehicles", reason="opened")
        investigator.add_plate("c-1", "5AU5341", reason="reported stolen")
        camera = MatcherClient.connect(
            f"127.0.0.1:{server.port}", token_file=data / "tokens" / "local-camera.token"
        )
        bridge = FrigateBridge(camera, {"driveway_cam": "c1"}, max_backoff=1.0)
        prefix = f"matcher-test-{uuid.uuid4().hex[:10]}"
        subscriber = FrigateSubscriber(BrokerSettings(*BROKER, topic_prefix=prefix), bridge)
        subscriber.start()
        worker = threading.Thread(target=bridge.run, args=(stop,), daemon=True)
        worker.start()
        assert subscriber.subscribed.wait(10)
        running = Running(bridge, prefix)
        server.stop()
        running.publish("tracked_object_update", lpr("o-1", "5AU5341"))
        assert wait_until(lambda: bridge.checks.counts.retries >= 2), bridge.counts.line()
        assert bridge.counts.checked == 0
        server.start()
        server.wait_serving()
        assert bridge.wait_idle(30) and (bridge.counts.checked, bridge.counts.hits) == (1, 1), (
            bridge.counts.line()
        )
        subscriber.stop()
        camera.close()
    finally:
        stop.set()
        server.stop()


def test_bridge_command_end_to_end_logs_the_hit_without_the_plate_and_stops_on_sigterm(
    harness: Harness, tmp_path: Path
) -> None:
    import signal
    import time

    harness.client.create_case("c-1", "Stolen vehicles", reason="opened")
    harness.client.add_plate("c-1", "5AU5341", reason="reported stolen")
    prefix = f"matcher-test-{uuid.uuid4().hex[:10]}"
    log = tmp_path / "bridge.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "matcher.cli",
                "--target",
                harness.target,
                "bridge",
                "frigate",
                "--mqtt",
                "127.0.0.1:1883",
                "--camera",
                "driveway_cam=c1",
                "--topic-prefix",
                prefix,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env={"PATH": "/usr/bin:/bin", "MATCHER_TOKEN": harness.token("local-camera")},
        )
    try:
        assert wait_until(lambda: "subscribing to" in log.read_text(), timeout=60), log.read_text()
        time.sleep(0.5)  # the broker acknowledges the subscription
        send(prefix, "tracked_object_update", lpr("o-1", "5AU5341"))
        assert wait_until(lambda: "watchlist hit on camera c1" in log.read_text(), timeout=30), (
            log.read_text()
        )
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    text = log.read_text()
    assert code == 0 and "messages 1, checked 1, hits 1" in text, text
    assert "5AU" not in text and "Traceback" not in text

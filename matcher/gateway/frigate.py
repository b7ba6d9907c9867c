"""The Frigate bridge: plates recognised by a Frigate NVR, checked against the open cases' watchlists.

Frigate (https://docs.frigate.video, ``docs/docs/integrations/mqtt.md``) publishes a recognised
plate in two places, both read here:

- ``frigate/tracked_object_update`` with ``"type": "lpr"``: ``id`` (the tracked object),
  ``camera``, ``plate``, ``score``, ``timestamp``, ``name`` (a known plate's name; unused);
- ``frigate/events``: ``after.recognized_license_plate`` of a car's tracked object, with ``type``
  ``new``/``update``/``end``. The documentation shows a string (with a separate
  ``recognized_license_plate_score``); Frigate's code (``TrackedObject.to_dict``) sends the
  ``[plate, score]`` pair it keeps internally. Both are accepted.

Each Frigate camera is mapped to a registered camera (``--camera front_door=C1``); a camera
without a mapping is refused loudly, once, and its plates are not checked. Each distinct plate
of a tracked object is checked once (Frigate refines a plate and republishes it many times), as
the camera gateway, against the watchlists of every open case. A hit is logged without the plate
text. Malformed and oversized messages are counted and dropped; the bridge keeps running. While
the service is unreachable, reads wait in a bounded queue (the oldest are dropped and counted)
and are tried again with back-off.

P7: plates that match nothing are not kept. The bridge remembers, per live tracked object, only
keyed digests of the plates it already checked (the key is random and never leaves the process),
and forgets the object when Frigate ends it or when it is among the oldest of too many.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import secrets
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from matcher.client import MatcherClient
from matcher.gateway.plate_checks import CheckCounts, CheckQueue, PlateCheck
from matcher.plates import PlateError
from matcher.plates.text import normalize_plate

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 256 * 1024
"""Frigate's largest messages (``frigate/events`` with a path) are a few kilobytes."""
MAX_FIELD_CHARS = 128
MAX_TRACKED_OBJECTS = 4096
DEFAULT_REASON = "vehicle watchlist check of a licence-plate camera (Frigate LPR)"


class Malformed(ValueError):
    """A message that is not in Frigate's documented format; ``kind`` says what was wrong."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class FrigatePlate:
    """What the bridge takes from one Frigate message. ``plate`` is normalised, or None when the
    message carries none (a car before its plate is read); ``ended``: Frigate ended the object."""

    object_id: str
    camera: str
    plate: str | None
    ended: bool = False


def _json_object(payload: bytes) -> dict[str, Any]:
    try:
        value = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise Malformed("json", "the message is not JSON") from None
    if not isinstance(value, dict):
        raise Malformed("json", "the message is not a JSON object")
    return value


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_FIELD_CHARS:
        raise Malformed("field", f"{what} must be a string of 1-{MAX_FIELD_CHARS} characters")
    return value


def _plate(value: object) -> str:
    if not isinstance(value, str) or len(value) > MAX_FIELD_CHARS:
        raise Malformed("plate", "the plate must be a string")
    try:
        return normalize_plate(value)
    except PlateError:
        raise Malformed("plate", "the plate is not a licence plate (letters and digits)") from None


def _score(value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Malformed("field", "a score must be a number")


def parse_tracked_object_update(payload: bytes) -> FrigatePlate | None:
    """A ``tracked_object_update`` message: the plate of an ``lpr`` update, None for other types
    (descriptions, faces, classifications)."""
    message = _json_object(payload)
    kind = message.get("type")
    if not isinstance(kind, str):
        raise Malformed("field", "the update has no type")
    if kind != "lpr":
        return None
    _score(message.get("score"))
    return FrigatePlate(
        _text(message.get("id"), "id"), _text(message.get("camera"), "camera"), _plate(message.get("plate"))
    )


def parse_event(payload: bytes) -> FrigatePlate | None:
    """A ``frigate/events`` message: the tracked object's recognised plate, if any."""
    message = _json_object(payload)
    kind = message.get("type")
    after = message.get("after")
    if kind not in ("new", "update", "end") or not isinstance(after, dict):
        raise Malformed("field", "an event needs type new, update or end and an 'after' object")
    object_id = _text(after.get("id"), "id")
    camera = _text(after.get("camera"), "camera")
    raw = after.get("recognized_license_plate")
    if isinstance(raw, list):  # what Frigate's code sends: [plate, score]
        if len(raw) != 2:
            raise Malformed("plate", "recognized_license_plate must be a plate or [plate, score]")
        raw, score = raw
        _score(score)
    else:
        _score(after.get("recognized_license_plate_score"))
    plate = None if raw is None else _plate(raw)
    if plate is None and kind != "end":
        return None
    return FrigatePlate(object_id, camera, plate, ended=kind == "end")


PARSERS = {"tracked_object_update": parse_tracked_object_update, "events": parse_event}


@dataclass
class BridgeCounts:
    """What the bridge did since it started (for its periodic log line)."""

    service: CheckCounts
    messages: int = 0
    oversized: int = 0
    malformed: int = 0
    unmapped: int = 0
    duplicates: int = 0
    malformed_kinds: dict[str, int] = field(default_factory=dict)

    @property
    def checked(self) -> int:
        return self.service.checked

    @property
    def hits(self) -> int:
        return self.service.hits

    @property
    def misses(self) -> int:
        return self.service.misses

    def line(self) -> str:
        service = self.service
        return (
            f"messages {self.messages}, checked {self.checked}, hits {self.hits}, misses {self.misses}, "
            f"duplicates {self.duplicates}, unmapped {self.unmapped}, malformed {self.malformed}, "
            f"oversized {self.oversized}, refused {service.refused}, dropped {service.dropped}, "
            f"retries {service.retries}"
        )


def parse_camera_map(pairs: list[str]) -> dict[str, str]:
    """``frigate_name=camera_id`` pairs into a mapping; ValueError says which pair is wrong."""
    cameras: dict[str, str] = {}
    for pair in pairs:
        name, sep, camera = pair.partition("=")
        if not sep or not name.strip() or not camera.strip():
            raise ValueError(f"--camera {pair!r}: write FRIGATE_CAMERA=REGISTERED_CAMERA_ID")
        if name.strip() in cameras:
            raise ValueError(f"--camera: Frigate camera {name.strip()!r} is mapped twice")
        cameras[name.strip()] = camera.strip().removeprefix("cameras/")
    if not cameras:
        raise ValueError("map at least one Frigate camera to a registered camera: --camera NAME=ID")
    return cameras


class FrigateBridge:
    """Turns Frigate's messages into plate checks; ``receive`` never raises (MQTT's thread calls
    it), ``run`` does the checks on its own thread until ``stop`` is set."""

    def __init__(
        self,
        client: MatcherClient,
        cameras: Mapping[str, str],
        *,
        reason: str = DEFAULT_REASON,
        queue_size: int = 1024,
        max_backoff: float = 30.0,
    ) -> None:
        self._cameras = dict(cameras)
        self._key = secrets.token_bytes(32)
        self._seen: OrderedDict[str, set[bytes]] = OrderedDict()
        self._refused_cameras: set[str] = set()
        self._warned: set[str] = set()
        self._lock = threading.Lock()
        self.checks = CheckQueue(client, reason, size=queue_size, max_backoff=max_backoff)
        self.counts = BridgeCounts(self.checks.counts)

    # --- the MQTT side ---------------------------------------------------------------------

    def receive(self, kind: str, payload: bytes) -> None:
        """One message of topic ``kind`` (``tracked_object_update`` or ``events``)."""
        with self._lock:
            self.counts.messages += 1
            if len(payload) > MAX_MESSAGE_BYTES:
                self.counts.oversized += 1
                self._warn_once(
                    "oversized", f"dropped a message of {len(payload)} bytes (limit {MAX_MESSAGE_BYTES})"
                )
                return
            try:
                seen = PARSERS[kind](payload)
            except Malformed as error:
                self.counts.malformed += 1
                self.counts.malformed_kinds[error.kind] = self.counts.malformed_kinds.get(error.kind, 0) + 1
                self._warn_once(f"malformed:{error.kind}", f"dropped a malformed {kind} message: {error}")
                return
            if seen is None:
                return
            camera = self._cameras.get(seen.camera)
            if camera is None:
                self.counts.unmapped += 1
                if seen.camera not in self._refused_cameras:
                    self._refused_cameras.add(seen.camera)
                    log.error(
                        "Frigate camera %r is not mapped to a registered camera: its plates are NOT "
                        "checked; add --camera %s=CAMERA_ID (said once per camera)",
                        seen.camera[:MAX_FIELD_CHARS],
                        seen.camera[:MAX_FIELD_CHARS],
                    )
                return
            if seen.plate is not None:
                self._offer(seen, camera)
            if seen.ended:
                self._seen.pop(seen.object_id, None)

    def _offer(self, seen: FrigatePlate, camera: str) -> None:
        assert seen.plate is not None
        digest = hmac.new(self._key, seen.plate.encode(), hashlib.sha256).digest()[:16]
        plates = self._seen.get(seen.object_id)
        if plates is None:
            plates = self._seen[seen.object_id] = set()
            while len(self._seen) > MAX_TRACKED_OBJECTS:
                self._seen.popitem(last=False)
        else:
            self._seen.move_to_end(seen.object_id)
        if digest in plates:
            self.counts.duplicates += 1
            return
        plates.add(digest)
        if not self.checks.offer(PlateCheck(seen.plate, None, camera)):
            self._warn_once("dropped", "the service is behind: dropping the oldest waiting plate reads")

    def _warn_once(self, key: str, message: str) -> None:
        """The first of each kind of problem at WARNING, the rest at DEBUG (the counts show them)."""
        level = logging.DEBUG if key in self._warned else logging.WARNING
        self._warned.add(key)
        log.log(level, "%s", message)

    # --- the service side ------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Checks queued reads until ``stop`` is set; waits out an unreachable service."""
        self.checks.run(stop)

    def wait_idle(self, timeout: float) -> bool:
        return self.checks.wait_idle(timeout)

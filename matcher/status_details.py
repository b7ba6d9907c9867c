"""Reading a refusal's details on the client side (AIP-193): the service's ``ErrorInfo``.

Kept apart from the service's transport so that the client library imports nothing of the
server: a refusal arrives as ``google.rpc.Status`` in the trailing metadata, with one
``ErrorInfo`` whose reason is a name of ``matcher.v1.ErrorReason`` and whose metadata names the
policy rule and, for photos, what the detector saw: :func:`image_details` reads that into
:class:`ImageDetails`, which ``MatcherError.image`` carries.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

DOMAIN = "matcher.v1"


def error_info(error: grpc.RpcError) -> error_details_pb2.ErrorInfo | None:
    """The ErrorInfo of a failed call, for clients (None when the server sent none)."""
    status = rpc_status.from_call(error)
    if status is None:
        return None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info
    return None


Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class SeenBox:
    """One box the detector saw in a refused photo: a face, or a plate.

    ``score`` is the detector's confidence; ``rejected`` the gate a face failed (``FACE_TOO_SMALL``,
    ``FACE_LOW_SCORE``), None for a usable face and for plates.
    """

    box: Box
    score: float
    rejected: str | None = None

    def as_argument(self) -> str:
        """The box as ``--face-box`` takes it: LEFT,TOP,RIGHT,BOTTOM in pixels."""
        return ",".join(f"{v:g}" for v in self.box)

    def as_dict(self) -> dict[str, Any]:
        return {"box": list(self.box), "score": self.score, "rejected": self.rejected}


@dataclass(frozen=True)
class ImageDetails:
    """What the service's detector saw in a photo it refused (``MULTIPLE_FACES``, ``NO_FACE``,
    ``FACE_BOX_NOT_FOUND``, ``NO_PLATE``, ...): sizes, boxes and scores, never pixels or plate text.

    ``kind`` is ``faces`` or ``plates``; ``face_box`` and ``best_iou`` are the caller's box and its
    best overlap, when one was sent; ``thresholds`` the gates the service applied. ``total`` is
    how many boxes the detector saw: the service lists the most confident ones only.
    """

    kind: str
    image_size: tuple[int, int] | None
    boxes: tuple[SeenBox, ...]
    face_box: Box | None = None
    best_iou: float | None = None
    thresholds: Mapping[str, float] = field(default_factory=dict)
    total: int = 0

    @property
    def usable(self) -> tuple[SeenBox, ...]:
        """The boxes that passed every gate: the ones worth passing as ``--face-box``."""
        return tuple(b for b in self.boxes if b.rejected is None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "image_size": list(self.image_size) if self.image_size else None,
            "boxes": [b.as_dict() for b in self.boxes],
            "face_box": list(self.face_box) if self.face_box else None,
            "best_iou": self.best_iou,
            "thresholds": dict(self.thresholds),
            "total": self.total,
        }


def image_details(metadata: Mapping[str, str]) -> ImageDetails | None:
    """The typed photo details of a refusal's ErrorInfo metadata, None when there are none.

    The service sends them as JSON under ``faces`` or ``plates``; a value this client cannot read
    (a newer or broken server) gives None rather than an exception, so the refusal itself is
    still shown.
    """
    for kind, box_key, score_key in (
        ("faces", "faces", "det_score"),
        ("plates", "detections", "detector_confidence"),
    ):
        if kind not in metadata:
            continue
        try:
            raw = json.loads(metadata[kind])
            boxes = tuple(
                SeenBox(_box(item["box"]), float(item[score_key]), _gate(item.get("rejected")))
                for item in raw.get(box_key, [])
            )
            size = raw.get("image_size")
            wanted = raw.get("face_box")
            thresholds = raw.get("gates") or {
                k: v for k, v in raw.items() if k.startswith("min_") and isinstance(v, (int, float))
            }
            return ImageDetails(
                kind=kind,
                image_size=(int(size[0]), int(size[1])) if size else None,
                boxes=boxes,
                face_box=_box(wanted) if wanted else None,
                best_iou=float(raw["best_iou"]) if "best_iou" in raw else None,
                thresholds={str(k): float(v) for k, v in thresholds.items()},
                total=int(raw.get(f"{box_key}_total", len(boxes))),
            )
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            return None
    return None


def _gate(value: Any) -> str | None:
    return None if value is None else str(value)


def _box(values: Any) -> Box:
    left, top, right, bottom = (float(v) for v in values)
    return (left, top, right, bottom)

"""Quality gates: which detected faces are good enough to embed.

A tiny or doubtful face still yields a 512-d vector, and that vector looks exactly as
trustworthy as a good one. In a system whose matches lead officers to people, a bad probe must
be refused with the reason, not silently turned into a weak match.
"""

from __future__ import annotations

from dataclasses import dataclass

from matcher.faces.errors import Reason

Box = tuple[float, float, float, float]
"""(x1, y1, x2, y2) in pixels of the decoded (EXIF-rotated) image."""


@dataclass(frozen=True)
class Rejection:
    """A failed gate: the machine-readable reason and a sentence for the investigator."""

    reason: Reason
    message: str


@dataclass(frozen=True)
class QualityGates:
    """Thresholds a detected face must pass.

    - ``min_face_px``: the shorter side of the face box. ArcFace models see faces at 112x112;
      below ~40 px most identity detail is interpolated, not observed.
    - ``min_det_score``: SCRFD's confidence; 0.5 is insightface's own default threshold.
    - ``report_score_floor``: candidates scoring between this and ``min_det_score`` are not
      used, but they are reported (``FACE_LOW_SCORE``) so the investigator learns that a face
      was probably there, instead of a bare ``NO_FACE``.
    """

    min_face_px: float = 40.0
    min_det_score: float = 0.5
    report_score_floor: float = 0.3

    def __post_init__(self) -> None:
        if not 0.0 < self.report_score_floor <= self.min_det_score <= 1.0:
            raise ValueError("need 0 < report_score_floor <= min_det_score <= 1")
        if self.min_face_px < 0:
            raise ValueError("min_face_px must be >= 0")

    def judge(self, box: Box, score: float) -> Rejection | None:
        """Why this face fails the gates, worded so the user knows what to fix; None if it passes.

        Score is checked first: a doubtful detection may not be a face at all, so calling it
        "too small" would mislead.
        """
        if score < self.min_det_score:
            return Rejection(
                Reason.FACE_LOW_SCORE,
                f"the detector is not confident this is a face (score {score:.2f} < "
                f"{self.min_det_score}); use a sharper, more frontal photo",
            )
        side = min(box[2] - box[0], box[3] - box[1])
        if side < self.min_face_px:
            return Rejection(
                Reason.FACE_TOO_SMALL,
                f"the face is {side:.0f} px, below the minimum of {self.min_face_px:.0f} px; "
                "use a closer or higher-resolution photo",
            )
        return None


DEFAULT_GATES = QualityGates()


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 when they do not overlap)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0

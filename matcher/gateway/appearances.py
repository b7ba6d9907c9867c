"""Faces of one camera grouped into appearances: one sighting per person passing by.

A person walking past a camera is in many frames; the service raises an alert per matching
sighting, so sending every frame would raise a dozen alerts for one passage. The gateway groups
consecutive faces of the same person (cosine similarity of their embeddings, in a short window
of video time) into an appearance, and sends one sighting per appearance: the best face (highest
detector score) of its first ``settle`` samples, or of all of them if it ends sooner. A person
who leaves for longer than ``gap`` seconds and comes back is a new appearance.

P7: an appearance's embeddings stay in memory only until its sighting is sent and it ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from matcher.faces import DetectedFace

SAME_PERSON = 0.35
"""Cosine similarity above which two faces of consecutive samples are one person (ArcFace-type
embeddings: the same person scores about 0.5-0.9, different people below 0.25)."""


@dataclass
class Appearance:
    embedding: np.ndarray
    model: str
    score: float
    captured_at: datetime
    last_t: float
    samples: int = 1
    sent: bool = False


class Appearances:
    def __init__(self, *, gap: float = 2.0, settle: int = 3) -> None:
        self._gap = gap
        self._settle = settle
        self._open: list[Appearance] = []

    def update(self, t: float, captured_at: datetime, faces: list[DetectedFace]) -> list[Appearance]:
        """Takes the faces of one sample; returns the appearances whose sighting is due now."""
        due = [a for a in self._open if t - a.last_t > self._gap and not a.sent]
        self._open = [a for a in self._open if t - a.last_t <= self._gap]
        taken: set[int] = set()
        for face in sorted(faces, key=lambda f: -f.det_score):
            best, similarity = None, SAME_PERSON
            for index, appearance in enumerate(self._open):
                if index in taken or appearance.model != face.model_id:
                    continue
                value = float(np.dot(appearance.embedding, face.embedding))
                if value >= similarity:
                    best, similarity = index, value
            if best is None:
                self._open.append(Appearance(face.embedding, face.model_id, face.det_score, captured_at, t))
                taken.add(len(self._open) - 1)
                continue
            taken.add(best)
            appearance = self._open[best]
            appearance.last_t = t
            appearance.samples += 1
            if not appearance.sent and face.det_score > appearance.score:
                appearance.embedding, appearance.score = face.embedding, face.det_score
                appearance.captured_at = captured_at
        for appearance in self._open:
            if not appearance.sent and appearance.samples >= self._settle:
                due.append(appearance)
        for appearance in due:
            appearance.sent = True
        return due

    def end(self) -> list[Appearance]:
        """The source ended or dropped: every appearance is over; the unsent ones are due."""
        due = [a for a in self._open if not a.sent]
        self._open = []
        return due

"""How the CLI shows a refusal: the code, reason and message, and what the detector saw.

A photo refused with ``MULTIPLE_FACES`` (or ``NO_FACE``, ``FACE_BOX_NOT_FOUND``, ``NO_PLATE``...)
comes with the boxes and scores the service's detector found. Printing them, each in the form
``--face-box`` takes, is what lets an investigator choose the face and call again; ``--json``
gives scripts the same facts on stdout.
"""

from __future__ import annotations

import json
import sys

from matcher.cli.output import table
from matcher.client import MatcherError
from matcher.status_details import ImageDetails


def show_details(error: MatcherError, as_json: bool) -> None:
    """After the refusal's line: what the detector saw, on stderr for people; with ``as_json``,
    the whole refusal as one JSON object on stdout."""
    if error.image is not None and error.image.boxes:
        print(seen(error.image), file=sys.stderr)
    if as_json:
        print(json.dumps({"error": error.as_dict()}, indent=2))


def seen(image: ImageDetails) -> str:
    """A table of what the detector saw; for faces with the box as ``--face-box`` takes it."""
    size = f" in the {image.image_size[0]}x{image.image_size[1]} image" if image.image_size else ""
    if image.total > len(image.boxes):
        size += f" (the {len(image.boxes)} most confident of {image.total} shown)"
    if image.kind == "plates":
        rows = [[n, b.as_argument(), f"{b.score:.3f}"] for n, b in enumerate(image.boxes, start=1)]
        return f"the detector saw {image.total} plate(s){size}:\n" + table(("PLATE", "BOX", "SCORE"), rows)
    rows = [
        [n, b.as_argument(), f"{b.score:.3f}", b.rejected or "usable"]
        for n, b in enumerate(image.boxes, start=1)
    ]
    hint = "; choose one with --face-box" if len(image.usable) > 1 else ""
    return f"the detector saw {image.total} face(s){size}{hint}:\n" + table(
        ("FACE", "--face-box", "SCORE", "GATE"), rows
    )

"""CLI commands for face templates: enrol from an embedding or a photo, bulk enrolment, search."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from matcher.cli.output import Printer, as_dict, short_time, table, with_reason
from matcher.client import MatcherClient, MatcherError

TEMPLATE_COLS = ("TEMPLATE", "MODEL", "CREATED")
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png"}
ALIGNED_HELP = "the --photo is one face already aligned to 112x112 (an edge device's or NVR's crop)"


def template_row(t: Any) -> list[object]:
    return [t.name, t.model, short_time(t.create_time)]


def load_embedding(path: str) -> np.ndarray[Any, Any]:
    try:
        vector = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"error: cannot read an embedding from {path}: {exc}") from None
    return np.asarray(vector, dtype=np.float32).reshape(-1)


def read_photo(path: str | Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise SystemExit(f"error: cannot read the photo {path}: {exc}") from None


def face_box(text: str) -> tuple[float, float, float, float]:
    try:
        left, top, right, bottom = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("a face box is LEFT,TOP,RIGHT,BOTTOM in pixels") from None
    return left, top, right, bottom


def enroll(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    if args.photo:
        template = client.enroll_face_photo(
            args.case,
            args.subject,
            read_photo(args.photo),
            reason=args.reason,
            face_box=args.face_box,
            aligned_crop=args.aligned_crop,
        )
    else:
        vector = load_embedding(args.embedding)
        template = client.enroll_face(
            args.case, args.subject, vector, reason=args.reason, model=args.model or ""
        )
    out.message(template, TEMPLATE_COLS, template_row)
    return 0


def templates(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    out.messages(client.list_face_templates(args.case, args.subject), TEMPLATE_COLS, template_row)
    return 0


def _progress(done: int, total: int, failed: int) -> None:
    width = 30
    filled = width * done // max(total, 1)
    bar = "#" * filled + "." * (width - filled)
    sys.stderr.write(f"\r[{bar}] {done}/{total} photos, {failed} refused")
    sys.stderr.flush()


def enroll_bulk(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    """Enrols every photo of FOLDER/<subject-id>/ for that (existing) subject of the case.

    A refused photo does not stop the run: it is listed at the end with its reason, and the exit
    code is 1 so that scripts notice.
    """
    root = Path(args.folder)
    jobs = (
        sorted(
            (subject_dir.name, photo)
            for subject_dir in root.iterdir()
            if subject_dir.is_dir()
            for photo in subject_dir.iterdir()
            if photo.suffix.lower() in PHOTO_SUFFIXES
        )
        if root.is_dir()
        else []
    )
    if not jobs:
        raise SystemExit(f"error: {root} has no <subject-id>/<photo>.jpg|.png files")
    enrolled: list[dict[str, str]] = []
    refused: list[dict[str, Any]] = []
    for done, (subject, photo) in enumerate(jobs, start=1):
        try:
            template = client.enroll_face_photo(args.case, subject, photo.read_bytes(), reason=args.reason)
            enrolled.append({"photo": str(photo), "template": template.name})
        except MatcherError as error:
            refused.append(
                {
                    "photo": str(photo),
                    "code": error.code.name,
                    "reason": error.reason,
                    "message": error.details,
                    **({"image": error.image.as_dict()} if error.image else {}),
                }
            )
        if not out.as_json:
            _progress(done, len(jobs), len(refused))
    if out.as_json:
        out.json({"enrolled": enrolled, "refused": refused})
    else:
        sys.stderr.write("\n")
        print(f"{len(enrolled)} enrolled, {len(refused)} refused")
        if refused:
            print(
                table(
                    ("PHOTO", "REASON", "MESSAGE"), [[r["photo"], r["reason"], r["message"]] for r in refused]
                )
            )
    return 1 if refused else 0


def search(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    if args.photo:
        answer = client.search_faces_photo(
            args.case,
            read_photo(args.photo),
            reason=args.reason,
            top_k=args.top_k,
            min_score=args.min_score,
            aligned_crop=args.aligned_crop,
        )
    else:
        answer = client.search_faces(
            args.case,
            load_embedding(args.embedding),
            reason=args.reason,
            top_k=args.top_k,
            min_score=args.min_score,
            model=args.model or "",
        )
    if out.as_json:
        out.json(as_dict(answer))
        return 0
    count = sum(len(result.matches) for result in answer.results)
    print(f"{len(answer.results)} face(s), {count} match(es) at min score {answer.min_score:.2f}")
    rows = []
    for number, result in enumerate(answer.results, start=1):
        b = result.face_box
        where = (
            f"{b.left:.0f},{b.top:.0f},{b.right:.0f},{b.bottom:.0f}" if result.HasField("face_box") else "-"
        )
        for m in result.matches or [None]:
            if m is None:
                rows.append([number, where, "", "(no match)", ""])
            else:
                rows.append([number, where, f"{m.score:.4f}", m.subject, m.face_template.rsplit("/", 1)[-1]])
    print(table(("FACE", "BOX", "SCORE", "SUBJECT", "TEMPLATE"), rows))
    return 0


def register(commands: Any) -> None:
    enrol = with_reason(commands.add_parser("enroll", help="enrol a face for a subject (P1)"))
    enrol.add_argument("case")
    enrol.add_argument("subject")
    source = enrol.add_mutually_exclusive_group(required=True)
    source.add_argument("--photo", help="JPEG or PNG with the subject's face")
    source.add_argument("--embedding", help=".npy file with one embedding")
    enrol.add_argument("--face-box", type=face_box, help="LEFT,TOP,RIGHT,BOTTOM of the face, if several")
    enrol.add_argument("--aligned-crop", action="store_true", help=ALIGNED_HELP)
    enrol.add_argument("--model", help="model that made the embedding (default: the server's)")
    enrol.set_defaults(handler=enroll)

    bulk = with_reason(commands.add_parser("enroll-bulk", help="enrol FOLDER/<subject-id>/*.jpg for a case"))
    bulk.add_argument("case")
    bulk.add_argument("folder")
    bulk.set_defaults(handler=enroll_bulk)

    listing = commands.add_parser("templates", help="list a subject's face templates")
    listing.add_argument("case")
    listing.add_argument("subject")
    listing.set_defaults(handler=templates)

    find = with_reason(commands.add_parser("search", help="search a photo's faces or an embedding in cases"))
    find.add_argument("--case", action="append", required=True, help="case to search (repeatable)")
    probe = find.add_mutually_exclusive_group(required=True)
    probe.add_argument("--photo", help="JPEG or PNG still: every usable face is searched")
    probe.add_argument("--embedding", help=".npy file with the probe embedding")
    find.add_argument("--aligned-crop", action="store_true", help=ALIGNED_HELP)
    find.add_argument("--top-k", type=int, default=10)
    find.add_argument("--min-score", type=float, help="cosine threshold (default: the server's)")
    find.add_argument("--model")
    find.set_defaults(handler=search)

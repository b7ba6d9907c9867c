"""Investigators' and supervisors' pages: cases, subjects, enrolment, search, release, close.

Each handler makes the calls the person would make with the CLI, as that person; the service
authorises (an investigator sees only the cases assigned to them), validates and audits each of
them. The console adds no rule of its own beyond reading forms safely: a case id in a URL that
is not the person's is sent to the service like any other, which refuses it and records the
refusal (P10, P16), and the page explains it.

Photos (enrolment, search) go to the service in the call and are dropped; the result page shows
the photo back to the person with the detector's boxes, from the request itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, time

import grpc
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from matcher.client import AUTHORITY_KINDS, ROLES, MatcherError
from matcher.console import photos
from matcher.console.refusals import Shown
from matcher.console.sessions import INVESTIGATOR, SUPERVISOR, Session
from matcher.console.web import call, console_of, posted, problem, render, see_other, shown, signed_in
from matcher.v1 import cases_pb2, faces_pb2

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
USERS = (INVESTIGATOR, SUPERVISOR)
TRIGGERS = {
    cases_pb2.Purge.CASE_CLOSED: "the case was closed (P3)",
    cases_pb2.Purge.SUBJECT_RELEASED: "the subject was released (P2)",
    cases_pb2.Purge.ORDER_ENDED: "the order's period ended (P5)",
    cases_pb2.Purge.ORDER_REVOKED: "the order was revoked (P5)",
}


# After a release or a close, the case page reloads itself (every 2 s, at most this many times)
# until the purge it started is receipted, even before the purge is listed.
WATCH = 15


class BadId(Exception):
    """A path segment that cannot be an id (too long, or odd characters): never sent on."""


def ident(request: Request, name: str) -> str:
    value = str(request.path_params[name])
    if not _ID.match(value):
        raise BadId(value[:64])
    return value


# --- cases -----------------------------------------------------------------------------------------


async def case_list(request: Request) -> Response:
    session = signed_in(request, *USERS)
    cases = await call(lambda: list(session.client.list_cases()))
    return render(request, "cases.html", cases=cases, may_open=session.has(SUPERVISOR))


async def case_create(request: Request) -> Response:
    session, form = await posted(request, SUPERVISOR)
    case = await call(
        session.client.create_case,
        form.text("case_id", 63),
        form.text("title", 200),
        reason=form.text("reason"),
    )
    return see_other("/" + case.name)


@dataclass
class CasePage:
    case: cases_pb2.Case
    subjects: list[cases_pb2.Subject]
    purges: list[cases_pb2.Purge]
    holds: list[cases_pb2.LegalHold] = field(default_factory=list)

    @property
    def pending(self) -> bool:
        return any(p.state != cases_pb2.Purge.DONE for p in self.purges)


def _case_page(session: Session, case_id: str) -> CasePage:
    client = session.client
    case = client.get_case(case_id)
    page = CasePage(case, list(client.list_subjects(case_id)), client.list_purges(case_id))
    page.holds = client.list_legal_holds(case_id)
    return page


async def case_view(request: Request) -> Response:
    session = signed_in(request, *USERS)
    case_id = ident(request, "case_id")
    page = await call(_case_page, session, case_id)
    watching = request.query_params.get("watching", "")
    left = min(int(watching), WATCH) if watching.isdigit() else 0
    return render(
        request,
        "case.html",
        page=page,
        case_id=case_id,
        watching=left - 1 if left and (page.pending or not page.purges or left == WATCH) else 0,
        roles=sorted(ROLES),
        triggers=TRIGGERS,
        authority_kinds=sorted(AUTHORITY_KINDS),
        supervisor=session.has(SUPERVISOR),
        investigator=session.has(INVESTIGATOR),
        Case=cases_pb2.Case,
        Subject=cases_pb2.Subject,
        Purge=cases_pb2.Purge,
        LegalHold=cases_pb2.LegalHold,
    )


async def case_close(request: Request) -> Response:
    session, form = await posted(request, SUPERVISOR)
    case_id = ident(request, "case_id")
    if form.get("confirm") != "yes":
        return problem(request, 400, "Not closed", "Tick the box to confirm that the case is to be closed.")
    await call(session.client.close_case, case_id, reason=form.text("reason"))
    return see_other(f"/cases/{case_id}?watching={WATCH}#purges")


async def subject_create(request: Request) -> Response:
    session, form = await posted(request, *USERS)
    case_id = ident(request, "case_id")
    role = form.get("role")
    if role not in ROLES:
        return problem(request, 400, "Unknown role", "Choose the subject's role from the list.")
    await call(
        session.client.create_subject,
        case_id,
        form.text("subject_id", 63),
        role,
        label=form.text("label", 100),
        reason=form.text("reason"),
    )
    return see_other(f"/cases/{case_id}")


async def subject_release(request: Request) -> Response:
    session, form = await posted(request, *USERS)
    case_id, subject_id = ident(request, "case_id"), ident(request, "subject_id")
    await call(session.client.release_subject, case_id, subject_id, reason=form.text("reason"))
    return see_other(f"/cases/{case_id}?watching={WATCH}#purges")


async def subject_view(request: Request) -> Response:
    session = signed_in(request, *USERS)
    case_id, subject_id = ident(request, "case_id"), ident(request, "subject_id")
    subject = await call(session.client.get_subject, case_id, subject_id)
    templates: list[faces_pb2.FaceTemplate] = []
    if session.has(INVESTIGATOR):
        templates = await call(session.client.list_face_templates, case_id, subject_id)
    return render(
        request,
        "subject.html",
        case_id=case_id,
        subject=subject,
        templates=templates,
        investigator=session.has(INVESTIGATOR),
        Subject=cases_pb2.Subject,
    )


# --- enrolment and search --------------------------------------------------------------------------


@dataclass
class Outcome:
    """One photo's enrolment: its template, or the refusal with what the detector saw."""

    filename: str
    template: faces_pb2.FaceTemplate | None = None
    refusal: Shown | None = None
    boxes: list[photos.Box] = field(default_factory=list)
    photo: str = ""  # data URL, to draw the boxes on
    size: tuple[int, int] | None = None
    resend: str = ""  # the photo as base64, when the person must pick a face

    @property
    def pick(self) -> bool:
        return bool(self.resend) and len(self.boxes) > 1


async def _enrol_one(
    session: Session,
    case_id: str,
    subject_id: str,
    filename: str,
    data: bytes,
    reason: str,
    box: photos.Box | None,
) -> Outcome:
    face_box = (box.left, box.top, box.right, box.bottom) if box else None
    size = photos.pixel_size(data)
    try:
        template = await call(
            session.client.enroll_face_photo, case_id, subject_id, data, reason=reason, face_box=face_box
        )
    except MatcherError as error:
        if error.code == grpc.StatusCode.UNAUTHENTICATED:
            raise
        boxes = photos.boxes_from_refusal(error.image)
        choose = error.reason in ("MULTIPLE_FACES", "FACE_BOX_NOT_FOUND")
        return Outcome(
            filename,
            refusal=shown(error),
            boxes=boxes,
            photo=photos.data_url(data) if boxes and size else "",
            size=size,
            resend=photos.to_form(data) if choose and size else "",
        )
    b = template.face_box
    drawn = [photos.Box(1, b.left, b.top, b.right, b.bottom, b.score)] if b.right > b.left else []
    return Outcome(
        filename, template=template, boxes=drawn, photo=photos.data_url(data) if size else "", size=size
    )


async def enrol(request: Request) -> Response:
    session, form = await posted(request, INVESTIGATOR)
    case_id, subject_id = ident(request, "case_id"), ident(request, "subject_id")
    reason = form.text("reason")
    limit = console_of(request).config.max_upload_bytes
    items: list[tuple[str, bytes, photos.Box | None]] = []
    if form.get("photo"):  # the second step: the face the person picked on a photo sent back
        data, chosen = photos.from_form(form.get("photo"), limit), photos.parse_box(form.get("face_box"))
        if data is None or chosen is None:
            return problem(request, 400, "Pick a face", "Choose one of the boxes drawn on the photo.")
        items.append((form.text("filename", 200), data, photos.Box(0, *chosen)))
    else:
        items = [(u.filename[:200] or "photo", u.data, None) for u in form.uploads("photos")]
    if not items:
        return problem(request, 400, "No photo", "Choose one or more photos to enrol.")
    outcomes = [await _enrol_one(session, case_id, subject_id, n, d, reason, b) for n, d, b in items]
    status = 200 if any(o.template for o in outcomes) else 422
    return render(
        request,
        "enrolled.html",
        status,
        case_id=case_id,
        subject_id=subject_id,
        outcomes=outcomes,
        reason=reason,
    )


@dataclass
class FaceResult:
    box: photos.Box
    matches: list[tuple[str, str, float, str]]  # subject name, label, score, template


def _int(value: str, default: int) -> int | None:
    if not value.strip():
        return default
    try:
        return int(value)
    except ValueError:
        return None


def _score(value: str) -> float | bool | None:
    """The threshold typed in: None for the service's default, False when unreadable."""
    if not value.strip():
        return None
    try:
        return float(value)
    except ValueError:
        return False


async def search(request: Request) -> Response:
    session, form = await posted(request, INVESTIGATOR)
    case_id = ident(request, "case_id")
    stills = form.uploads("still")
    top_k, min_score = _int(form.get("top_k"), 5), _score(form.get("min_score"))
    if len(stills) != 1:
        return problem(request, 400, "No still", "Choose one still image to search with.")
    if top_k is None or min_score is False:
        return problem(request, 400, "Not a number", "Matches per face and the threshold must be numbers.")
    data = stills[0].data
    size = photos.pixel_size(data)
    try:
        answer = await call(
            session.client.search_faces_photo,
            [case_id],
            data,
            reason=form.text("reason"),
            top_k=top_k,
            min_score=min_score if isinstance(min_score, float) else None,
        )
    except MatcherError as error:
        if error.code == grpc.StatusCode.UNAUTHENTICATED:
            raise
        boxes = photos.boxes_from_refusal(error.image)
        return render(
            request,
            "refusal.html",
            400 if error.code == grpc.StatusCode.INVALID_ARGUMENT else 409,
            refusal=shown(error),
            back=f"/cases/{case_id}",
            photo=photos.data_url(data) if boxes and size else "",
            size=size,
            boxes=boxes,
        )
    labels = {s.name: s.label for s in await call(lambda: list(session.client.list_subjects(case_id)))}
    faces = []
    for number, result in enumerate(answer.results, start=1):
        b = result.face_box
        faces.append(
            FaceResult(
                photos.Box(number, b.left, b.top, b.right, b.bottom, b.score),
                [(m.subject, labels.get(m.subject, ""), m.score, m.face_template) for m in result.matches],
            )
        )
    return render(
        request,
        "searched.html",
        case_id=case_id,
        faces=faces,
        threshold=answer.min_score,
        photo=photos.data_url(data) if size else "",
        size=size,
        boxes=[f.box for f in faces],
        filename=stills[0].filename[:200],
    )


# --- supervisors: assignments and legal holds ------------------------------------------------------


async def assign(request: Request) -> Response:
    session, form = await posted(request, SUPERVISOR)
    case_id = ident(request, "case_id")
    principal = form.text("principal", 128)
    if form.get("action") == "unassign":
        await call(session.client.unassign_case, case_id, principal, reason=form.text("reason"))
    else:
        await call(session.client.assign_case, case_id, principal, reason=form.text("reason"))
    return see_other(f"/cases/{case_id}")


async def hold_place(request: Request) -> Response:
    session, form = await posted(request, SUPERVISOR)
    case_id = ident(request, "case_id")
    kind = form.get("authority_kind")
    try:
        until = datetime.combine(datetime.fromisoformat(form.get("until")).date(), time(), tzinfo=UTC)
    except ValueError:
        return problem(request, 400, "No end date", "A legal hold needs the date it ends (P4).")
    if kind not in AUTHORITY_KINDS:
        return problem(request, 400, "Unknown authority", "Choose a court order or a statute (P4).")
    await call(
        session.client.place_legal_hold,
        case_id,
        authority_kind=kind,
        authority=form.text("authority", 200),
        placed_by=form.text("placed_by", 200),
        until=until,
        reason=form.text("reason"),
    )
    return see_other(f"/cases/{case_id}#holds")


async def hold_lift(request: Request) -> Response:
    session, form = await posted(request, SUPERVISOR)
    case_id, hold_id = ident(request, "case_id"), ident(request, "hold_id")
    await call(session.client.lift_legal_hold, case_id, hold_id, reason=form.text("reason"))
    return see_other(f"/cases/{case_id}#holds")


async def on_bad_id(request: Request, error: Exception) -> Response:
    return problem(request, 404, "No such page", "This address does not name a case, subject or hold.")


ROUTES = [
    Route("/cases", case_list, methods=["GET"]),
    Route("/cases", case_create, methods=["POST"]),
    Route("/cases/{case_id}", case_view, methods=["GET"]),
    Route("/cases/{case_id}/close", case_close, methods=["POST"]),
    Route("/cases/{case_id}/subjects", subject_create, methods=["POST"]),
    Route("/cases/{case_id}/subjects/{subject_id}", subject_view, methods=["GET"]),
    Route("/cases/{case_id}/subjects/{subject_id}/enrol", enrol, methods=["POST"]),
    Route("/cases/{case_id}/subjects/{subject_id}/release", subject_release, methods=["POST"]),
    Route("/cases/{case_id}/search", search, methods=["POST"]),
    Route("/cases/{case_id}/assign", assign, methods=["POST"]),
    Route("/cases/{case_id}/holds", hold_place, methods=["POST"]),
    Route("/cases/{case_id}/holds/{hold_id}/lift", hold_lift, methods=["POST"]),
]

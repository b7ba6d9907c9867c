"""PlateService: case watchlists of vehicles and plate reads checked against them (issue 4).

Least privilege (issue 17; P8, P10, P14): a camera gateway's CheckPlateRead answer says whether
each read hit and gives an opaque reference, never the entry's plate, case or subject; the hit is
stored for the case's investigators, who list it with ListPlateHits. Investigators checking a read
themselves get the full answer for their assigned cases.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC

from lifecycle.access import INVESTIGATOR
from lifecycle.errors import Kind, PolicyError
from matcher.app import App
from matcher.model_loading import Unavailable
from matcher.plate_watchlists import Entry, Hit, ReadOutcome, StoredHit, plate_refusal
from matcher.plates import MatchPolicy, PlateError, PlateErrorReason, PlateRead
from matcher.plates.reader import PlateImageError
from matcher.transport import calls, convert, names, paging
from matcher.transport.calls import rpc, server_stream
from matcher.transport.dispatch import Feed, feed_source
from matcher.transport.errors import image_refusal
from matcher.v1 import plates_pb2


def entry_ids(name: str) -> tuple[str, str]:
    case, entry = names.parts(name, ("cases", "plateEntries"), "plate entry")
    return case, entry


def _entry(entry: Entry) -> plates_pb2.PlateEntry:
    row = entry.row
    return plates_pb2.PlateEntry(
        name=f"cases/{row.case_id}/plateEntries/{row.id}",
        subject=names.subject_name(row.case_id, entry.subject_id) if entry.subject_id else "",
        plate=entry.plate,
        pattern=entry.pattern,
        region=row.region,
        note=entry.note,
        create_time=convert.timestamp(row.created_at),
    )


def _hit(hit: Hit) -> plates_pb2.PlateHit:
    return plates_pb2.PlateHit(
        plate_entry=f"cases/{hit.case_id}/plateEntries/{hit.entry_id}",
        case=names.case_name(hit.case_id),
        subject=names.subject_name(hit.case_id, hit.subject_id) if hit.subject_id else "",
        plate=hit.plate,
        kind=hit.hit.kind.value.upper(),
        distance=hit.hit.distance,
        edits=[
            plates_pb2.PlateEdit(
                kind=edit.op.value.upper(),
                position=edit.position,
                entry_char=edit.entry_char,
                read_char=edit.read_char,
                description=edit.describe(),
            )
            for edit in hit.hit.edits
        ],
        unknown_positions=list(hit.hit.unknown_positions),
    )


def _stored_hit(stored: StoredHit) -> plates_pb2.StoredPlateHit:
    record = stored.record
    match = _hit(Hit(record.entry_id, record.case_id, stored.subject_id, stored.plate, stored.hit))
    return plates_pb2.StoredPlateHit(
        name=f"cases/{record.case_id}/plateHits/{record.id}",
        hit_reference=record.reference,
        plate_entry=match.plate_entry,
        subject=match.subject,
        plate=stored.plate,
        read=stored.read,
        camera=stored.camera,
        capture_time=convert.timestamp(record.captured_at) if record.captured_at else None,
        create_time=convert.timestamp(record.created_at),
        match=match,
        reported_by=record.created_by,
        resume_token=str(record.pk),
    )


def _policy(options: plates_pb2.MatchOptions) -> MatchPolicy:
    defaults = MatchPolicy()
    return MatchPolicy(
        max_edits=options.max_edits if options.HasField("max_edits") else defaults.max_edits,
        min_confidence=options.min_confidence
        if options.HasField("min_confidence")
        else defaults.min_confidence,
        lookalikes=options.lookalikes if options.HasField("lookalikes") else defaults.lookalikes,
    )


class PlateService:
    def __init__(self, app: App) -> None:
        self.app = app

    @rpc(
        "plate.add",
        lambda r: f"{r.parent}/plateEntries",
        cases=lambda r: [names.case_id(r.parent)],
        audits_itself=True,
    )
    def CreatePlateEntry(
        self, request: plates_pb2.CreatePlateEntryRequest, actor: str
    ) -> plates_pb2.PlateEntry:
        case_id = names.case_id(request.parent)
        entry = request.plate_entry
        subject_id = ""
        if entry.subject:
            subject_case, subject_id = names.subject_ids(entry.subject)
            if subject_case != case_id:
                raise PolicyError(
                    Kind.INVALID_ARGUMENT, "FIELD_INVALID", "the subject must belong to the case"
                )
        added = self.app.plates.add(
            actor, case_id, subject_id, entry.plate, entry.region, entry.note, request.reason
        )
        return _entry(added)

    @rpc(
        "plate.list",
        lambda r: r.parent,
        cases=lambda r: [names.case_id(r.parent)],
        count=lambda resp: len(resp.plate_entries),
    )
    def ListPlateEntries(
        self, request: plates_pb2.ListPlateEntriesRequest, actor: str
    ) -> plates_pb2.ListPlateEntriesResponse:
        entries = self.app.plates.entries(names.case_id(request.parent))
        return plates_pb2.ListPlateEntriesResponse(plate_entries=[_entry(e) for e in entries])

    @rpc("plate.remove", lambda r: r.name, cases=lambda r: [entry_ids(r.name)[0]], audits_itself=True)
    def DeletePlateEntry(
        self, request: plates_pb2.DeletePlateEntryRequest, actor: str
    ) -> plates_pb2.DeletePlateEntryResponse:
        case_id, entry_id = entry_ids(request.name)
        self.app.plates.remove(actor, case_id, entry_id, request.reason)
        return plates_pb2.DeletePlateEntryResponse()

    @rpc(
        "plates.check",
        lambda r: r.cases[0] if len(r.cases) == 1 else "cases",
        cases=lambda r: [names.case_id(name) for name in r.cases],
        audits_itself=True,
    )
    def CheckPlateRead(
        self, request: plates_pb2.CheckPlateReadRequest, actor: str
    ) -> plates_pb2.CheckPlateReadResponse:
        case_ids = [names.case_id(name) for name in request.cases]
        guard = self.app.uncertain_reads  # Issue 17: a prober stops before any work (P16).
        guard.require_not_suspended(actor)
        try:
            policy = _policy(request.options)
            readings = self._reads(request)
        except PlateError as error:
            raise plate_refusal(error) from None
        # Issue 17: a text read too uncertain is refused (by the check); a plate found in an image
        # whose read is that uncertain is checked against nothing and said so.
        limits = self.app.plates.limits
        from_image = request.WhichOneof("input") != "read"
        checked = [(read, box) for read, box in readings if not from_image or limits.allows(read, policy)]
        try:
            outcomes = self._check(actor, case_ids, request, checked, policy, len(readings) - len(checked))
        except PolicyError as error:
            if error.reason == str(PlateErrorReason.READ_TOO_UNCERTAIN):
                guard.refused(actor)
            raise
        answer = plates_pb2.CheckPlateReadResponse()
        for read, box in readings:
            result = answer.results.add(read=read.text, confidences=read.confidences or (), box=box)
            if from_image and not limits.allows(read, policy):
                result.too_uncertain = True
                continue
            outcome = next(outcomes)
            result.hits.extend(_hit(h) for h in outcome.hits)
            result.hit, result.hit_reference = outcome.hit, outcome.reference
        return answer

    def _check(
        self,
        actor: str,
        case_ids: list[str],
        request: plates_pb2.CheckPlateReadRequest,
        checked: list[tuple[PlateRead, plates_pb2.PlateBox | None]],
        policy: MatchPolicy,
        too_uncertain: int,
    ) -> Iterator[ReadOutcome]:
        return iter(
            self.app.plates.check(
                actor,
                case_ids,
                [read for read, _ in checked],
                policy,
                request.camera,
                request.reason,
                detail_cases=self._investigates(actor),
                captured_at=request.capture_time.ToDatetime(tzinfo=UTC)
                if request.HasField("capture_time")
                else None,
                too_uncertain=too_uncertain,
            )
        )

    def _investigates(self, actor: str) -> frozenset[str]:
        """The cases whose hits the caller may see in full: those assigned to it as an
        investigator. A camera gateway investigates nothing (P10: the least trusted part)."""
        if INVESTIGATOR not in calls.decision().roles:
            return frozenset()
        return self.app.access.assigned_cases(actor)

    @rpc(
        "plate.hits",
        lambda r: r.parent,
        cases=lambda r: [names.case_id(r.parent)],
        count=lambda resp: len(resp.plate_hits),
    )
    def ListPlateHits(
        self, request: plates_pb2.ListPlateHitsRequest, actor: str
    ) -> plates_pb2.ListPlateHitsResponse:
        case_id = names.case_id(request.parent)
        size = paging.page_size(request.page_size)
        after = paging.decode(request.page_token)
        if after and not (after.isascii() and after.isdigit() and len(after) <= 18):
            raise PolicyError(
                Kind.INVALID_ARGUMENT, "PAGE_TOKEN_INVALID", "the page token was not issued by this listing"
            )
        stored = self.app.plates.stored_hits(case_id, int(after or 0), size + 1)
        return plates_pb2.ListPlateHitsResponse(
            plate_hits=[_stored_hit(h) for h in stored[:size]],
            next_page_token=paging.encode(str(stored[size - 1].record.pk)) if len(stored) > size else "",
        )

    @feed_source(lambda app: app.plates.hub)
    @server_stream("plate.hits.watch", lambda r: r.parent, cases=lambda r: [names.case_id(r.parent)])
    def WatchPlateHits(self, request: plates_pb2.WatchPlateHitsRequest, actor: str) -> Feed[StoredHit]:
        """The case's stored hits after the resume token (if any), then live ones, until the call
        ends: the alert of a gateway's hit, for the case's investigators only (issue 17)."""
        case_id = names.case_id(request.parent)
        plates = self.app.plates
        after = names.number(request.resume_token, "resume token") if request.resume_token else None
        backlog = plates.stored_hits(case_id, after, paging.MAX_PAGE_SIZE) if after is not None else []
        latest = backlog[-1].record.pk if backlog else plates.latest_hit(case_id)
        self.app.audit.record(
            actor=actor,
            action="plate.hits.watch",
            resource=f"cases/{case_id}",
            count=len(backlog),
            detail={"resumed": after is not None},
        )
        return Feed(
            backlog=[_stored_hit(h) for h in backlog],
            render=lambda hit: _stored_hit(hit) if hit.record.case_id == case_id else None,
            key=lambda message: str(getattr(message, "name")),  # noqa: B009
            refill=lambda: [
                _stored_hit(h) for h in plates.stored_hits(case_id, latest, paging.MAX_PAGE_SIZE)
            ],
        )

    def _reads(
        self, request: plates_pb2.CheckPlateReadRequest
    ) -> list[tuple[PlateRead, plates_pb2.PlateBox | None]]:
        """The read sent as text, or every plate the reader finds in the image (with its box)."""
        which = request.WhichOneof("input")
        if which == "read":
            confidences = tuple(request.read.confidences) or None
            return [(PlateRead(request.read.text, confidences), None)]
        if which not in ("image", "plate_crop"):
            raise PolicyError(
                Kind.INVALID_ARGUMENT,
                "FIELD_INVALID",
                "a plate read needs its text, an image or a plate crop",
            )
        reader = self.app.plate_reader
        if isinstance(reader, Unavailable):
            raise PolicyError(Kind.FAILED_PRECONDITION, "PLATE_READER_UNAVAILABLE", reader.why)
        try:
            if which == "image":
                readings = reader.read_image(request.image)
            else:
                readings = [reader.read_crop(request.plate_crop)]
        except PlateImageError as error:
            raise image_refusal(str(error.reason), error.message, error.details, "plates") from None
        return [
            (
                reading.to_plate_read(),
                plates_pb2.PlateBox(
                    left=reading.box[0],
                    top=reading.box[1],
                    right=reading.box[2],
                    bottom=reading.box[3],
                    score=reading.detector_confidence or 0.0,
                ),
            )
            for reading in readings
        ]

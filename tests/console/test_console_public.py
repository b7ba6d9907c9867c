"""P17: the public transparency page, published as static files from the verified audit log.

A whole season of use is played through the service (a case with subjects, enrolment, searches,
a plate, a refusal, a registered-individual order raising an alert, the case closed and purged),
then ``matcher console publish`` writes the page as the auditor. It must hold the figures, the
retention rules and the verification date, and none of the names, ids, labels, reasons, plates,
places or template ids that the season used.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from matcher.cli import main
from matcher.client import MatcherError
from matcher.console.web import CSP
from tests.conftest import START, Harness, near, unit, wait_until
from tests.console.conftest import order_in_zone, running_console

SECRETS = [
    "2026-0042",
    "Olive Street burglaries",
    "seen-at-olive",
    "poi-olive",
    "POI-OLIVE",
    "suspect-kr",
    "Booking photo from precinct 4",
    "CCTV still from the Olive St pharmacy",
    "KRW301",
    "silver hatchback",
    "cam-olive-east",
    "olive-zone",
    "east gate",
    "po-olive",
    "RI-OLIVE",
    "Circuit Court 26-PO-77",
    "local-investigator",
    "local-registry",
    "local-camera",
    "charges filed against the suspect",
]


def season(h: Harness) -> list[str]:
    """Plays the season; returns further identifying values the service generated (ids)."""
    c = h.client
    c.create_case("2026-0042", "Olive Street burglaries", reason="seen-at-olive")
    c.create_subject("2026-0042", "poi-olive", "poi", label="POI-OLIVE", reason="seen-at-olive")
    c.create_subject("2026-0042", "suspect-kr", "suspect", label="KR", reason="seen-at-olive")
    face = unit(11)
    template = c.enroll_face("2026-0042", "poi-olive", face, reason="Booking photo from precinct 4")
    c.search_faces(["2026-0042"], near(face, 3), reason="CCTV still from the Olive St pharmacy")
    c.add_plate(
        "2026-0042", "KRW301", subject_id="suspect-kr", note="silver hatchback", reason="seen-at-olive"
    )
    c.check_plate("KRW301", case_ids=["2026-0042"], reason="CCTV still from the Olive St pharmacy")
    with pytest.raises(MatcherError):
        c.create_subject("2026-0042", "w-olive", "witness", reason="")  # refused: no reason (P12)
    camera = order_in_zone(h, "cam-olive-east", "olive-zone", "po-olive", "RI-OLIVE", unit(12))
    assert camera.report_sighting("cam-olive-east", START, [near(unit(12), 4)]).accepted
    c.close_case("2026-0042", reason="charges filed against the suspect")
    assert wait_until(lambda: all(p.state == 5 for p in c.list_purges("2026-0042")))
    return [template.name, template.name.split("/")[-1], f"{face[0]:.4f}", f"{face[1]:.4f}"]


def publish(h: Harness, out: Path) -> int:
    token = h.data_dir / "tokens" / "local-auditor.token"
    period = ["--from", "2026-01-01T00:00Z", "--to", "2027-01-01T00:00Z"]
    return main(
        ["--target", h.target, "--token-file", str(token), "console", "publish", "--out", str(out), *period]
    )


def test_P17_public_page_has_the_figures_and_nothing_identifying(harness: Harness, tmp_path: Path) -> None:
    generated = season(harness)
    out = tmp_path / "public"
    assert publish(harness, out) == 0
    files = {path.name: path.read_text() for path in out.iterdir()}
    assert set(files) == {"index.html", "figures.json", "console.css"}
    page, figures = files["index.html"], json.loads(files["figures.json"])
    for secret in SECRETS + generated:
        for name, text in files.items():
            assert secret.lower() not in text.lower(), f"{secret!r} is in {name}"
    faces, plates, orders, system = (
        figures["technologies"][k] for k in ("faces", "plates", "orders", "system")
    )
    assert faces["Face templates enrolled"] == "1" and faces["Face searches"] == "1"
    assert faces["Candidate matches returned"] == "1" and faces["Candidate matches per search"] == "1"
    assert plates["Plate checks"] == "1" and plates["Plate hits"] == "1"
    assert orders["Orders created"] == "1" and orders["Cameras registered"] == "1"
    assert system["Purges completed"] == "1" and system["Face templates destroyed"] == "1"
    assert system["Refusals"] == "1" and "Complaints" in system
    assert figures["refusals_by_rule"] == {
        f"P12: {'Every search, enrolment and change must say why it is made.'}": 1
    }
    assert figures["purges_by_trigger"] == {"Case closed (P3)": 1}
    assert "verified on" in page and figures["verified_at"] in page
    assert "Does it use artificial intelligence?" in page and "How effectiveness is measured" in page
    assert "Camera data is kept 30 days" in page
    assert page.count('<svg class="chart"') == 3
    assert "<script" not in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")

    # The console serves the published folder to anyone, without sign-in.
    with running_console(harness, public_dir=out) as web:
        reply = web.http().get("/transparency/")
        assert reply.status == 200 and "verified on" in reply.text
        assert reply.headers["content-security-policy"] == CSP


def test_P16_P17_nothing_is_published_from_an_edited_log(harness: Harness, tmp_path: Path) -> None:
    if harness.backend != "sqlite":
        pytest.skip("tampering is done directly on the SQLite file")
    season(harness)
    with sqlite3.connect(harness.data_dir / "matcher.db") as connection:
        connection.execute("UPDATE audit_records SET count = 0 WHERE action = 'faces.search'")
    out = tmp_path / "public"
    assert publish(harness, out) == 3
    assert not out.exists()

"""The console in a real headless chromium: what investigators, operators and auditors do with it.

The service runs the generated face models (tests/conftest.py), so photos are detected and
embedded for real without ../shared; one test repeats the journey with the real weights on real
photos, where ../shared has them. Screenshots of the main pages are written to
``$MATCHER_SCREENSHOTS`` when it is set (the README's docs/console/*.png come from there).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from matcher.console.sessions import INVESTIGATOR
from tests.conftest import START, Harness, near, unit, wait_until
from tests.console.conftest import RunningConsole, order_in_zone, running_console, sign_in
from tests.console.test_console_public import publish, season
from tests.test_face_photos import photo, real_harness  # noqa: F401  (real_harness: a fixture)

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("MATCHER_SCREENSHOTS", "")


def snap(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def png(name: str, data: bytes) -> dict[str, object]:
    return {"name": name, "mimeType": "image/png", "buffer": data}


def open_case(page: Any, case_id: str, title: str) -> None:
    page.fill("input[name=case_id]", case_id)
    page.fill("input[name=title]", title)
    page.fill("form[action='/cases'] input[name=reason]", "three break-ins on Olive St")
    page.click("form[action='/cases'] button")
    page.wait_for_url(f"**/cases/{case_id}")


def add_subject(page: Any, subject_id: str, label: str, role: str) -> None:
    page.click("details summary")
    form = page.locator("form[action$='/subjects']")
    form.locator("input[name=subject_id]").fill(subject_id)
    form.locator("input[name=label]").fill(label)
    form.locator("select[name=role]").select_option(role)
    form.locator("input[name=reason]").fill("seen at two scenes")
    form.locator("button").click()
    page.wait_for_selector(f"a[href$='/subjects/{subject_id}']")


def test_investigator_enrols_searches_closes_and_sees_the_receipt(
    face_web: RunningConsole, browser: Any
) -> None:
    page, h = browser, face_web.harness
    sign_in(page, face_web, "local-investigator")
    page.wait_for_url("**/cases")
    snap(page, "cases")
    open_case(page, "2026-0042", "Burglary series, 4th district")
    add_subject(page, "poi-1", "POI-1", "poi")
    add_subject(page, "poi-2", "POI-2", "suspect")
    add_subject(page, "wit-1", "W-1", "witness")

    # Several photos at once: one usable, one without a face; each outcome explained.
    page.click("a[href$='/subjects/poi-1']")
    page.set_input_files(
        "input[name=photos]",
        [png("booking.png", photo((1, (320, 320)))), png("empty.png", photo())],
    )
    page.fill("form[action$='/enrol'] input[name=reason]", "booking photo")
    page.click("form[action$='/enrol'] button")
    page.wait_for_selector("text=1 of 2 photo(s) enrolled")
    assert page.locator("section.outcome.ok h2").inner_text() == "booking.png: enrolled"
    refused = page.locator("section.outcome.refused")
    assert "No face was found in this photo" in refused.inner_text()
    assert "NO_FACE" in refused.inner_text()

    # Two faces: the detector's boxes are drawn and the person picks one by clicking it.
    page.goto(f"{face_web.url}/cases/2026-0042/subjects/poi-2")
    page.set_input_files("input[name=photos]", [png("group.png", photo((2, (160, 160)), (9, (480, 480))))])
    page.fill("form[action$='/enrol'] input[name=reason]", "photo from the file")
    page.click("form[action$='/enrol'] button")
    page.wait_for_selector("form.pick")
    assert page.locator("form.pick svg.photo rect.face").count() == 2
    assert "several faces" in page.locator(".refusal").inner_text()
    assert "Policy rule P1" in page.locator(".refusal").inner_text()
    snap(page, "enrol-pick-a-face")
    rects = page.locator("form.pick svg.photo rect.face")
    left = min(range(2), key=lambda i: float(rects.nth(i).get_attribute("x") or 0))
    rects.nth(left).click()  # the script ticks the radio button of the box clicked
    assert page.locator("form.pick input[name=face_box]").nth(left).is_checked()
    page.click("form.pick button")
    page.wait_for_selector("text=1 of 1 photo(s) enrolled")
    [template] = h.client.list_face_templates("2026-0042", "poi-2")
    assert template.face_box.left < 200  # the face picked, at (160, 160), not the other one

    # A witness is never enrolled (P1), and the page says why.
    page.goto(f"{face_web.url}/cases/2026-0042/subjects/wit-1")
    page.set_input_files("input[name=photos]", [png("w.png", photo((3, (320, 320))))])
    page.fill("form[action$='/enrol'] input[name=reason]", "statement")
    page.click("form[action$='/enrol'] button")
    page.wait_for_selector("section.outcome.refused")
    assert "witnesses and victims never are" in page.inner_text("section.outcome.refused")
    assert "Policy rule P1" in page.inner_text("section.outcome.refused")

    # Search with another still: each face boxed, with its matches, scores and the threshold.
    page.goto(f"{face_web.url}/cases/2026-0042")
    page.set_input_files(
        "input[name=still]", [png("cctv.png", photo((1, (544, 96)), (2, (96, 544)), (77, (320, 320))))]
    )
    page.fill("form[action$='/search'] input[name=reason]", "CCTV still, Olive St")
    page.click("form[action$='/search'] button")
    page.wait_for_selector("section.face-result")
    snap(page, "search-results")
    assert page.locator("svg.photo rect.face").count() == 3
    assert page.inner_text("strong.threshold") == "0.35"
    texts = [page.inner_text(f"#face-{n}") for n in (1, 2, 3)]
    seen = sorted(("POI-1" in t, "POI-2" in t, "No match" in t) for t in texts)
    assert seen == [(False, False, True), (False, True, False), (True, False, False)]

    # Release a subject: their data goes at once (P2), and the case page shows the receipt.
    page.goto(f"{face_web.url}/cases/2026-0042")
    release = page.locator("form[action$='/poi-2/release']")
    release.locator("input[name=reason]").fill("alibi confirmed")
    release.locator("button").click()
    assert wait_until(lambda: [p.state for p in h.client.list_purges("2026-0042")] == [5], timeout=60)
    page.wait_for_selector("p.receipt:has-text('the subject was released (P2)')", timeout=15_000)
    assert "1 face template(s)" in page.inner_text("p.receipt")

    # Close the case; the page refreshes itself until the purge receipt is there.
    close = page.locator("form[action$='/close']")
    close.locator("input[name=reason]").fill("charges filed")
    close.locator("input[name=confirm]").check()
    close.locator("button").click()
    assert wait_until(lambda: [p.state for p in h.client.list_purges("2026-0042")] == [5, 5], timeout=60)
    closed = "p.receipt:has-text('the case was closed (P3)')"
    try:
        page.wait_for_selector(closed, timeout=15_000)  # the page's own refresh brings it
    except Exception:
        print(page.url, page.content()[:3000])
        raise
    assert "1 face template(s)" in page.inner_text(closed)
    snap(page, "case-closed-receipt")
    assert page.dialogs == []
    receipts = [r for r in h.audit("purge.receipt") if r.resource.startswith("cases/2026-0042")]
    assert sorted(r.count for r in receipts) == [1, 1]


def test_operator_receives_an_alert_live_and_acknowledges_it(web: RunningConsole, browser: Any) -> None:
    h = web.harness
    face = unit(101)
    camera = order_in_zone(h, "cam-17", "park", "po-7", "RI-7", face)

    page = browser
    sign_in(page, web, "local-operator")
    page.wait_for_url("**/alerts")
    page.wait_for_selector("text=Live: new alerts appear here")
    assert camera.report_sighting("cam-17", START, [near(face, 7)]).accepted
    row = page.wait_for_selector("tr.alert:has-text('RI-7')", timeout=15_000)
    assert "cameras/cam-17" in row.inner_text() and "zones/park" in row.inner_text()
    snap(page, "alerts-live")
    row.query_selector("button").click()
    page.wait_for_selector("tr.alert", state="detached")
    acks = h.audit("alert.ack")
    assert [r.outcome for r in acks] == [1] and acks[0].actor == "local-operator"
    # Acknowledged means gone: a fresh page does not bring it back.
    page.goto(f"{web.url}/alerts/now")
    assert page.locator("tr.alert").count() == 0


def test_auditor_filters_the_log_verifies_the_chain_and_reads_the_report(
    web: RunningConsole, browser: Any
) -> None:
    h = web.harness
    h.client.create_case("c-1", "Burglary series", reason="opened")
    h.client.create_subject("c-1", "poi-1", "poi", label="POI-1", reason="r")
    h.client.enroll_face("c-1", "poi-1", unit(1), reason="booking photo")
    h.client.search_faces(["c-1"], near(unit(1), 2), reason="still")
    h.client.close_case("c-1", reason="charges filed")
    with pytest.raises(Exception):  # noqa: B017  (a refusal, recorded: the chart must show it)
        h.client.create_subject("c-1", "poi-2", "poi", reason="")

    page = browser
    sign_in(page, web, "local-auditor")
    page.wait_for_url("**/audit")
    assert page.locator("table.audit tbody tr").count() >= 5
    page.select_option("select[name=outcome]", "REFUSED")
    page.click("form.filters button")
    rows = page.locator("table.audit tbody tr")
    assert rows.count() >= 1 and all("refused" in rows.nth(i).inner_text() for i in range(rows.count()))
    snap(page, "audit-log")
    page.click("text=Verify the chain")
    page.wait_for_selector("p.verified.ok")
    assert "The chain is intact" in page.inner_text("p.verified.ok")
    snap(page, "audit-verified")
    [verify] = h.audit("audit.verify")
    assert verify.actor == "local-auditor"

    page.goto(f"{web.url}/report?from=2026-01-01&to=2026-06-01")
    assert page.locator("svg.chart").count() == 3
    assert "chain verified" in page.inner_text("p.facts")
    refusal_rows = page.inner_text("section:has(h2:text('Refusals by reason')) table")
    assert "REASON_REQUIRED" in refusal_rows or "CASE_CLOSED" in refusal_rows
    assert "case_closed" in page.inner_text("section:has(h2:text('Purges by trigger')) table")
    snap(page, "report")


def test_script_in_a_case_title_is_shown_as_text_never_run(web: RunningConsole, browser: Any) -> None:
    title = "<script>alert('x')</script><img src=x onerror=alert(2)>"
    web.harness.client.create_case("c-x", title, reason="r")
    page = browser
    sign_in(page, web, "local-investigator")
    page.goto(f"{web.url}/cases/c-x")
    assert title in page.inner_text("h1")
    page.goto(f"{web.url}/cases")
    assert title in page.inner_text("table.list")
    assert page.dialogs == []
    assert page.locator("main img").count() == 0


def test_roles_see_only_their_pages(web: RunningConsole, browser: Any) -> None:
    page = browser
    sign_in(page, web, "local-auditor")
    page.wait_for_url("**/audit")
    assert page.locator("header nav a").all_inner_texts() == ["Audit log", "Report"]
    page.goto(f"{web.url}/cases")
    assert "None of your roles uses this page" in page.inner_text("main")
    page.click("text=Sign out")
    page.wait_for_url("**/signin")
    page.goto(f"{web.url}/audit")
    page.wait_for_url("**/signin")
    assert INVESTIGATOR not in page.inner_text("body")


def test_real_photos_enrol_one_search_another(real_harness: Harness, browser: Any) -> None:  # noqa: F811
    shared = Path(os.environ.get("MATCHER_SHARED_DIR", Path(__file__).resolve().parents[2] / ".." / "shared"))
    images = shared / "reference" / "images"
    if not (images / "obama.jpg").is_file():
        pytest.skip(f"{images} is absent: real photos live in ../shared, never in the repo")
    h = real_harness
    h.client.create_case("c-1", "Real photos", reason="r")
    h.client.create_subject("c-1", "poi-1", "suspect", label="SUSPECT-A", reason="r")
    h.client.create_subject("c-1", "poi-2", "suspect", label="SUSPECT-B", reason="r")
    with running_console(h) as web:
        page = browser
        sign_in(page, web, "local-investigator")
        for subject, file in (("poi-1", "obama.jpg"), ("poi-2", "biden.jpg")):
            page.goto(f"{web.url}/cases/c-1/subjects/{subject}")
            page.set_input_files("input[name=photos]", str(images / file))
            page.fill("form[action$='/enrol'] input[name=reason]", "booking photo")
            page.click("form[action$='/enrol'] button")
            page.wait_for_selector("text=1 of 1 photo(s) enrolled")
        page.goto(f"{web.url}/cases/c-1")
        page.set_input_files("input[name=still]", str(images / "obama2.jpg"))
        page.fill("form[action$='/search'] input[name=reason]", "CCTV still")
        page.click("form[action$='/search'] button")
        page.wait_for_selector("section.face-result")
        best = page.locator("#face-1 tr.match").first.inner_text()
        assert "SUSPECT-A" in best
        assert json.loads(h.audit("faces.search")[0].detail_json)["probes"] == 1


def test_public_page_opens_without_sign_in(harness: Harness, browser: Any, tmp_path: Path) -> None:
    season(harness)
    out = tmp_path / "public"
    assert publish(harness, out) == 0
    with running_console(harness, public_dir=out) as web:
        page = browser
        page.goto(f"{web.url}/transparency/")
        assert "How the city's face and plate matching is used" in page.inner_text("h1")
        assert page.locator("svg.chart").count() == 3
        assert page.locator("section.technology").count() == 4
        snap(page, "public-transparency")
        page.goto(out.joinpath("index.html").as_uri())  # as published: static files, no server
        assert page.locator("section.technology").count() == 4

"""What the console refuses, and what the service's audit log then shows (P10, P12, P16).

These speak HTTP directly (no browser): they send what a browser of another site, a forged form
or a curious person would send. Each refusal either never reaches the service (no session, a bad
form token, an oversized body: nothing is audited because nothing was asked), or is refused by
the service itself and appears in its audit log with the reason.
"""

from __future__ import annotations

import struct
import zlib

import pytest

from matcher.console.web import CSP
from tests.conftest import Harness, open_case_with_subject
from tests.console.conftest import Browserless, RunningConsole, running_console
from tests.test_face_photos import photo


def investigator(web: RunningConsole) -> tuple[Browserless, str]:
    client = web.http()
    assert client.sign_in("local-investigator", web.harness.token()).status == 303
    return client, client.get("/cases").csrf()


def test_no_session_sends_pages_to_sign_in_and_refuses_forms_and_streams(web: RunningConsole) -> None:
    client = web.http()
    for path in ("/cases", "/cases/c-1", "/audit", "/report", "/alerts", "/alerts/now"):
        reply = client.get(path)
        assert (reply.status, reply.headers["location"]) == (303, "/signin"), path
    assert client.post("/cases", {"case_id": "c-9", "title": "t", "reason": "r"}).status == 401
    stream = client.request("GET", "/alerts/events", headers={"Accept": "text/event-stream"})
    assert stream.status == 401
    assert web.harness.audit("case.create") == []


def test_P11_wrong_token_is_refused_by_the_service_and_audited(web: RunningConsole) -> None:
    client = web.http()
    reply = client.sign_in("local-investigator", "not-the-token")
    assert reply.status == 401
    assert "did not recognise your credentials" in reply.text and "Policy rule P16" in reply.text
    assert "matcher_console" not in client.cookies
    failures = web.harness.audit("auth.failure")
    assert len(failures) == 1 and failures[0].outcome == 2


def test_forged_csrf_token_changes_nothing_and_reaches_nothing(web: RunningConsole) -> None:
    client, token = investigator(web)
    forged = client.post("/cases", {"csrf": "forged", "case_id": "c-9", "title": "t", "reason": "r"})
    assert forged.status == 403 and "nothing was sent to the service" in forged.text
    missing = client.post("/cases", {"case_id": "c-9", "title": "t", "reason": "r"})
    assert missing.status == 403
    other_site = client.post(
        "/cases",
        {"csrf": token, "case_id": "c-9", "title": "t", "reason": "r"},
        {"Origin": "http://evil.example"},
    )
    assert other_site.status == 403
    assert web.harness.audit("case.create") == []
    assert list(web.harness.client.list_cases()) == []
    # The right token from the console's own origin works: the refusals above were the token's.
    ok = client.post("/cases", {"csrf": token, "case_id": "c-9", "title": "t", "reason": "r"})
    assert ok.status == 303 and [r.outcome for r in web.harness.audit("case.create")] == [1]


def test_sign_in_form_needs_its_own_token(web: RunningConsole) -> None:
    client = web.http()
    reply = client.post(
        "/signin", {"csrf": "x", "principal": "local-investigator", "token": web.harness.token()}
    )
    assert reply.status == 403 and web.harness.audit("user.whoami") == []


def test_P10_another_persons_case_id_in_the_url_is_refused_by_the_service_and_audited(
    web: RunningConsole,
) -> None:
    h = web.harness
    open_case_with_subject(h, "c-theirs")
    admin, head = h.as_("local-admin"), h.as_("local-head")
    admin.create_principal("det-b", display_name="Det. B", department="local", reason="new hire")
    admin.grant_role("det-b", "investigator", reason="CID")
    head.revalidate("det-b", reason="yearly review")
    h.app.auth.issue("det-b", h.data_dir / "tokens" / "det-b.token")
    client = web.http()
    assert client.sign_in("det-b", h.token("det-b")).status == 303
    for path in ("/cases/c-theirs", "/cases/c-theirs/subjects/poi-1", "/cases/no-such-case"):
        reply = client.get(path)
        assert reply.status == 403, path
        assert "This case is not assigned to you" in reply.text and "Policy rule P" in reply.text
    token = client.get("/cases").csrf()
    close = client.post("/cases/c-theirs/subjects/poi-1/release", {"csrf": token, "reason": "curious"})
    assert close.status == 403
    refused = [r for r in h.audit() if r.actor == "det-b" and r.outcome == 2]
    assert {(r.action, r.resource, r.code) for r in refused} >= {
        ("case.get", "cases/c-theirs", "CASE_NOT_ASSIGNED"),
        ("subject.get", "cases/c-theirs/subjects/poi-1", "CASE_NOT_ASSIGNED"),
        ("subject.release", "cases/c-theirs/subjects/poi-1", "CASE_NOT_ASSIGNED"),
    }
    assert h.client.get_subject("c-theirs", "poi-1").state == 1  # still active: nothing changed


def test_a_path_that_cannot_be_an_id_is_not_sent_on(web: RunningConsole) -> None:
    client, _ = investigator(web)
    assert client.get("/cases/" + "x" * 300).status == 404
    assert client.get("/cases/%3Cscript%3E").status == 404
    assert [r for r in web.harness.audit("case.get")] == []


def test_oversized_upload_is_refused_before_it_reaches_the_service(harness: Harness) -> None:
    open_case_with_subject(harness)
    with running_console(harness, max_upload_bytes=1024 * 1024) as web:
        client, token = investigator(web)
        big = b"\x89PNG\r\n\x1a\n" + bytes(2 * 1024 * 1024)
        reply = client.post_files(
            "/cases/c-1/subjects/poi-1/enrol",
            {"csrf": token, "reason": "booking"},
            [("photos", "big.png", big)],
        )
        assert reply.status == 413 and "larger than this console accepts (1 MiB)" in reply.text
    assert harness.audit("face.enroll") == []


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares its size and ends properly, with no pixels: refused from its header."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("filename", "data", "reason", "words"),
    [
        ("notes.txt", b"this is not a photo", "IMAGE_UNSUPPORTED_FORMAT", "This is not a JPEG or PNG image"),
        ("huge.png", _png_header_only(9000, 9000), "IMAGE_TOO_LARGE", "larger than the service accepts"),
        ("cut.png", photo((1, (320, 320)))[:-20], "IMAGE_TRUNCATED", "an incomplete copy"),
    ],
)
def test_bad_uploads_are_refused_by_the_service_explained_and_audited(
    face_web: RunningConsole, filename: str, data: bytes, reason: str, words: str
) -> None:
    h = face_web.harness
    open_case_with_subject(h)
    client, token = investigator(face_web)
    reply = client.post_files(
        "/cases/c-1/subjects/poi-1/enrol", {"csrf": token, "reason": "booking"}, [("photos", filename, data)]
    )
    assert reply.status == 422 and words in reply.text and reason in reply.text
    [record] = h.audit("face.enroll")
    assert (record.outcome, record.code) == (2, reason)
    assert h.client.list_face_templates("c-1", "poi-1") == []


def test_script_in_a_case_title_is_escaped(web: RunningConsole) -> None:
    title = '<script>alert("x")</script>'
    web.harness.client.create_case("c-x", title, reason="r")
    client, _ = investigator(web)
    for path in ("/cases", "/cases/c-x"):
        page = client.get(path).text
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page and title not in page


def test_every_page_carries_a_strict_policy_and_the_cookie_is_locked_down(web: RunningConsole) -> None:
    client = web.http()
    sign_in_page = client.get("/signin")
    reply = client.post(
        "/signin",
        {"csrf": sign_in_page.csrf(), "principal": "local-investigator", "token": web.harness.token()},
    )
    [cookie] = [c for c in reply.headers.get_all("set-cookie") or [] if c.startswith("matcher_console=")]
    assert (
        "HttpOnly" in cookie
        and "SameSite=Strict" in cookie
        and "Path=/" in cookie
        and "Max-Age=900" in cookie
    )
    assert "Secure" not in cookie  # plain HTTP here; under TLS the cookie is Secure and __Host-
    page = client.get("/cases")
    renewed = [c for c in page.headers.get_all("set-cookie") or [] if c.startswith("matcher_console=")]
    assert len(renewed) == 1 and "Max-Age=900" in renewed[0]  # each request renews the idle timeout
    assert page.headers["content-security-policy"] == CSP
    assert "frame-ancestors 'none'" in CSP and "'unsafe-inline'" not in CSP and "script-src 'self'" in CSP
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    assert '<script src="/static/console.js"' in page.text and "<script>" not in page.text
    assert " style=" not in page.text
    static = client.get("/static/console.js")
    assert static.status == 200 and static.headers["content-security-policy"] == CSP


def test_idle_session_ends_and_signing_out_ends_it(web: RunningConsole) -> None:
    client, token = investigator(web)
    assert client.get("/cases").status == 200
    signed_out = client.post("/signout", {"csrf": token})
    assert signed_out.status == 303 and len(web.console.sessions) == 0
    assert client.get("/cases").status == 303
    client, _ = investigator(web)
    web.console.sessions.idle = 0.0  # every session is now older than the idle limit
    assert client.get("/cases").headers["location"] == "/signin"
    assert len(web.console.sessions) == 0

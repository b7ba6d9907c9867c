"""Under mutual TLS the console signs people in with their own certificate (P14).

The console keeps the uploaded certificate and key in the session's own gRPC channel, in memory,
so the service sees the person's certificate on every call and names them by it, as it does for
the CLI. A certificate the service does not know is refused by the service; a file that is not a
key never gets a session.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from matcher.tls import DevCerts
from tests.conftest import Harness
from tests.console.conftest import Browserless, Reply, RunningConsole, running_console
from tests.test_mtls_server import _client, certs, tls_server  # noqa: F401  (fixtures)


def _sign_in(web: RunningConsole, cert: bytes, key: bytes) -> tuple[Browserless, Reply]:
    client = web.http()
    form = client.get("/signin")
    assert 'name="certificate"' in form.text and 'name="token"' not in form.text
    reply = client.post_files(
        "/signin", {"csrf": form.csrf()}, [("certificate", "me.crt", cert), ("key", "me.key", key)]
    )
    return client, reply


def _console(h: Harness, certs: DevCerts) -> AbstractContextManager[RunningConsole]:  # noqa: F811
    return running_console(h, target=f"localhost:{h.port}", service_ca=certs.ca_cert.read_bytes())


def test_P14_people_sign_in_with_their_certificate_and_act_as_themselves(
    tls_server: Harness,  # noqa: F811
    certs: DevCerts,  # noqa: F811
) -> None:
    h = tls_server
    admin = _client(h, certs, "admin")
    admin.create_principal("auditor", display_name="Auditor", department="audit", reason="hired")
    admin.grant_role("auditor", "auditor", reason="audit office")
    with _console(h, certs) as web:
        cert, key = (path.read_bytes() for path in certs.clients["auditor"])
        client, reply = _sign_in(web, cert, key)
        assert (reply.status, reply.headers["location"]) == (303, "/audit")
        page = client.get("/audit")
        assert page.status == 200 and "Auditor (auditor)" in page.text
        assert len(web.console.sessions) == 1
        records = _client(h, certs, "auditor").audit_records(action="user.whoami")
        assert any(r.actor == "auditor" and r.outcome == 1 for r in records)

        intruder = (path.read_bytes() for path in certs.clients["intruder"])
        _, refused = _sign_in(web, *intruder)
        assert refused.status == 401 and "not registered with the service" in refused.text

        _, garbage = _sign_in(web, cert, b"not a key")
        assert garbage.status == 401 and "did not accept this certificate" in garbage.text
        assert len(web.console.sessions) == 1

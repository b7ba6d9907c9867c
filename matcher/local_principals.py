"""First start on the embedded default: principals and tokens for trying the service locally.

With token authentication (no TLS configured), the first start creates, through the same audited
operations an administrator would use, one principal per duty so that separation of duties (P10)
holds even on a laptop:

- ``local-admin``: administrator (accounts; never data);
- ``local-designee``: the Mayor's designee (approves department heads, P11; never data, never
  accounts);
- ``local-head``: department head of department ``local`` (approves end users yearly, P11),
  approved by ``local-designee``;
- ``local-investigator``: case supervisor and investigator, approved by ``local-head``;
- ``local-auditor``: auditor (the audit log and reports);
- ``local-camera``: camera gateway (a system submitting plate reads and sightings), approved;
- ``local-registry``: registry officer (registered-individual orders, P5), approved;
- ``local-operator``: alert operator (sees the alerts of the zones assigned to it), approved.

Each token is written to ``DATA_DIR/tokens/NAME.token`` (mode 0600); ``client.token`` is the
investigator's, so that ``matcher`` commands work from the data folder's parent without flags.
With mutual TLS only the bootstrap administrator and the first designee are created (named by
``MATCHER_BOOTSTRAP_ADMIN`` and ``MATCHER_BOOTSTRAP_DESIGNEE``): production accounts are created by
the administrator, one per person or system, named by their certificates, and department heads
are approved by the designee, so that no one person makes a working end user (P10, P11).
"""

from __future__ import annotations

import logging
import shutil

from lifecycle.access import (
    ALERT_OPERATOR,
    AUDITOR,
    CAMERA_GATEWAY,
    CASE_SUPERVISOR,
    DEPARTMENT_HEAD,
    INVESTIGATOR,
    REGISTRY_OFFICER,
    AccessControl,
)
from lifecycle.access_models import KIND_HUMAN, KIND_SYSTEM
from matcher.config import Settings
from matcher.transport.auth import Authenticator

log = logging.getLogger(__name__)
DESIGNEE = "local-designee"
ADMIN, HEAD, INVESTIGATOR_ID, AUDITOR_ID, CAMERA, REGISTRY, OPERATOR = (
    "local-admin",
    "local-head",
    "local-investigator",
    "local-auditor",
    "local-camera",
    "local-registry",
    "local-operator",
)
WHY = "local principals created at first start"


def bootstrap(settings: Settings, access: AccessControl, auth: Authenticator) -> None:
    """Creates the first principals when none exists; does nothing afterwards."""
    admin = settings.bootstrap_admin if settings.tls_enabled else ADMIN
    designee = settings.bootstrap_designee if settings.tls_enabled else DESIGNEE
    if not access.bootstrap_administrator(admin, display_name="Administrator", department="it"):
        return
    access.bootstrap_designee(designee, display_name="Mayor's designee", department="mayor")
    log.warning("first start: created the administrator %r and the Mayor's designee %r", admin, designee)
    if settings.tls_enabled:
        return
    auth.issue(admin, settings.token_dir / f"{admin}.token")
    auth.issue(designee, settings.token_dir / f"{designee}.token")
    people = [
        (HEAD, "Department head", KIND_HUMAN, [DEPARTMENT_HEAD]),
        (INVESTIGATOR_ID, "Local investigator", KIND_HUMAN, [CASE_SUPERVISOR, INVESTIGATOR]),
        (AUDITOR_ID, "Local auditor", KIND_HUMAN, [AUDITOR]),
        (CAMERA, "Local camera gateway", KIND_SYSTEM, [CAMERA_GATEWAY]),
        (REGISTRY, "Local registry officer", KIND_HUMAN, [REGISTRY_OFFICER]),
        (OPERATOR, "Local alert operator", KIND_HUMAN, [ALERT_OPERATOR]),
    ]
    for principal_id, display_name, kind, roles in people:
        access.create_principal(
            admin, principal_id, display_name=display_name, department="local", kind=kind, reason=WHY
        )
        for role in roles:
            access.grant_role(admin, principal_id, role, reason=WHY)
        auth.issue(principal_id, settings.token_dir / f"{principal_id}.token")
    access.approve_head(designee, HEAD, reason=WHY)
    for principal_id in (INVESTIGATOR_ID, CAMERA, REGISTRY, OPERATOR):
        access.revalidate(HEAD, principal_id, reason=WHY)
    shutil.copyfile(settings.token_dir / f"{INVESTIGATOR_ID}.token", settings.client_token_file)
    settings.client_token_file.chmod(0o600)
    log.warning("first start: local principals and their tokens are in %s", settings.token_dir)

"""AccessService: principals, roles, revalidation, lockouts and case assignments (P10, P11).

Each change runs through :class:`lifecycle.access.AccessControl`, which checks the caller's own
permission and the separation of duties inside the change's transaction and audits it there.
"""

from __future__ import annotations

from lifecycle.access import REVALIDATION_PERIOD
from lifecycle.access_models import Principal
from lifecycle.errors import Kind, PolicyError
from matcher.app import App
from matcher.transport import convert, names
from matcher.transport.calls import rpc
from matcher.v1 import access_pb2


def principal_id(name: str) -> str:
    return names.parts(name, ("principals",), "principal")[0]


class AccessService:
    def __init__(self, app: App) -> None:
        self.app = app

    def _message(self, row: Principal) -> access_pb2.Principal:
        access = self.app.access
        approval = access.head_approval(row.id)
        return access_pb2.Principal(
            name=f"principals/{row.id}",
            display_name=row.display_name,
            department=row.department,
            kind=row.kind.upper(),
            roles=sorted(access.roles_of(row.id)),
            assigned_cases=sorted(f"cases/{c}" for c in access.assigned_cases(row.id)),
            revalidate_time=convert.timestamp(row.last_revalidated_at),
            revalidated_by=row.revalidated_by or "",
            revalidation_expire_time=convert.timestamp(
                row.last_revalidated_at + REVALIDATION_PERIOD if row.last_revalidated_at else None
            ),
            lock_time=convert.timestamp(row.locked_at if access.locked_until(row) else None),
            lock_reason=(row.lock_reason or "") if access.locked_until(row) else "",
            create_time=convert.timestamp(row.created_at),
            head_approve_time=convert.timestamp(approval.approved_at if approval else None),
            head_approved_by=approval.approved_by if approval else "",
        )

    def _get(self, principal: str) -> access_pb2.Principal:
        row = self.app.access.principal(principal)
        if row is None:
            raise PolicyError(
                Kind.NOT_FOUND, "PRINCIPAL_NOT_FOUND", f"principal {principal!r} does not exist"
            )
        return self._message(row)

    @rpc("user.whoami", lambda r: "principals/self")
    def WhoAmI(self, request: access_pb2.WhoAmIRequest, actor: str) -> access_pb2.Principal:
        return self._get(actor)

    @rpc("user.create", lambda r: f"principals/{r.principal_id}", audits_itself=True)
    def CreatePrincipal(self, request: access_pb2.CreatePrincipalRequest, actor: str) -> access_pb2.Principal:
        body = request.principal
        kind = access_pb2.Principal.Kind.Name(body.kind).lower() if body.kind else "human"
        row = self.app.access.create_principal(
            actor,
            request.principal_id,
            display_name=body.display_name,
            department=body.department,
            kind=kind,
            reason=request.reason,
        )
        return self._message(row)

    @rpc("user.get", lambda r: r.name)
    def GetPrincipal(self, request: access_pb2.GetPrincipalRequest, actor: str) -> access_pb2.Principal:
        return self._get(principal_id(request.name))

    @rpc("user.list", lambda r: "principals", count=lambda resp: len(resp.principals))
    def ListPrincipals(
        self, request: access_pb2.ListPrincipalsRequest, actor: str
    ) -> access_pb2.ListPrincipalsResponse:
        return access_pb2.ListPrincipalsResponse(
            principals=[self._message(row) for row in self.app.access.principals()]
        )

    @rpc("user.grant_role", lambda r: r.name, audits_itself=True)
    def GrantRole(self, request: access_pb2.GrantRoleRequest, actor: str) -> access_pb2.Principal:
        target = principal_id(request.name)
        self.app.access.grant_role(actor, target, request.role, reason=request.reason)
        return self._get(target)

    @rpc("user.revoke_role", lambda r: r.name, audits_itself=True)
    def RevokeRole(self, request: access_pb2.RevokeRoleRequest, actor: str) -> access_pb2.Principal:
        target = principal_id(request.name)
        self.app.access.revoke_role(actor, target, request.role, reason=request.reason)
        return self._get(target)

    @rpc("user.revalidate", lambda r: r.name, audits_itself=True)
    def RevalidatePrincipal(
        self, request: access_pb2.RevalidatePrincipalRequest, actor: str
    ) -> access_pb2.Principal:
        row = self.app.access.revalidate(actor, principal_id(request.name), reason=request.reason)
        return self._message(row)

    @rpc("user.unlock", lambda r: r.name, audits_itself=True)
    def UnlockPrincipal(self, request: access_pb2.UnlockPrincipalRequest, actor: str) -> access_pb2.Principal:
        row = self.app.access.unlock(actor, principal_id(request.name), reason=request.reason)
        return self._message(row)

    @rpc("head.approve", lambda r: r.name, audits_itself=True)
    def ApproveDepartmentHead(
        self, request: access_pb2.ApproveDepartmentHeadRequest, actor: str
    ) -> access_pb2.Principal:
        target = principal_id(request.name)
        self.app.access.approve_head(actor, target, reason=request.reason)
        return self._get(target)

    @rpc("head.withdraw", lambda r: r.name, audits_itself=True)
    def WithdrawDepartmentHead(
        self, request: access_pb2.WithdrawDepartmentHeadRequest, actor: str
    ) -> access_pb2.Principal:
        target = principal_id(request.name)
        self.app.access.withdraw_head(actor, target, reason=request.reason)
        return self._get(target)

    @rpc("designee.appoint", lambda r: r.name, audits_itself=True)
    def AppointDesignee(self, request: access_pb2.AppointDesigneeRequest, actor: str) -> access_pb2.Principal:
        target = principal_id(request.name)
        self.app.access.appoint_designee(actor, target, reason=request.reason)
        return self._get(target)

    @rpc(
        "case.assign",
        lambda r: f"{r.case}/assignments/{r.principal.removeprefix('principals/')}",
        cases=lambda r: [names.case_id(r.case)],
        audits_itself=True,
    )
    def AssignCase(self, request: access_pb2.AssignCaseRequest, actor: str) -> access_pb2.CaseAssignment:
        case_id, target = names.case_id(request.case), principal_id(request.principal)
        row = self.app.access.assign_case(actor, target, case_id, reason=request.reason)
        return access_pb2.CaseAssignment(
            name=f"cases/{case_id}/assignments/{target}",
            case=f"cases/{case_id}",
            principal=f"principals/{target}",
            assigned_by=row.assigned_by,
            create_time=convert.timestamp(row.assigned_at),
        )

    @rpc(
        "case.unassign",
        lambda r: f"{r.case}/assignments/{r.principal.removeprefix('principals/')}",
        cases=lambda r: [names.case_id(r.case)],
        audits_itself=True,
    )
    def UnassignCase(
        self, request: access_pb2.UnassignCaseRequest, actor: str
    ) -> access_pb2.UnassignCaseResponse:
        case_id, target = names.case_id(request.case), principal_id(request.principal)
        self.app.access.unassign_case(actor, target, case_id, reason=request.reason)
        return access_pb2.UnassignCaseResponse()

"""CLI commands for accounts (P10, P11) and case assignments."""

from __future__ import annotations

import argparse
from typing import Any

from matcher.cli.output import Printer, enum_name, short_time, with_reason
from matcher.client import MatcherClient

PRINCIPAL_COLS = ("PRINCIPAL", "KIND", "DEPARTMENT", "ROLES", "CASES", "REVALIDATED", "VALID UNTIL", "LOCKED")


def principal_row(p: Any) -> list[object]:
    return [
        p.name.removeprefix("principals/"),
        enum_name(p, "kind"),
        p.department,
        ",".join(p.roles),
        len(p.assigned_cases),
        short_time(p.revalidate_time),
        short_time(p.revalidation_expire_time),
        short_time(p.lock_time),
    ]


def _show(out: Printer, principal: Any) -> int:
    out.message(principal, PRINCIPAL_COLS, principal_row)
    return 0


def whoami(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    return _show(out, client.whoami())


def users_list(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    out.messages(client.list_principals(), PRINCIPAL_COLS, principal_row)
    return 0


def users_show(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    return _show(out, client.get_principal(args.principal))


def users_create(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    principal = client.create_principal(
        args.principal,
        display_name=args.name,
        department=args.department,
        system=args.system,
        reason=args.reason,
    )
    return _show(out, principal)


def users_grant(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    return _show(out, client.grant_role(args.principal, args.role, reason=args.reason))


def users_revoke(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    return _show(out, client.revoke_role(args.principal, args.role, reason=args.reason))


def users_revalidate(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    return _show(out, client.revalidate(args.principal, reason=args.reason))


def users_unlock(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    return _show(out, client.unlock(args.principal, reason=args.reason))


def case_assign(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    assignment = client.assign_case(args.case, args.principal, reason=args.reason)
    out.message(
        assignment,
        ("ASSIGNMENT", "BY", "SINCE"),
        lambda a: [a.name, a.assigned_by, short_time(a.create_time)],
    )
    return 0


def case_unassign(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    client.unassign_case(args.case, args.principal, reason=args.reason)
    if not out.as_json:
        print(f"cases/{args.case} is no longer assigned to {args.principal}")
    return 0


def users_approve_head(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    return _show(out, client.approve_department_head(args.principal, reason=args.reason))


def users_withdraw_head(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    return _show(out, client.withdraw_department_head(args.principal, reason=args.reason))


def users_appoint_designee(client: MatcherClient, args: argparse.Namespace, out: Printer) -> int:
    return _show(out, client.appoint_designee(args.principal, reason=args.reason))


def register(commands: Any) -> None:
    commands.add_parser("whoami", help="your principal, roles and assigned cases").set_defaults(
        handler=whoami
    )
    users = commands.add_parser("users", help="accounts: administrators and department heads").add_subparsers(
        dest="action", required=True
    )
    users.add_parser("list").set_defaults(handler=users_list)
    show = users.add_parser("show")
    show.add_argument("principal")
    show.set_defaults(handler=users_show)
    create = with_reason(users.add_parser("create", help="create an account (administrator)"))
    create.add_argument("principal", help="id: the certificate's common name")
    create.add_argument("--name", required=True, help="display name")
    create.add_argument("--department", required=True)
    create.add_argument("--system", action="store_true", help="a system, not a person")
    create.set_defaults(handler=users_create)
    for verb, handler, text in (
        ("grant", users_grant, "grant a role (administrator; P10 refuses mixing duties)"),
        ("revoke", users_revoke, "revoke a role (administrator)"),
    ):
        parser = with_reason(users.add_parser(verb, help=text))
        parser.add_argument("principal")
        parser.add_argument("role")
        parser.set_defaults(handler=handler)
    for verb, handler, text in (
        ("revalidate", users_revalidate, "approve an end user for another year (department head, P11)"),
        ("unlock", users_unlock, "release an account locked after failed logins (administrator)"),
        ("approve-head", users_approve_head, "approve a department head (the Mayor's designee, P11)"),
        ("withdraw-head", users_withdraw_head, "end a department head's standing (the Mayor's designee)"),
        ("appoint-designee", users_appoint_designee, "appoint another Mayor's designee (a designee)"),
    ):
        parser = with_reason(users.add_parser(verb, help=text))
        parser.add_argument("principal")
        parser.set_defaults(handler=handler)

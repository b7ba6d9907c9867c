"""One typed source of audit action names (P16, P17): writers, the permission table and the report.

The report once counted ``alert.raise``, which no code wrote, and missed the alerts the sightings
raised. Now every name the code writes (``action=`` of an audit record, the action an RPC is
declared and audited under) and every name the permission table or the report reads must be a
member of :class:`lifecycle.actions.Action`, and every action the report counts must be written
by some code: a figure can no longer be fed by a name nobody writes.
"""

from __future__ import annotations

import ast
from pathlib import Path

from lifecycle.access import PERMISSIONS
from lifecycle.actions import Action
from lifecycle.report import COUNTED

ROOT = Path(__file__).resolve().parents[1]
DECLARERS = {"rpc", "server_stream", "client_stream"}


def _names(node: ast.AST) -> set[str]:
    """The action names an expression can evaluate to: literals and ``Action.X`` members."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "Action":
        return {Action[node.attr].value}
    if isinstance(node, ast.IfExp):
        return _names(node.body) | _names(node.orelse)
    if isinstance(node, ast.Subscript):  # e.g. decision.action[:64]: a name passed along
        return set()
    return set()


def written(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = (
                func.id
                if isinstance(func, ast.Name)
                else func.attr
                if isinstance(func, ast.Attribute)
                else ""
            )
            if name in DECLARERS and node.args:
                found |= _names(node.args[0])
            if name in {"append", "record", "_append", "refuse", "_record_refusal"}:
                for keyword in node.keywords:
                    if keyword.arg == "action":
                        found |= _names(keyword.value)
        elif isinstance(node, ast.AnnAssign | ast.Assign):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            if any(isinstance(t, ast.Name) and t.id.startswith("ACTION_") for t in targets) and node.value:
                found |= _names(node.value)
    return found


def code_actions() -> dict[str, set[str]]:
    where: dict[str, set[str]] = {}
    for folder in ("lifecycle", "matcher"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT).parts
            if "v1" in parts or "cli" in parts or "console" in parts:
                continue  # generated code; clients name actions only to filter the log
            for action in written(ast.parse(path.read_text(), str(path))):
                where.setdefault(action, set()).add(str(path.relative_to(ROOT)))
    return where


def test_every_action_written_is_a_member() -> None:
    where = code_actions()
    assert len(where) > 40, "the scan no longer finds the writers"
    unknown = {name: paths for name, paths in where.items() if name not in set(Action)}
    assert not unknown, f"actions written but not in lifecycle.actions.Action: {unknown}"


def test_the_permission_table_names_only_members() -> None:
    assert set(PERMISSIONS) <= set(Action)


def test_every_action_the_report_counts_is_written_somewhere() -> None:
    where = code_actions()
    never = sorted(action for action in COUNTED if action.value not in where)
    assert not never, f"the report counts actions that no code writes: {never}"
    assert Action.SIGHTINGS_REPORT in COUNTED and Action.COMPLAINT_RECORD in COUNTED


def test_the_scan_finds_each_way_of_writing_an_action() -> None:
    sample = ast.parse(
        "audit.append(session, actor=a, action=Action.CASE_CREATE)\n"
        "audit.record(actor=a, action='case.close' if x else 'order.end')\n"
        "@rpc('case.get', lambda r: r.name)\ndef f(): pass\n"
        "ACTION_GRANT: Final = Action.WAIVER_GRANT\n"
    )
    assert written(sample) == {"case.create", "case.close", "order.end", "case.get", "waiver.grant"}

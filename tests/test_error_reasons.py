"""Every refusal reason the code can raise is a name of ``matcher.v1.ErrorReason`` (errors.proto).

A reason missing from the contract fails only when it is raised (``Refusal.to_status`` looks it
up), so the clients would see INTERNAL for a plain bad request. This test reads the code instead:
the members of every ``...Reason`` enum, the reason argument of every ``PolicyError`` and
``Refusal``, any ``reason="..."`` keyword, and the module constants that name a reason
(``UNKNOWN_PRINCIPAL: Final = "UNKNOWN_PRINCIPAL"``), and checks each against the enum.
"""

from __future__ import annotations

import ast
from pathlib import Path

from matcher.v1 import errors_pb2

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [ROOT / "lifecycle", ROOT / "matcher"]
RAISERS = {"PolicyError", "AuditedRefusal", "Refusal", "_refusal"}


def _is_reason(text: object) -> bool:
    return isinstance(text, str) and text.isupper() and "_" in text and text.replace("_", "").isalnum()


def _literal(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def reasons_in(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name.endswith("Reason"):
            for item in node.body:
                if isinstance(item, ast.Assign) and (value := _literal(item.value)) is not None:
                    found.add(value)
        elif isinstance(node, ast.Call):
            if _name(node.func) in RAISERS and len(node.args) >= 2 and (value := _literal(node.args[1])):
                found.add(value)
            for keyword in node.keywords:
                if keyword.arg == "reason" and _is_reason(value := _literal(keyword.value)):
                    found.add(str(value))
        elif isinstance(node, ast.AnnAssign | ast.Assign):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            value = _literal(node.value)
            for target in targets:
                if isinstance(target, ast.Name) and value == target.id and _is_reason(value):
                    found.add(value)
    return found


def code_reasons() -> dict[str, list[str]]:
    where: dict[str, list[str]] = {}
    for folder in SOURCES:
        for path in sorted(folder.rglob("*.py")):
            if "v1" in path.relative_to(ROOT).parts:
                continue  # generated code
            for reason in reasons_in(ast.parse(path.read_text(), str(path))):
                where.setdefault(reason, []).append(str(path.relative_to(ROOT)))
    return where


def test_every_reason_the_code_raises_is_in_errors_proto() -> None:
    where = code_reasons()
    assert len(where) > 50, "the scan found too few reasons: it no longer reads the code"
    contract = set(errors_pb2.ErrorReason.keys())
    missing = {reason: paths for reason, paths in where.items() if reason not in contract}
    assert not missing, f"reasons raised in code but not in errors.proto: {missing}"


def test_the_scan_sees_each_way_a_reason_is_written() -> None:
    sample = ast.parse(
        "class FooReason(StrEnum):\n    A_B = 'A_B'\n"
        "PolicyError(Kind.NOT_FOUND, 'C_D', 'm')\n"
        "Refusal(grpc.StatusCode.X, 'E_F', 'm')\n"
        "make(reason='G_H')\n"
        "I_J: Final = 'I_J'\n"
        "ok = 'not_a_reason'\n"
    )
    assert reasons_in(sample) == {"A_B", "C_D", "E_F", "G_H", "I_J"}

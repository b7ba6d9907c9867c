"""Resource names (AIP-122) to ids and back."""

from __future__ import annotations

from lifecycle.errors import Kind, PolicyError


def parts(name: str, pattern: tuple[str, ...], what: str) -> list[str]:
    parts = name.split("/")
    shape = "/".join(f"{p}/{{{p[:-1]}}}" for p in pattern)
    if len(parts) != 2 * len(pattern) or any(
        parts[2 * i] != collection or not parts[2 * i + 1] for i, collection in enumerate(pattern)
    ):
        raise PolicyError(
            Kind.INVALID_ARGUMENT, "FIELD_INVALID", f"{what} {name!r} is not a name of the form {shape}"
        )
    return parts[1::2]


def case_id(name: str) -> str:
    return parts(name, ("cases",), "case")[0]


def order_id(name: str) -> str:
    return parts(name, ("orders",), "order")[0]


def subject_ids(name: str) -> tuple[str, str]:
    case, subject = parts(name, ("cases", "subjects"), "subject")
    return case, subject


def hold_ids(name: str) -> tuple[str, str]:
    case, hold = parts(name, ("cases", "legalHolds"), "legal hold")
    return case, hold


def case_name(case: str) -> str:
    return f"cases/{case}"


def subject_name(case: str, subject: str) -> str:
    return f"cases/{case}/subjects/{subject}"


MAX_ID = 2**63 - 1


def number(text: str, what: str) -> int:
    """A decimal id (an alert's, a resume token's) that fits the database's 64-bit integers."""
    if not text.isascii() or not text.isdigit() or len(text) > 19 or int(text) > MAX_ID:
        raise PolicyError(
            Kind.INVALID_ARGUMENT,
            "PAGE_TOKEN_INVALID" if what == "resume token" else "FIELD_INVALID",
            f"the {what} is not one of ours: a decimal number below 2^63 is expected",
        )
    return int(text)

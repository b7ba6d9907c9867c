"""Opaque page tokens (AIP-158): the last id of the previous page, encoded."""

from __future__ import annotations

import base64
import binascii

from lifecycle.errors import Kind, PolicyError

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


def page_size(requested: int) -> int:
    if requested < 0:
        raise PolicyError(Kind.INVALID_ARGUMENT, "FIELD_INVALID", "page_size must not be negative")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def decode(token: str) -> str:
    if not token:
        return ""
    try:
        return base64.urlsafe_b64decode(token.encode()).decode().removeprefix("after:")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise PolicyError(
            Kind.INVALID_ARGUMENT,
            "PAGE_TOKEN_INVALID",
            "the page token was not issued by this listing; start again without one",
        ) from exc


def encode(last_id: str) -> str:
    return base64.urlsafe_b64encode(f"after:{last_id}".encode()).decode()

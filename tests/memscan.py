"""Counts byte strings in another process's memory through ``/proc/PID/maps`` and ``/proc/PID/mem``.

Linux only, and the reader needs ptrace access to the target (root, or the same user with
``ptrace_scope`` 0 and a dumpable target). Every readable mapping is read except file-backed
mappings that are not writable: those hold the file's own bytes (shared libraries, fonts) and
nothing the process computed, so skipping them loses nothing and saves most of the reading.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Hashable, Iterator, Mapping
from pathlib import Path
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
_CHUNK = 4 << 20
# Untouched pages read as zeros, and freed blocks (under glibc perturb) as 0xff: skipped fast.
_BLANK = (bytes(_CHUNK), b"\xff" * _CHUNK)
_SKIPPED = ("[vvar]", "[vvar_vclock]", "[vsyscall]")


def unavailable_reason(pid: int) -> str:
    """Why this process cannot scan ``pid``'s memory here, or "" when it can."""
    if not sys.platform.startswith("linux"):
        return f"/proc/PID/mem exists on Linux only (this is {sys.platform})"
    if os.geteuid() != 0:
        return "reading another process's memory needs root (ptrace access) and the tests run as a user"
    try:
        with open(f"/proc/{pid}/mem", "rb"):
            pass
    except OSError as error:
        return f"/proc/{pid}/mem cannot be opened: {error}"
    return ""


def regions(pid: int) -> Iterator[tuple[int, int, str]]:
    """(start, end, description) of each mapping worth reading."""
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        span, perms = fields[0], fields[1]
        path = fields[5] if len(fields) == 6 else ""
        if "r" not in perms or path in _SKIPPED:
            continue
        if path.startswith("/") and "w" not in perms:
            continue  # The file's own bytes (see the module docstring).
        start, end = (int(part, 16) for part in span.split("-"))
        yield start, end, path


def count(pid: int, needles: Mapping[K, bytes]) -> dict[K, int]:
    """How often each needle occurs in the process's readable memory (across chunk edges too)."""
    counts = dict.fromkeys(needles, 0)
    overlap = max((len(n) for n in needles.values()), default=1) - 1
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for start, end, _ in regions(pid):
            position, tail = start, b""
            while position < end:
                size = min(_CHUNK, end - position)
                try:
                    mem.seek(position)
                    chunk = mem.read(size)
                except OSError:  # Unmapped since the maps were read, or a guard page.
                    break
                position += size
                if chunk in _BLANK:
                    tail = b""
                    continue
                window = tail + chunk
                for name, needle in needles.items():
                    counts[name] += _occurrences(window, needle, len(tail))
                tail = window[-overlap:] if overlap else b""
    return counts


def _occurrences(window: bytes, needle: bytes, tail_length: int) -> int:
    """Occurrences of ``needle`` that end past the carried-over tail (those were counted before)."""
    found, at = 0, window.find(needle)
    while at >= 0:
        if at + len(needle) > tail_length:
            found += 1
        at = window.find(needle, at + 1)
    return found


def scanned_bytes(pid: int) -> int:
    """How many bytes :func:`count` reads (for the report)."""
    return sum(end - start for start, end, _ in regions(pid))

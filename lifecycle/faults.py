"""Fault points: named places where a test can make the process die as if by ``kill -9``.

The crash tests start the service through ``tests/serve_for_tests.py``, which arms one point;
the process sends itself SIGKILL when it gets there. This is how the tests prove that a purge
interrupted at any step completes after a restart, with its receipt written exactly once.

Nothing in a production start arms a point: no environment variable or file is read here, so
whoever can set a variable for the service cannot make it kill itself. Unarmed, a point costs one
comparison.
"""

from __future__ import annotations

import os
import signal

_armed: str | None = None


def arm(point: str | None) -> None:
    """Makes the process die at ``point`` (tests only: ``tests/serve_for_tests.py``)."""
    global _armed
    _armed = point or None


def hit(point: str) -> None:
    if _armed is not None and _armed == point:
        os.kill(os.getpid(), signal.SIGKILL)

"""Fault points: named places where a test can make the process die as if by ``kill -9``.

Set ``MATCHER_FAULT_POINT`` to a point's name and the process sends itself SIGKILL when it gets
there. This is how the tests prove that a purge interrupted at any step completes after a
restart, with its receipt written exactly once. Unset (always, in production), it costs one
dictionary lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "MATCHER_FAULT_POINT"


def hit(point: str) -> None:
    if os.environ.get(ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)

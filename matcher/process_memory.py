"""What the service process does so that destroyed data does not live on in its memory (P3, P18).

Python cannot overwrite an immutable ``bytes`` or ``str``: a template's request bytes, a plate
text, a ciphertext read from the database stay in the heap after the last reference goes, until
the allocator happens to reuse the block. Measured on a real server (tests/
test_destruction_memory.py), that was every purged template's raw bytes and every purged plate
text, 5 s after the purge receipt. So the allocator is told to scrub what is freed:

* ``PYTHONMALLOC=malloc``: every Python object goes through glibc's ``malloc`` (pymalloc's arenas
  would keep freed small objects untouched);
* ``GLIBC_TUNABLES=glibc.malloc.perturb=255``: glibc overwrites every freed block (with 0xff) and
  fills every new one (with 0x00);
* ``glibc.malloc.tcache_count=0``: without it, small blocks freed into the per-thread cache skip
  the overwrite (glibc perturbs on the other paths only), and plate texts stayed readable.

Both must be set before the interpreter starts, so ``matcher serve`` re-executes itself with
them (:func:`reexec_scrubbed`), once: the marker variable stops a loop when something strips them
again. What they cost is measured by ``benchmarks/scrub_cost.py``.

And at the start of ``serve`` (:func:`harden`): no core dumps (RLIMIT_CORE 0, and not dumpable,
which also keeps other processes of the same user from reading its memory), and memory locked
(``mlockall``) so that it is never written to swap, where that is permitted.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform
import resource
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

log = logging.getLogger(__name__)
TUNABLES = {"glibc.malloc.perturb": "255", "glibc.malloc.tcache_count": "0"}
REEXEC_MARKER = "MATCHER_SCRUB_REEXEC"
OPT_OUT = "MATCHER_SCRUB_FREED_MEMORY"  # "off": for measuring the cost only (benchmarks).
_PR_SET_DUMPABLE = 4
_MCL_CURRENT, _MCL_FUTURE, _MCL_ONFAULT = 1, 2, 4
_CAP_IPC_LOCK = 14


def scrubbing_environment(env: Mapping[str, str]) -> dict[str, str] | None:
    """``env`` with the allocator settings added, or None when it already has them."""
    tunables = [item for item in env.get("GLIBC_TUNABLES", "").split(":") if item]
    current = dict(item.partition("=")[::2] for item in tunables)
    if all(current.get(name) == value for name, value in TUNABLES.items()) and (
        env.get("PYTHONMALLOC") == "malloc"
    ):
        return None
    kept = [item for item in tunables if item.partition("=")[0] not in TUNABLES]
    wanted = dict(env)
    wanted["GLIBC_TUNABLES"] = ":".join([*kept, *(f"{name}={value}" for name, value in TUNABLES.items())])
    wanted["PYTHONMALLOC"] = "malloc"
    return wanted


def _glibc() -> bool:
    return sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


def scrub_status(env: Mapping[str, str] | None = None) -> tuple[bool, str]:
    """Whether freed memory is scrubbed, and one line for the start-up log saying so or why not."""
    env = os.environ if env is None else env
    if env.get(OPT_OUT) == "off":
        return False, f"freed memory is NOT scrubbed: {OPT_OUT}=off (purged data may stay in memory)"
    if not _glibc():
        return False, "freed memory is NOT scrubbed: not Linux with glibc (purged data may stay in memory)"
    if scrubbing_environment(env) is not None:
        return False, "freed memory is NOT scrubbed: the allocator settings were removed after re-executing"
    return True, "freed memory is scrubbed (PYTHONMALLOC=malloc, glibc perturb, no thread cache)"


def reexec_scrubbed(argv: Sequence[str] | None = None) -> None:
    """Replaces this process by itself with the allocator settings, when they are missing.

    Returns (without executing) when they are present, when the platform has no glibc, when the
    operator opted out, or when this process already is the re-executed one (no loop).
    """
    if os.environ.get(OPT_OUT) == "off" or os.environ.get(REEXEC_MARKER) or not _glibc():
        return
    env = scrubbing_environment(os.environ)
    if env is None:
        return
    env[REEXEC_MARKER] = "1"
    args = list(sys.orig_argv if argv is None else argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *args[1:]], env)


def harden() -> list[tuple[bool, str]]:
    """No core dumps, not dumpable, memory locked where permitted: (done, what) per measure."""
    said = []
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        said.append((True, "core dumps off (RLIMIT_CORE 0)"))
    except (ValueError, OSError) as error:
        said.append((False, f"core dumps could not be turned off: {error}"))
    if not sys.platform.startswith("linux"):
        return [*said, (False, "not dumpable and mlockall: Linux only")]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) == 0:
        said.append((True, "not dumpable (PR_SET_DUMPABLE 0): no core, no ptrace by the same user"))
    else:
        said.append((False, f"PR_SET_DUMPABLE failed: {os.strerror(ctypes.get_errno())}"))
    why_not = _lock_refused()
    if why_not:
        said.append(
            (False, f"memory NOT locked ({why_not}): pages may be swapped; encrypt swap or turn it off")
        )
    elif libc.mlockall(_MCL_CURRENT | _MCL_FUTURE | _MCL_ONFAULT) == 0:
        said.append((True, "memory locked (mlockall): never written to swap"))
    else:
        refusal = os.strerror(ctypes.get_errno())
        said.append((False, f"memory NOT locked (mlockall: {refusal}): pages may be swapped; encrypt swap"))
    return said


def _lock_refused() -> str:
    """Why locking all memory is not permitted here, or "" when it is.

    Only with CAP_IPC_LOCK or an unlimited RLIMIT_MEMLOCK: under a finite limit, MCL_FUTURE would
    make the service's allocations fail once it grew past the limit.
    """
    soft, _ = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    if soft == resource.RLIM_INFINITY:
        return ""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        status = ""
    for line in status.splitlines():
        if line.startswith("CapEff:") and int(line.split()[1], 16) & (1 << _CAP_IPC_LOCK):
            return ""
    return f"no CAP_IPC_LOCK and RLIMIT_MEMLOCK is {soft} bytes"

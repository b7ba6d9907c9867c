"""Starts the real service for the crash tests, with the two test hooks a production start lacks.

    python -m tests.serve_for_tests --clock-file FILE [--fault-point POINT] serve [serve flags]

``--clock-file`` drives the policy clock from a file the test writes (tests/fileclock.py), so
time moves without sleeping; ``--fault-point`` arms a point of :mod:`lifecycle.faults` where the
process SIGKILLs itself. ``matcher serve`` has neither: whoever can set the service's environment
or write a file cannot move its clock or make it die.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lifecycle import faults
from matcher.cli import build_parser
from matcher.cli.local import configure_logging, settings_of
from matcher.process_memory import reexec_scrubbed
from matcher.server import serve
from tests.fileclock import FileClock


def main(argv: list[str]) -> int:
    reexec_scrubbed()  # The same start as ``matcher serve``: freed memory is scrubbed.
    hooks = argparse.ArgumentParser()
    hooks.add_argument("--clock-file", required=True)
    hooks.add_argument("--fault-point", default="")
    known, rest = hooks.parse_known_args(argv)
    args = build_parser().parse_args(rest)
    settings = settings_of(args)
    configure_logging(args.log_level, settings)
    faults.arm(known.fault_point)
    serve(settings, clock=FileClock(Path(known.clock_file)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

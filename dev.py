#!/usr/bin/env python3
"""Sets a fresh machine up and runs the service, the tests, the checks or the benchmarks.

    python3 dev.py serve [matcher serve flags]   # the service on SQLite under ./matcher-data
    python3 dev.py test [pytest args]            # the whole test suite
    python3 dev.py lint                          # ruff and mypy, as CI runs them
    python3 dev.py bench [--quick]               # the benchmark suite

Needs only Python 3.11+. It creates ./.venv, installs the pinned dependencies into it when
pyproject.toml changed since the last install, and runs the command there.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("MATCHER_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"


def _run(*args: str | Path) -> None:
    subprocess.run([str(a) for a in args], check=True, cwd=ROOT)


def ensure(extras: str) -> None:
    """Installs the project (with ``extras``) into the virtual environment if not yet done."""
    if not PYTHON.exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    stamp = VENV / f".matcher-installed-{extras or 'base'}"
    if stamp.exists() and stamp.read_text() == digest:
        return
    print(f"installing matcher{f'[{extras}]' if extras else ''} and its pinned dependencies", flush=True)
    _run(PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--upgrade", "pip")
    target = f".[{extras}]" if extras else "."
    _run(PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", target)
    headless_opencv()
    stamp.write_text(digest)


def headless_opencv() -> None:
    """Leaves exactly one OpenCV: the headless build.

    insightface depends on the GUI build (opencv-python) and fast-alpr on the headless one; both
    unpack into the same cv2/ folder, and uninstalling either breaks the other's files. So the GUI
    build is removed and the headless build reinstalled over what is left.
    """
    listed = subprocess.run(
        [str(PYTHON), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True, check=True
    ).stdout
    if "opencv-python==" not in listed:
        return
    version = next(
        line.split("==")[1] for line in listed.splitlines() if line.startswith("opencv-python-headless==")
    )
    _run(PYTHON, "-m", "pip", "uninstall", "--quiet", "-y", "opencv-python")
    _run(
        PYTHON,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--force-reinstall",
        "--no-deps",
        f"opencv-python-headless=={version}",
    )


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 11):  # noqa: UP036  (dev.py may be started by an older python3)
        print("matcher needs Python 3.11 or newer", file=sys.stderr)
        return 2
    if not argv or argv[0] not in {"serve", "test", "lint", "bench"}:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    if command == "serve":
        ensure("")
        return subprocess.call([str(BIN / "matcher"), "serve", *rest], cwd=ROOT)
    ensure("dev,bench" if command == "bench" else "dev")
    if command == "test":
        return subprocess.call([str(PYTHON), "-m", "pytest", *rest], cwd=ROOT)
    if command == "lint":
        checks = [
            [str(BIN / "ruff"), "check", "."],
            [str(BIN / "ruff"), "format", "--check", "."],
            [str(BIN / "mypy")],
        ]
        return max(subprocess.call(check, cwd=ROOT) for check in checks)
    return subprocess.call([str(PYTHON), "-m", "benchmarks.run", *rest], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

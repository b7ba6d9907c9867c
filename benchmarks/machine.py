"""What machine a benchmark ran on: printed and stored with every result."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from typing import Any


def describe() -> dict[str, Any]:
    flags = ""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    flags = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = {}
    for package in ("faiss-cpu", "grpcio", "numpy", "sqlalchemy", "onnxruntime"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return {
        "cpu": flags or platform.processor(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
    }

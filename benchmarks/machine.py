"""What machine a benchmark ran on: printed and stored with every result.

Why so much detail: exact flat search is bound by memory bandwidth and SIMD width, and the
suite shares a small machine with other work, so a number means little without the CPU, its
vector extensions, the FAISS build, the memory and the load at the time.
"""

from __future__ import annotations

import os
import platform
from importlib import metadata
from typing import Any

SIMD_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "amx_tile")
PACKAGES = (
    "faiss-cpu",
    "grpcio",
    "numpy",
    "sqlalchemy",
    "cryptography",
    "onnxruntime",
    "pymilvus",
    "milvus-lite",
    "matplotlib",
)


def _cpuinfo() -> tuple[str, list[str]]:
    model, flags = "", list[str]()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name") and not model:
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    present = set(line.split(":", 1)[1].split())
                    flags = [flag for flag in SIMD_FLAGS if flag in present]
    except OSError:
        pass
    return model, flags


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return None


def describe() -> dict[str, Any]:
    model, flags = _cpuinfo()
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    info: dict[str, Any] = {
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "simd": " ".join(flags),
        "memory_gib": _memory_gib(),
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "",
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
    }
    try:
        import faiss

        info["faiss_build"] = faiss.get_compile_options()
        info["omp_threads_default"] = int(os.environ.get("OMP_NUM_THREADS", "0")) or os.cpu_count()
    except Exception:  # The description must never stop a benchmark.
        pass
    return info

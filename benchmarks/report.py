"""Turns the suite's combined results into the Markdown report and the throughput plot.

Why one report: a reader should be able to check a claim in the README against one file that
says which machine, which versions, which sizes, and whether every correctness check held,
next to the numbers. Each benchmark module renders its own tables (``markdown``); this module
only frames them, states the checks and draws ``throughput.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks import lifecycle_costs, many_scopes, peer_milvus, search_bench, threads


def machine_lines(info: dict[str, Any]) -> list[str]:
    packages = ", ".join(f"{name} {version}" for name, version in sorted(info.get("packages", {}).items()))
    lines = [
        f"- CPU: {info.get('cpu', '?')}, {info.get('cores', '?')} logical cores"
        + (f", flags: {info['simd']}" if info.get("simd") else ""),
        f"- Memory: {info['memory_gib']:.1f} GiB" if info.get("memory_gib") else "- Memory: unknown",
        f"- Load average at start: {info['load_average']}" if info.get("load_average") else "",
        f"- FAISS build: {info['faiss_build'].strip()}" if info.get("faiss_build") else "",
        f"- OpenMP threads a new thread gets by default: {info.get('omp_threads_default', '?')}",
        f"- Python {info.get('python', '?')} on {info.get('platform', '?')}",
        f"- Packages: {packages}",
    ]
    return [line for line in lines if line]


def render(report: dict[str, Any]) -> str:
    """The whole Markdown report."""
    sections = report["sections"]
    lines = [
        "# matcher benchmark report",
        "",
        f"Run: `{report['command']}` ({'quick' if report['quick'] else 'full'}), "
        f"started {report['started']}, "
        f"took {report['seconds']:.0f} s. Seeded data; exact ground truth from a float64 NumPy brute force; "
        "every ratio compares runs interleaved in the same process (medians over rounds), because the "
        "machine is small and shared.",
        "",
        "## Machine",
        "",
        *machine_lines(report["machine"]),
        "",
        "## Checks",
        "",
        "| benchmark | correctness checks | seconds |",
        "|---|---|---:|",
    ]
    for name, status in report["status"].items():
        lines.append(f"| {name} | {status['state']} | {status.get('seconds', 0):.0f} |")
    errors = [(name, s["error"]) for name, s in report["status"].items() if s.get("error")]
    for name, error in errors:
        lines += ["", f"{name} failed:", "", "```", error.rstrip(), "```"]

    if "search" in sections:
        lines += ["", "## 1. Face search", "", search_bench.markdown(sections["search"])]
        lines += [
            "",
            "![throughput against gallery size](throughput.png)",
        ]
        for note in report.get("search_notes", []):
            lines += ["", note]
    if "many_scopes" in sections:
        lines += ["", "## 2. Many scopes", "", many_scopes.markdown(sections["many_scopes"])]
    if "lifecycle" in sections:
        life = sections["lifecycle"]
        lines += ["", "## 3. Lifecycle costs", "", lifecycle_costs.markdown(life["close"], life["startup"])]
    if "peer_milvus" in sections:
        lines += ["", "## 4. Peer: Milvus Lite", "", peer_milvus.markdown(sections["peer_milvus"])]
    if "threads" in sections:
        lines += ["", "## 5. FAISS threads", "", threads.markdown(sections["threads"])]
    for name in ("plates_bench", "faces_bench"):
        other = sections.get(name)
        if other is None:
            continue
        lines += ["", f"## Also run: benchmarks.{name}", ""]
        if other.get("skipped"):
            lines.append(f"Skipped: {other['skipped']}")
            continue
        lines.append(f"Exit code {other['exit_code']}; its JSON is under `{other['out']}`. Its output:")
        lines += ["", "```", other["output"].rstrip(), "```"]
    if report.get("findings"):
        lines += ["", "## Findings", ""]
        lines += [f"- {finding}" for finding in report["findings"]]
    return "\n".join(lines) + "\n"


def plot(results: list[dict[str, Any]], path: Path) -> str | None:
    """Draws QPS against gallery size; returns why not when it cannot (no matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    sizes = [r["templates"] for r in results]
    series = {
        "raw FAISS (IndexFlatIP)": "raw_faiss",
        "in-process FaceGallery (selector)": "gallery_in_process",
        "FaceMatcher.search (+ DB confirm, audit)": "face_matcher_in_process",
        "service over gRPC (loopback)": "service_grpc",
    }
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for label, key in series.items():
        points = [(r["templates"], r["single"][key]["qps"]) for r in results if key in r["single"]]
        if points:
            xs, ys = zip(*points, strict=True)
            axes.plot(xs, ys, marker="o", label=label)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xticks(sizes)
    axes.set_xticklabels([f"{s:,}" for s in sizes])
    axes.set_xlabel("templates in the gallery")
    axes.set_ylabel("searches per second (one probe per call, one caller)")
    axes.set_title("Exact top-10 face search throughput")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return None

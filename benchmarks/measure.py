"""Timing that stays honest on a small, shared machine.

The suite runs on two cores next to other work, so absolute numbers drift from minute to minute.
What does not drift much is the ratio between two ways of doing the same thing measured *side by
side*: :func:`compare_side_by_side` runs every contender for a short burst, in rotating order,
for several rounds, and reports each contender's median over rounds plus the median of the
per-round ratios against a baseline. A burst of background load then hits all contenders of a
round alike instead of deciding the winner.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any

Call = Callable[[int], object]


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = min(len(sorted_values) - 1, max(0, math.ceil(fraction * len(sorted_values)) - 1))
    return sorted_values[rank]


def burst(fn: Call, calls: int) -> tuple[float, list[float]]:
    """Runs ``fn(0..calls-1)``; returns the total seconds and each call's seconds."""
    latencies = []
    start = time.perf_counter()
    for i in range(calls):
        t0 = time.perf_counter()
        fn(i)
        latencies.append(time.perf_counter() - t0)
    return time.perf_counter() - start, latencies


def compare_side_by_side(
    contenders: Mapping[str, Call],
    calls: int,
    rounds: int,
    *,
    items_per_call: int = 1,
    items: Mapping[str, int] | None = None,
    baseline: str | None = None,
    warmup: int = 3,
) -> dict[str, Any]:
    """Interleaves bursts of every contender over ``rounds``; returns per-contender statistics.

    Each contender's entry has ``qps`` (items per second: the median over rounds), ``p50_ms`` and
    ``p99_ms`` (per call, over all calls of all rounds) and, when a baseline is named,
    ``ratio_qps_vs_<baseline>``: the median over rounds of its QPS divided by the baseline's QPS
    in the same round. ``items`` overrides ``items_per_call`` per contender (batched calls).
    """
    items = items or {}
    names = list(contenders)
    for name in names:
        for i in range(min(warmup, calls)):
            contenders[name](i)
    per_round: dict[str, list[float]] = {name: [] for name in names}
    latencies: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            total, lat = burst(contenders[name], calls)
            per_round[name].append(calls * items.get(name, items_per_call) / total)
            latencies[name].extend(lat)
    result: dict[str, Any] = {}
    for name in names:
        lat = sorted(latencies[name])
        entry: dict[str, Any] = {
            "qps": statistics.median(per_round[name]),
            "p50_ms": 1000 * statistics.median(lat),
            "p99_ms": 1000 * percentile(lat, 0.99),
            "calls": len(lat),
            "rounds": rounds,
            "items_per_call": items.get(name, items_per_call),
            "round_qps": per_round[name],
        }
        if baseline is not None and name != baseline:
            ratios = [a / b for a, b in zip(per_round[name], per_round[baseline], strict=True)]
            entry[f"ratio_qps_vs_{baseline}"] = statistics.median(ratios)
        result[name] = entry
    return result


def paired_ratio(result: Mapping[str, Any], name: str, baseline: str) -> float:
    """Median over rounds of ``name``'s QPS divided by ``baseline``'s in the same round."""
    pairs = zip(result[name]["round_qps"], result[baseline]["round_qps"], strict=True)
    return float(statistics.median(float(a) / float(b) for a, b in pairs))


def median_seconds(fn: Callable[[], object], repeats: int) -> dict[str, float]:
    """Runs ``fn`` ``repeats`` times; the median, fastest and slowest seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "n": repeats}


def rss_bytes() -> int:
    """This process's resident set size now (Linux ``/proc``; 0 where unavailable)."""
    return _status_kib("VmRSS:") * 1024


def peak_rss_bytes() -> int:
    """This process's peak resident set size so far (Linux ``/proc``; 0 where unavailable)."""
    return _status_kib("VmHWM:") * 1024


def _status_kib(field: str) -> int:
    try:
        with open(f"/proc/{os.getpid()}/status") as handle:
            for line in handle:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0

"""Plate-matching benchmark: PlateIndex vs a brute-force scan, in one run.

For watchlists of seeded random plates (plus a few witness partials with
wildcards) it measures reads per second for three policies:

* ``exact``     - ``MatchPolicy(max_edits=0, lookalikes=False)``
* ``lookalike`` - ``MatchPolicy(max_edits=0)``
* ``distance1`` - ``MatchPolicy(max_edits=1)`` (the default policy)

Reads are half distorted copies of watchlist plates (an exact copy, a
look-alike swap, or one random edit, depending on the policy) and half
random plates, most of which match nothing, as most passing cars do.

The brute-force baseline folds look-alikes and asks rapidfuzz for every
plain entry within plain Levenshtein distance ``max_edits + unknowns`` (a
bound that cannot miss a hit), then verifies those with the same
``align`` the index uses; every wildcard entry is aligned directly.
Without rapidfuzz it falls back to ``brute_force_match`` (pure Python).
Brute-force reads are a prefix of the index reads and every one of them is
checked for identical answers; large watchlists time fewer brute-force
reads (the table says how many).

Usage::

    python benchmarks/plates_bench.py --quick --out benchmarks/results/plates-quick.json
    python benchmarks/plates_bench.py --out benchmarks/results/plates.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from matcher.plates import (
    LOOKALIKE_CLASSES,
    MatchPolicy,
    PlateHit,
    PlateIndex,
    PlatePattern,
    PlateRead,
    brute_force_match,
    fold_plate,
    parse_entry,
)
from matcher.plates.alignment import align
from matcher.plates.hits import rank_hits

try:
    from rapidfuzz import process as rf_process
    from rapidfuzz.distance import Levenshtein as rf_levenshtein

    HAVE_RAPIDFUZZ = True
except ImportError:  # pragma: no cover - exercised only where rapidfuzz is absent
    HAVE_RAPIDFUZZ = False

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
WILDCARD_ENTRIES = ["AB?12*", "*7XK", "K?9?2", "ZZ*1", "M4?7Q?"]
POLICIES = {
    "exact": MatchPolicy(max_edits=0, lookalikes=False),
    "lookalike": MatchPolicy(max_edits=0),
    "distance1": MatchPolicy(max_edits=1),
}
_GROUP_OF = {ch: group for group in LOOKALIKE_CLASSES for ch in group}


@dataclass(frozen=True)
class Scale:
    """One watchlist size and how many reads to time against it."""

    size: int
    index_reads: int
    brute_reads: int


FULL = [Scale(1_000, 2_000, 500), Scale(100_000, 2_000, 100), Scale(1_000_000, 1_000, 20)]
QUICK = [Scale(1_000, 500, 200), Scale(20_000, 500, 50)]


def random_plates(rng: np.random.Generator, count: int) -> list[str]:
    lengths = rng.integers(5, 9, size=count)
    chars = np.array(list(ALPHABET))[rng.integers(0, len(ALPHABET), size=(count, 8))]
    return ["".join(row[:length]) for row, length in zip(chars, lengths, strict=True)]


def distort(rng: np.random.Generator, plate: str, mode: str) -> str:
    """A read of ``plate`` as the policy under test should still find it."""
    if mode == "exact":
        return plate
    chars = list(plate)
    if mode == "lookalike":
        swappable = [i for i, ch in enumerate(chars) if ch in _GROUP_OF]
        if swappable:
            i = int(rng.choice(swappable))
            group = _GROUP_OF[chars[i]].replace(chars[i], "")
            chars[i] = group[int(rng.integers(len(group)))]
        return "".join(chars)
    op = int(rng.integers(3))
    pos = int(rng.integers(len(chars)))
    if op == 0:
        chars[pos] = ALPHABET[int(rng.integers(len(ALPHABET)))]
    elif op == 1 and len(chars) < 10:
        chars.insert(pos, ALPHABET[int(rng.integers(len(ALPHABET)))])
    elif len(chars) > 1:
        del chars[pos]
    return "".join(chars)


def make_reads(rng: np.random.Generator, plates: Sequence[str], mode: str, count: int) -> list[PlateRead]:
    known = [distort(rng, plates[int(i)], mode) for i in rng.integers(0, len(plates), size=count // 2)]
    strangers = random_plates(rng, count - len(known))
    order = rng.permutation(count)
    texts = known + strangers
    return [PlateRead(texts[int(i)]) for i in order]


class BruteForce:
    """Linear scan over every entry, answering exactly what PlateIndex answers."""

    def __init__(self, plain: dict[int, str], wildcards: dict[int, PlatePattern]) -> None:
        self.ids = list(plain)
        self.texts = list(plain.values())
        self.folded = [fold_plate(text) for text in self.texts]
        self.wildcards = wildcards
        self.entries = {entry_id: PlatePattern(text) for entry_id, text in plain.items()} | wildcards
        self.engine = "rapidfuzz" if HAVE_RAPIDFUZZ else "python"

    def match(self, read: PlateRead, policy: MatchPolicy) -> list[PlateHit]:
        if not HAVE_RAPIDFUZZ:
            return brute_force_match(self.entries, read, policy)
        unknown = read.unknown_mask(policy.min_confidence)
        cutoff = policy.max_edits + sum(unknown)
        near = rf_process.extract(
            fold_plate(read.text),
            self.folded,
            scorer=rf_levenshtein.distance,
            score_cutoff=cutoff,
            limit=None,
        )
        candidates = [(self.ids[i], self.texts[i]) for _, _, i in near]
        candidates += [(entry_id, p.text) for entry_id, p in self.wildcards.items()]
        hits = (align(entry_id, text, read.text, unknown, policy) for entry_id, text in candidates)
        return rank_hits(hit for hit in hits if hit is not None)


def timed(
    fn: Callable[[PlateRead], list[PlateHit]], reads: Sequence[PlateRead]
) -> tuple[float, list[list[PlateHit]]]:
    start = time.perf_counter()
    answers = [fn(read) for read in reads]
    return time.perf_counter() - start, answers


def rss_mib() -> float | None:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return None


def run_scale(scale: Scale, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed + scale.size)
    plates = random_plates(rng, scale.size)
    plain = dict(enumerate(plates))
    wildcards = {scale.size + i: parse_entry(text) for i, text in enumerate(WILDCARD_ENTRIES)}

    rss_before = rss_mib()
    start = time.perf_counter()
    index = PlateIndex()
    index.add_many((entry_id, PlatePattern(text)) for entry_id, text in plain.items())
    index.add_many(wildcards.items())
    build_s = time.perf_counter() - start
    rss_after = rss_mib()
    brute = BruteForce(plain, wildcards)

    result: dict[str, Any] = {
        "watchlist": scale.size,
        "wildcard_entries": len(wildcards),
        "build_seconds": round(build_s, 3),
        "index_rss_mib": None
        if rss_before is None or rss_after is None
        else round(rss_after - rss_before, 1),
        "brute_engine": brute.engine,
        "modes": {},
    }
    for mode, policy in POLICIES.items():
        reads = make_reads(rng, plates, mode, scale.index_reads)
        for read in reads[:20]:  # warm-up, untimed: first calls pay for imports and allocator growth
            index.match(read, policy)
            brute.match(read, policy)
        index_s, index_answers = timed(partial(index.match, policy=policy), reads)
        brute_reads = reads[: scale.brute_reads]
        brute_s, brute_answers = timed(partial(brute.match, policy=policy), brute_reads)
        mismatches = sum(a != b for a, b in zip(index_answers, brute_answers, strict=False))
        result["modes"][mode] = {
            "index_reads": len(reads),
            "index_reads_per_s": round(len(reads) / index_s, 1),
            "index_ms_per_read": round(1000 * index_s / len(reads), 3),
            "brute_reads": len(brute_reads),
            "brute_reads_per_s": round(len(brute_reads) / brute_s, 1),
            "speedup": round((len(reads) / index_s) / (len(brute_reads) / brute_s), 1),
            "hits_per_read": round(sum(map(len, index_answers)) / len(reads), 3),
            "verified_reads": len(brute_answers),
            "mismatches": mismatches,
        }
    return result


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in ("faiss-cpu", "numpy", "rapidfuzz"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "absent"
    return found


def markdown(results: list[dict[str, Any]]) -> str:
    lines = [
        "| watchlist | mode | index reads/s | index ms/read | brute reads/s (engine, reads) | speedup "
        "| hits/read | verified / mismatches |",
        "|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for res in results:
        for mode, m in res["modes"].items():
            lines.append(
                f"| {res['watchlist']:,} | {mode} | {m['index_reads_per_s']:,.0f} | {m['index_ms_per_read']} "
                f"| {m['brute_reads_per_s']:,.1f} ({res['brute_engine']}, {m['brute_reads']}) "
                f"| {m['speedup']}x | {m['hits_per_read']} | {m['verified_reads']} / {m['mismatches']} |"
            )
    lines.append("")
    for res in results:
        lines.append(
            f"- {res['watchlist']:,} entries (+{res['wildcard_entries']} wildcard): build "
            f"{res['build_seconds']} s, index RSS +{res['index_rss_mib']} MiB"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--quick", action="store_true", help="small watchlists and fewer reads (CI smoke run)"
    )
    parser.add_argument("--out", type=Path, default=None, help="write the JSON results here")
    parser.add_argument("--seed", type=int, default=20260301)
    parser.add_argument(
        "--faiss-threads", type=int, default=1, help="OpenMP threads for FAISS (the service default is 1)"
    )
    args = parser.parse_args(argv)
    faiss.omp_set_num_threads(args.faiss_threads)

    scales = QUICK if args.quick else FULL
    results = [run_scale(scale, args.seed) for scale in scales]
    report = {
        "benchmark": "plates",
        "quick": args.quick,
        "seed": args.seed,
        "cpus": os.cpu_count(),
        "faiss_threads": args.faiss_threads,
        "versions": versions(),
        "notes": "single-threaded lookups, one read at a time; brute force times a prefix of the same "
        "reads (brute_reads) and every timed brute-force answer is compared with the index answer",
        "results": results,
    }
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(results))
    mismatches = sum(m["mismatches"] for res in results for m in res["modes"].values())
    if mismatches:
        print(f"\nFAIL: {mismatches} reads answered differently by index and brute force", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

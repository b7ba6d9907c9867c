"""Runs the benchmark suite: ``python3 dev.py bench [--quick]``.

Each benchmark compares matcher with a baseline in the same process and writes JSON under
benchmarks/results/. ``--quick`` uses small galleries so that the run takes a few minutes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks import search_bench


def main() -> int:
    parser = argparse.ArgumentParser(description="matcher benchmark suite")
    parser.add_argument("--quick", action="store_true", help="small galleries, a few minutes on 2 cores")
    parser.add_argument("--out-dir", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    sizes = ["1000", "10000"] if args.quick else ["1000", "10000", "100000"]
    queries = "200" if args.quick else "300"
    return search_bench.main(
        ["--sizes", *sizes, "--queries", queries, "--out", str(args.out_dir / "search.json")]
    )


if __name__ == "__main__":
    raise SystemExit(main())

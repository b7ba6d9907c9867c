"""How much of a watchlist one read can match, by anchored characters (issue 17, P8, P14).

``python -m benchmarks.plate_read_share`` fills a plate index with 20,000 random 6-7 character
plates (seeded) and, for every combination of read length, unknown characters and edit budget,
tries reads built to be broad (half of them from the largest look-alike groups), printing the
largest share of the watchlist one read matched per number of anchored characters
(``length - unknown - max_edits``). The figures back the default of
``plate_min_anchored`` in :mod:`matcher.config` (see :mod:`matcher.plates.uncertainty`). About 5 s.
"""

from __future__ import annotations

import random

from matcher.plates import MatchPolicy, PlateIndex, PlatePattern, PlateRead
from matcher.plates.alphabet import ALPHABET

ENTRIES = 20_000
TRIALS = 15
BROAD = "0ODQ1IL"  # the two largest look-alike groups


def widest_share(entries: int = ENTRIES, trials: int = TRIALS, seed: int = 7) -> dict[int, float]:
    """Anchored characters -> the largest share of the watchlist a single read matched."""
    rng = random.Random(seed)
    alphabet = "".join(sorted(ALPHABET))
    index = PlateIndex()
    index.add_many(
        (i, PlatePattern("".join(rng.choice(alphabet) for _ in range(rng.choice((6, 7))))))
        for i in range(entries)
    )
    worst: dict[int, float] = {}
    for length in (6, 7):
        for unknown in range(4):
            for edits in range(4):
                anchored = length - unknown - edits
                if anchored < 2:
                    continue
                for trial in range(trials):
                    pool = BROAD if trial % 2 else alphabet
                    text = "".join(rng.choice(pool) for _ in range(length))
                    confidences = [0.0] * unknown + [1.0] * (length - unknown)
                    rng.shuffle(confidences)
                    hits = index.match(PlateRead(text, tuple(confidences)), MatchPolicy(max_edits=edits))
                    worst[anchored] = max(worst.get(anchored, 0.0), len(hits) / entries)
    return worst


def main() -> None:
    for anchored, share in sorted(widest_share().items()):
        print(f"{anchored} anchored characters: one read matched at most {share:.2%} of the watchlist")


if __name__ == "__main__":
    main()

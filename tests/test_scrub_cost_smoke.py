"""benchmarks/scrub_cost.py at toy size, so that it cannot silently rot (timings never asserted)."""

from __future__ import annotations

import pytest

from benchmarks import scrub_cost


@pytest.mark.slow
def test_scrub_cost_bench_serves_both_allocator_modes() -> None:
    result = scrub_cost.run(rounds=1, enrols=4, searches=4, clients=1)
    for mode in ("scrubbed", "plain"):
        assert result[mode]["enrol_per_s"] > 0 and result[mode]["search_per_s"] > 0
    assert "enrol_per_s_cost_percent" in result["scrubbed"]

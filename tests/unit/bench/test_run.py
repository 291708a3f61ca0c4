"""The maximum-sustained search, against a system whose capacity is known."""

import pytest

from bench.run import RateSearch


def explore(capacity: float, fixed_rates=(50, 200, 500), factor=1.25, max_steps=8):
    fixed = [{"offered_per_s": r, "sustained": r <= capacity} for r in fixed_rates]
    search = RateSearch(fixed, factor, max_steps)
    tried = []
    while (rate := search.next_rate()) is not None:
        tried.append(rate)
        search.record(rate, rate <= capacity)
    best = max([r for r in fixed_rates if r <= capacity] + [r for r in tried if r <= capacity],
               default=0)
    return best, tried


@pytest.mark.parametrize("capacity", [130, 320, 777, 1600, 2100])
def test_the_best_rate_found_is_within_ten_percent_of_capacity(capacity):
    best, tried = explore(capacity)
    assert best <= capacity
    assert best >= capacity / 1.1 or len(tried) == 8, (best, tried)


def test_below_the_lowest_fixed_rate_it_bisects_down_and_stops():
    best, tried = explore(12)
    assert tried[:2] == [25, 12] and best == 12
    best, tried = explore(0)
    assert best == 0 and tried[-1] <= 5 * 2 and len(tried) <= 8


def test_the_search_is_bounded():
    _, tried = explore(10**9, max_steps=3)
    assert tried == [625, 781, 976]

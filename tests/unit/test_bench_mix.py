"""The realistic-mix benchmark's pure parts: the mix it drains and the ideal it is compared with."""

from __future__ import annotations

import statistics

from tests.bench.mix_bench import HOT_REPOS, Review, ideal_makespan, plan_mix, waits_by_repo


def test_the_mix_is_long_tailed_seeded_and_thirty_percent_hot() -> None:
    reviews = plan_mix(5000, 2.0)
    assert reviews == plan_mix(5000, 2.0)  # every run and every peer drain the same mix
    seconds = sorted(r.seconds for r in reviews)
    assert 1.8 < statistics.median(seconds) < 2.2
    p99 = seconds[int(0.99 * len(seconds))]
    assert 16 < p99 < 24  # ten times the median
    hot = sum(r.repo < HOT_REPOS for r in reviews) / len(reviews)
    assert 0.28 < hot < 0.32


def test_the_ideal_is_the_largest_of_the_three_bounds() -> None:
    spread = [Review(i, i, 1.0) for i in range(40)]
    assert ideal_makespan(spread, 20, 2) == 2.0  # the slots
    one_repo = [Review(i, 0, 1.0) for i in range(10)]
    assert ideal_makespan(one_repo, 20, 2) == 5.0  # the repository's two slots
    long_one = [Review(0, 0, 30.0), *(Review(i, i, 1.0) for i in range(1, 5))]
    assert ideal_makespan(long_one, 20, 2) == 30.0  # the longest review


def test_each_repository_waited_its_longest_wait() -> None:
    assert waits_by_repo({0: [0.1, 3.0, 2.0], 7: [0.5], 9: []}) == {0: 3.0, 7: 0.5}

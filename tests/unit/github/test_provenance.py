"""What the summary says every attempt of a review cost (issue 20 item 5)."""

from __future__ import annotations

from review_operator.api.result import ResultOutcome, ReviewResult
from review_operator.github.posting import provenance
from tests.factories import reviewjob

SHA = "a" * 40
BASE = "b" * 40


def _spend(*costs: tuple[int, float]) -> dict[str, object]:
    return {
        "totalCostUsd": sum(c for _, c in costs),
        "attempts": [{"attempt": n, "costUsd": c} for n, c in costs],
    }


def test_every_attempt_counts_once_with_this_one_added() -> None:
    job = reviewjob("rj", "Running", sha=SHA, base_sha=BASE, attempts=3, spend=_spend((1, 0.5), (2, 0.25)))
    about = provenance(job, ReviewResult(outcome=ResultOutcome.SUCCESS, cost_usd=0.125))
    assert (about.base_sha, about.attempts, about.total_cost_usd) == (BASE, 3, 0.875)


def test_a_post_retried_after_a_delay_does_not_count_its_attempt_twice() -> None:
    # The delayed post recorded attempt 2's spend in status already; the retry posts the same result.
    job = reviewjob("rj", "Running", sha=SHA, attempts=2, spend=_spend((1, 0.5), (2, 0.25)))
    about = provenance(job, ReviewResult(outcome=ResultOutcome.SUCCESS, cost_usd=0.25))
    assert (about.base_sha, about.attempts, about.total_cost_usd) == (None, 2, 0.75)

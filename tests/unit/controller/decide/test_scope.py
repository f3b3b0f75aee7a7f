"""Incremental reviews (issue 20 item 2): which pushes get only their delta reviewed, and which a full
review, from our last review's head and GitHub's compare answer."""

from __future__ import annotations

import pytest

from review_operator.api.models import ReviewJob, ScopeMode
from review_operator.controller.decide.scope import Comparison, decide_scope, needs_history
from tests.factories import reviewjob

HEAD, EARLIER, BASE = "a" * 40, "b" * 40, "c" * 40


def full_command() -> ReviewJob:
    job = reviewjob("cmd", sha=HEAD)
    trigger = job.spec.trigger.model_copy(update={"force": True, "full": True})
    return job.model_copy(update={"spec": job.spec.model_copy(update={"trigger": trigger})})


def test_a_push_after_our_review_of_an_ancestor_reviews_only_the_delta() -> None:
    scope = decide_scope(
        reviewjob(sha=HEAD), HEAD, enabled=True, base=None, last_reviewed=EARLIER, comparison=Comparison.AHEAD
    )
    assert (scope.mode, scope.since, scope.reason) == (ScopeMode.INCREMENTAL, EARLIER, "Incremental")
    assert EARLIER[:12] in scope.message


@pytest.mark.parametrize(
    ("last", "comparison", "reason"),
    [
        (None, None, "FirstReview"),
        (HEAD, None, "SameHead"),
        (EARLIER, Comparison.IDENTICAL, "SameHead"),
        (EARLIER, Comparison.DIVERGED, "ForcePushed"),
        (EARLIER, Comparison.BEHIND, "ForcePushed"),
        (EARLIER, Comparison.GONE, "EarlierCommitGone"),
        (EARLIER, Comparison.UNKNOWN, "Unknown"),
        (None, Comparison.UNKNOWN, "Unknown"),
    ],
)
def test_anything_but_a_descendant_of_our_last_review_is_reviewed_in_full(
    last: str | None, comparison: Comparison | None, reason: str
) -> None:
    scope = decide_scope(
        reviewjob(sha=HEAD), HEAD, enabled=True, base=BASE, last_reviewed=last, comparison=comparison
    )
    assert (scope.mode, scope.since, scope.reason, scope.base_sha) == (ScopeMode.FULL, None, reason, BASE)


def test_review_full_and_the_setting_off_never_ask_github_and_review_in_full() -> None:
    job = full_command()
    assert not needs_history(job, enabled=True)
    assert not needs_history(reviewjob(sha=HEAD), enabled=False)
    assert needs_history(reviewjob(sha=HEAD), enabled=True)
    requested = decide_scope(
        job, HEAD, enabled=True, base=None, last_reviewed=EARLIER, comparison=Comparison.AHEAD
    )
    assert (requested.mode, requested.reason) == (ScopeMode.FULL, "FullRequested")
    off = decide_scope(
        reviewjob(sha=HEAD),
        HEAD,
        enabled=False,
        base=None,
        last_reviewed=EARLIER,
        comparison=Comparison.AHEAD,
    )
    assert (off.mode, off.reason) == (ScopeMode.FULL, "Disabled")


def test_a_retry_that_decides_a_full_review_clears_the_earlier_attempts_since() -> None:
    from review_operator.api.models import ReviewScope
    from review_operator.controller.decide import status
    from tests.factories import T0

    full = ReviewScope(mode=ScopeMode.FULL, reason="ForcePushed")
    patch = status.pod_created(reviewjob(sha=HEAD), "rj-a2", T0, full)
    # A merge patch keeps what it does not name: `since` must be written as null, not left out.
    assert patch["scope"]["mode"] == "Full" and "since" in patch["scope"] and patch["scope"]["since"] is None
    assert "scope" not in status.pod_created(reviewjob(sha=HEAD), "rj-a1", T0, None)

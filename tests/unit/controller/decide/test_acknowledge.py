"""Which reaction acknowledges a command comment (issue 20 item 3)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from review_operator.api.models import Cancel, CancelReason, Phase, ReviewJob, TriggerEvent
from review_operator.controller.decide.acknowledge import on_end, on_start
from tests.factories import reviewjob

NOW = datetime(2026, 12, 2, tzinfo=UTC)


def command(attempts: int = 1, comment_id: int = 77) -> ReviewJob:
    job = reviewjob("rj", "Running", attempts=attempts)
    update = {"event": TriggerEvent.ISSUE_COMMENT, "comment_id": comment_id}
    trigger = job.spec.trigger.model_copy(update=update)
    return job.model_copy(update={"spec": job.spec.model_copy(update={"trigger": trigger})})


def cancelled_by(job: ReviewJob, reason: CancelReason, comment_id: int | None) -> ReviewJob:
    cancel = Cancel(reason=reason, requested_at=NOW, comment_id=comment_id)
    return job.model_copy(update={"spec": job.spec.model_copy(update={"cancel": cancel})})


def test_a_review_command_is_seen_on_its_first_attempt_only() -> None:
    assert on_start(command()) == (77, "eyes")
    assert on_start(command(attempts=2)) is None
    assert on_start(reviewjob("push", "Running", attempts=1)) is None  # a push has no comment


@pytest.mark.parametrize(
    ("phase", "reaction"),
    [(Phase.SUCCEEDED, "rocket"), (Phase.FAILED, "confused"), (Phase.TIMED_OUT, "confused")],
)
def test_a_review_command_is_answered_by_how_its_review_ended(phase: Phase, reaction: str) -> None:
    assert on_end(command(), phase) == (77, reaction)
    assert on_end(reviewjob("push", "Running"), phase) is None


def test_superseded_or_closed_reviews_keep_their_eyes() -> None:
    assert on_end(command(), Phase.SUPERSEDED) is None
    assert on_end(cancelled_by(command(), CancelReason.PULL_REQUEST_CLOSED, None), Phase.CANCELLED) is None


def test_a_cancel_command_is_answered_on_the_cancel_comment() -> None:
    push = reviewjob("push", "Running")
    assert on_end(cancelled_by(push, CancelReason.CANCEL_COMMAND, 99), Phase.CANCELLED) == (99, "rocket")
    assert on_end(cancelled_by(command(), CancelReason.CANCEL_COMMAND, 99), Phase.CANCELLED) == (99, "rocket")

"""Which reaction acknowledges a command comment (issue 20 item 3)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from review_operator.api.models import Cancel, CancelReason, JobKind, Phase, Question, ReviewJob, TriggerEvent
from review_operator.builders.question import Thread
from review_operator.controller.decide.acknowledge import on_end, on_review_comment, on_start
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


def reply(comment_id: int = 88, thread_id: int = 5) -> ReviewJob:
    job = command(comment_id=comment_id)
    trigger = job.spec.trigger.model_copy(update={"event": TriggerEvent.PULL_REQUEST_REVIEW_COMMENT})
    question = Question(text="Why?", comment_id=comment_id, thread_id=thread_id, author="dev")
    spec = job.spec.model_copy(update={"trigger": trigger, "kind": JobKind.REPLY, "question": question})
    return job.model_copy(update={"spec": spec})


def test_a_reply_is_acknowledged_on_its_review_comment_only_in_our_threads() -> None:
    assert on_start(reply(), Thread(ours=True)) == (88, "eyes")
    assert on_start(reply(), Thread(ours=False)) is None  # not ours to answer: not even a 👀
    assert on_start(reply(), None) is None  # the thread is gone
    assert on_end(reply(), Phase.SUCCEEDED) == (88, "rocket")
    assert on_end(reply(), Phase.CANCELLED) is None  # NotOurThread
    assert on_review_comment(reply(), 88)
    assert not on_review_comment(reply(), 99)  # a `/cancel` on the conversation
    assert not on_review_comment(command(), 77)

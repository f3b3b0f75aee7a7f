"""Which reaction acknowledges a command comment: 👀 when its review starts, 🚀 when it did what was
asked, 😕 when it failed. Reviews started by a push have no comment and get none. A reply in a review
thread is acknowledged the same way, on that review comment (`on_review_comment`)."""

from __future__ import annotations

from review_operator.api.models import CancelReason, JobKind, Phase, Reaction, ReviewJob, TriggerEvent
from review_operator.builders.question import Thread

_COMMENTED = (TriggerEvent.ISSUE_COMMENT, TriggerEvent.PULL_REQUEST_REVIEW_COMMENT)
_ENDED: dict[Phase, Reaction] = {
    Phase.SUCCEEDED: "rocket",
    Phase.FAILED: "confused",
    Phase.TIMED_OUT: "confused",
}


def on_start(job: ReviewJob, thread: Thread | None = None) -> tuple[int, Reaction] | None:
    """The `/review` comment to mark as seen, on the first attempt only (a retry says nothing new)."""
    trigger = job.spec.trigger
    if trigger.event not in _COMMENTED or trigger.comment_id is None:
        return None
    if job.spec.kind is JobKind.REPLY and (thread is None or not thread.ours):
        return None  # a reply outside our threads is not ours to answer
    return (trigger.comment_id, "eyes") if job.status.attempts <= 1 else None


def on_end(job: ReviewJob, phase: Phase) -> tuple[int, Reaction] | None:
    """The comment whose request this ending answers: a `/cancel` that stopped the review, or the
    `/review` that started it (a superseded or otherwise cancelled one keeps its 👀)."""
    cancel = job.spec.cancel
    if phase is Phase.CANCELLED and cancel is not None and cancel.reason is CancelReason.CANCEL_COMMAND:
        return None if cancel.comment_id is None else (cancel.comment_id, "rocket")
    trigger = job.spec.trigger
    if trigger.event not in _COMMENTED or trigger.comment_id is None:
        return None
    reaction = _ENDED.get(phase)
    return None if reaction is None else (trigger.comment_id, reaction)


def on_review_comment(job: ReviewJob, comment_id: int) -> bool:
    """Whether `comment_id` is a pull request review comment (the reply that asked, in its thread)
    rather than a comment on the PR's conversation: GitHub takes their reactions at another path."""
    trigger = job.spec.trigger
    return trigger.event is TriggerEvent.PULL_REQUEST_REVIEW_COMMENT and trigger.comment_id == comment_id

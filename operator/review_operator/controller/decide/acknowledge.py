"""Which reaction acknowledges a command comment: 👀 when its review starts, 🚀 when it did what was
asked, 😕 when it failed. Reviews started by a push have no comment and get none."""

from __future__ import annotations

from review_operator.api.models import CancelReason, Phase, Reaction, ReviewJob, TriggerEvent

_ENDED: dict[Phase, Reaction] = {
    Phase.SUCCEEDED: "rocket",
    Phase.FAILED: "confused",
    Phase.TIMED_OUT: "confused",
}


def on_start(job: ReviewJob) -> tuple[int, Reaction] | None:
    """The `/review` comment to mark as seen, on the first attempt only (a retry says nothing new)."""
    trigger = job.spec.trigger
    if trigger.event is not TriggerEvent.ISSUE_COMMENT or trigger.comment_id is None:
        return None
    return (trigger.comment_id, "eyes") if job.status.attempts <= 1 else None


def on_end(job: ReviewJob, phase: Phase) -> tuple[int, Reaction] | None:
    """The comment whose request this ending answers: a `/cancel` that stopped the review, or the
    `/review` that started it (a superseded or otherwise cancelled one keeps its 👀)."""
    cancel = job.spec.cancel
    if phase is Phase.CANCELLED and cancel is not None and cancel.reason is CancelReason.CANCEL_COMMAND:
        return None if cancel.comment_id is None else (cancel.comment_id, "rocket")
    trigger = job.spec.trigger
    if trigger.event is not TriggerEvent.ISSUE_COMMENT or trigger.comment_id is None:
        return None
    reaction = _ENDED.get(phase)
    return None if reaction is None else (trigger.comment_id, reaction)

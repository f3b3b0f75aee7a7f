"""What the review pod is told when it answers a question instead of reviewing: pure functions.

A question (`/ask`, a reply in one of our review threads) runs in the same sandbox as a review, with
the same pod builder; only the runner's mode, the question, the thread and a smaller budget differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from review_operator.api.models import JobKind, ReviewJob
from review_operator.api.scrub import clip_token_shapes
from review_operator.config import (
    ANSWER_TEXT_MAX_CHARS,
    THREAD_MAX_COMMENTS,
    ControllerSettings,
    ThreadComment,
)


@dataclass(frozen=True)
class Thread:
    """A review thread as GitHub showed it when the answer started: whether our App wrote its first
    comment, where it is, and its comments before the question (oldest first)."""

    ours: bool
    path: str = ""
    line: int | None = None
    comments: tuple[ThreadComment, ...] = field(default_factory=tuple)


def thread_comment(author: str, body: str, ours: bool) -> ThreadComment:
    """A comment bounded for the runner: token shapes scrubbed, then cut."""
    return ThreadComment(author=author[:64], body=clip_token_shapes(body, ANSWER_TEXT_MAX_CHARS), ours=ours)


def shown_thread(comments: list[ThreadComment]) -> tuple[ThreadComment, ...]:
    """The first comment (the finding) and the latest replies, at most THREAD_MAX_COMMENTS in all."""
    if len(comments) <= THREAD_MAX_COMMENTS:
        return tuple(comments)
    return (comments[0], *comments[-(THREAD_MAX_COMMENTS - 1) :])


def answer_values(job: ReviewJob, thread: Thread | None) -> dict[str, Any]:
    """The RunnerSettings fields of a question (empty for a review)."""
    question = job.spec.question
    if question is None or not job.spec.kind.is_question:
        return {}
    values: dict[str, Any] = {"mode": "answer", "question": question.text}
    if job.spec.kind is JobKind.REPLY and thread is not None:
        values["thread"] = list(thread.comments)
        values["thread_path"] = thread.path[:1024]
        values["thread_line"] = thread.line or 0
    return values


def answer_budget(job: ReviewJob, budget_usd: float, settings: ControllerSettings) -> float:
    """A question's spend limit: the lower of the review's and the cluster's limit for answers."""
    return min(budget_usd, settings.ask_max_budget_usd) if job.spec.kind.is_question else budget_usd

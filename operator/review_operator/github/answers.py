"""Answering a question exactly once: a `/ask` as a comment on the PR, a reply in one of our review
threads as a reply in that thread; and reading that thread for the answer's context.

Exactly once, as reviews are posted: the answer carries a hidden marker naming its ReviewJob (whose
name is derived from the comment that asked), and the poster looks for it before every create, and
again after an uncertain failure. Only our App's comments count (`listing.is_ours`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from githubkit.utils import Unset
from githubkit_schemas.latest.models import PullRequestReviewComment

from review_operator.api.models import JobKind, Reaction, ReviewJob
from review_operator.api.result import ReviewResult
from review_operator.builders.question import Thread, shown_thread, thread_comment
from review_operator.github.auth import RepoClient
from review_operator.github.calls import call, create_once, job_key, pr_coordinates
from review_operator.github.errors import GitHubNotFound
from review_operator.github.format import MAX_BODY_CHARS, safe
from review_operator.github.listing import body_of, first_ours, is_ours, issue_comments, review_comments

log = logging.getLogger(__name__)
_ANSWER_MARKER_PREFIX = "<!-- review-operator:answer job="
_QUOTED_CHARS = 300  # of an `/ask` question, quoted above its answer


@dataclass(frozen=True)
class Answer:
    comment_id: int
    html_url: str
    created: bool  # False: an earlier attempt had posted it already


def answer_marker(key: str) -> str:
    """Hidden marker on an answer: lets a restarted poster find what it already posted."""
    return f"{_ANSWER_MARKER_PREFIX}{key.lower()} -->"


def has_answer_marker(body: str | None, key: str) -> bool:
    return body is not None and answer_marker(key) in body


def format_answer(key: str, job: ReviewJob, result: ReviewResult) -> str:
    """The answer's body: (for `/ask`) the question quoted, the answer, what it cost, the marker."""
    question = job.spec.question
    parts = []
    if job.spec.kind is JobKind.ASK and question is not None:
        asked = safe(question.text.strip())
        if len(asked) > _QUOTED_CHARS:
            asked = asked[:_QUOTED_CHARS] + "…"
        author = f"@{question.author} asked" if question.author else "Asked"
        parts.append(f"> {author}: " + asked.replace("\n", "\n> "))
    parts.append(safe(result.answer.strip()))
    model = f"`{safe(result.model)}` · " if result.model else ""
    parts.append(f"<sub>review-operator · {model}{result.turns} turns · ${result.cost_usd:.4f}</sub>")
    body = "\n\n".join(parts)
    if len(body) > MAX_BODY_CHARS - 200:
        body = body[: MAX_BODY_CHARS - 240] + "\n\n…(truncated)"
    return body + "\n\n" + answer_marker(key)


async def fetch_thread(gh: RepoClient, job: ReviewJob) -> Thread | None:
    """The review thread a reply was written in (None: its first comment is gone): whether our App
    started it, where it is, and its comments before the reply, oldest first."""
    question = job.spec.question
    if question is None or question.thread_id is None:
        return None
    owner, repo, _ = pr_coordinates(job)
    root_id, asked_id = question.thread_id, question.comment_id
    try:
        got = await call(
            "get review comment", lambda: gh.github.rest.pulls.async_get_review_comment(owner, repo, root_id)
        )
    except GitHubNotFound:
        return None
    root = got.parsed_data
    ours = await is_ours(gh, root.user)
    if not ours:
        return Thread(ours=False)

    async def replies() -> list[PullRequestReviewComment]:
        return [
            c
            async for c in review_comments(gh, job)
            if not isinstance(c.in_reply_to_id, Unset) and c.in_reply_to_id == root_id and c.id < asked_id
        ]

    earlier = await call("list review comments", replies)
    comments = [thread_comment(_login(root), root.body, True)]
    for c in sorted(earlier, key=lambda c: c.id):
        comments.append(thread_comment(_login(c), c.body, await is_ours(gh, c.user)))
    line = root.line if not isinstance(root.line, Unset) else None
    return Thread(ours=True, path=root.path, line=line, comments=shown_thread(comments))


def _login(comment: PullRequestReviewComment) -> str:
    return comment.user.login if comment.user is not None else "ghost"


async def find_answer(gh: RepoClient, job: ReviewJob) -> Answer | None:
    """The answer carrying this ReviewJob's marker, if one was posted (by any earlier attempt)."""
    key = job_key(job)
    if job.spec.kind is JobKind.REPLY:
        in_thread = await call(
            "list review comments",
            lambda: first_ours(gh, review_comments(gh, job), lambda c: has_answer_marker(c.body, key)),
        )
        return None if in_thread is None else Answer(in_thread.id, in_thread.html_url, created=False)
    on_pr = await call(
        "list issue comments",
        lambda: first_ours(gh, issue_comments(gh, job), lambda c: has_answer_marker(body_of(c), key)),
    )
    return None if on_pr is None else Answer(int(on_pr.id), on_pr.html_url, created=False)


async def post_answer(gh: RepoClient, job: ReviewJob, result: ReviewResult) -> Answer:
    """Posts the answer once: a reply in the thread, or a comment on the PR."""
    owner, repo, number = pr_coordinates(job)
    key = job_key(job)
    question = job.spec.question
    if question is None:
        raise ValueError(f"{key} is not a question")
    body = format_answer(key, job, result)

    async def create() -> Answer:
        if job.spec.kind is JobKind.REPLY and question.thread_id is not None:
            thread = question.thread_id
            reply = await call(
                "reply in review thread",
                lambda: gh.github.rest.pulls.async_create_reply_for_review_comment(
                    owner, repo, number, thread, body=body
                ),
            )
            return Answer(reply.parsed_data.id, reply.parsed_data.html_url, created=True)
        comment = await call(
            "create answer comment",
            lambda: gh.github.rest.issues.async_create_comment(owner, repo, number, body=body),
        )
        return Answer(comment.parsed_data.id, comment.parsed_data.html_url, created=True)

    answer, created = await create_once(gh, "answer", lambda: find_answer(gh, job), create)
    log.info("answer %s", "posted" if created else "found", extra={"reviewjob": key})
    return answer


async def react_to_review_comment(gh: RepoClient, job: ReviewJob, comment_id: int, content: Reaction) -> None:
    """A reaction on a pull request review comment (a reply in a thread); 200 when it exists."""
    owner, repo = job.spec.repository.owner, job.spec.repository.name
    await gh.before_write()
    await call(
        "react to review comment",
        lambda: gh.github.rest.reactions.async_create_for_pull_request_review_comment(
            owner, repo, comment_id, data={"content": content}
        ),
    )

"""What a question (`/ask`, a reply in one of our review threads) needs from GitHub before its pod:
the PR's base (the checkout's diff is the whole PR, for context), the repository's settings and, for
a reply, its thread (whether our App started it). The decision is `decide/machine.py`'s."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from review_operator.api.models import ReviewJob
from review_operator.builders.question import Thread
from review_operator.builders.repo_settings import RepoReviewSettings
from review_operator.controller.decide.steps import StartFacts, TokenRefused
from review_operator.controller.engine.scope import review_scope
from review_operator.github import GitHubClientFactory, Unauthorized, fetch_thread

RepoSettings = Callable[[ReviewJob], Awaitable[tuple[RepoReviewSettings | None, str | None]]]


async def question_facts(
    github: GitHubClientFactory, job: ReviewJob, repo_settings: RepoSettings
) -> StartFacts | TokenRefused:
    """The facts of a question's start. A thread GitHub cannot give now raises: the next pass asks
    again, until the claim's deadline."""
    try:
        (repo, _), scope, thread = await asyncio.gather(
            repo_settings(job), review_scope(github, job, enabled=False), _thread(github, job)
        )
    except Unauthorized as exc:
        return TokenRefused(job, str(exc))
    return StartFacts(job, job.status.head_sha, repo=repo, scope=scope, thread=thread)


async def _thread(github: GitHubClientFactory, job: ReviewJob) -> Thread | None:
    if job.spec.question is None or job.spec.question.thread_id is None:
        return None
    return await fetch_thread(github.for_job(job), job)

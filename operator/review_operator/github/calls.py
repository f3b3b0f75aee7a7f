"""Shared plumbing of the GitHub calls: error translation and the find-or-create loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from githubkit.exception import GitHubException

from review_operator.api.models import ReviewJob
from review_operator.github.auth import RepoClient, backoff_delay
from review_operator.github.errors import RateLimited, Transient, translate

log = logging.getLogger(__name__)
T = TypeVar("T")


def pr_coordinates(job: ReviewJob) -> tuple[str, str, int]:
    return job.spec.repository.owner, job.spec.repository.name, job.spec.pull_request.number


def job_key(job: ReviewJob) -> str:
    if not job.metadata.name:
        raise ValueError("a ReviewJob without metadata.name cannot be posted exactly once")
    return job.metadata.name


async def call(operation: str, request: Callable[[], Awaitable[T]]) -> T:
    """Runs one githubkit call (which retries what is safe) and translates its failure, once."""
    try:
        return await request()
    except GitHubException as exc:
        raise translate(exc, operation) from None


async def create_once(
    gh: RepoClient,
    what: str,
    find: Callable[[], Awaitable[T | None]],
    create: Callable[[], Awaitable[T]],
) -> tuple[T, bool]:
    """Finds the object by its marker or creates it; never re-POSTs without looking first.

    Returns (object, created). Rejected, Unauthorized and NotFound propagate at once.
    """
    attempt = 0
    while True:
        existing = await find()
        if existing is not None:
            return existing, False
        await gh.before_write()
        try:
            return await create(), True
        except (Transient, RateLimited) as exc:
            attempt += 1
            delay = (
                exc.retry_after
                if isinstance(exc, RateLimited)
                else backoff_delay(gh.settings.retry_backoff_seconds, attempt - 1)
            )
            if attempt >= gh.settings.max_attempts or delay > gh.settings.max_retry_after_seconds:
                raise
            log.warning("%s: uncertain failure (%s); looking for it before retrying", what, exc)
            await asyncio.sleep(delay)

"""Asking GitHub what a review's scope depends on: our last review's head, and how it relates to this
head. The decision is `decide/scope.py`; this module only fetches its inputs.

A GitHub that cannot answer now never blocks a review: the review is then full, and says why.
Unauthorized propagates (the App lost access: the review fails closed like any other GitHub call).
"""

from __future__ import annotations

import logging

from review_operator.api.models import ReviewJob, ReviewScope
from review_operator.controller.decide.heads import job_head
from review_operator.controller.decide.scope import Comparison, decide_scope, needs_history
from review_operator.github import (
    GitHubClientFactory,
    GitHubError,
    Unauthorized,
    compare_status,
    get_pull_refs,
    last_reviewed_head,
)

log = logging.getLogger(__name__)


async def review_scope(
    github: GitHubClientFactory, job: ReviewJob, enabled: bool, known_base: str | None = None
) -> ReviewScope:
    """`known_base`: the PR's base from the answer that gave a command its head (asked again when
    None; a push's ReviewJob records its own)."""
    head = job_head(job) or ""
    gh = github.for_job(job)
    base = known_base
    last: str | None = None
    comparison: Comparison | None = None
    try:
        if job.spec.pull_request.base_sha is None and base is None:
            base = (await get_pull_refs(gh, job)).base  # a command's ReviewJob records no base
        if needs_history(job, enabled):
            last = await last_reviewed_head(gh, job)
            if last is not None and last != head:
                status = await compare_status(gh, job, last, head)
                comparison = Comparison.GONE if status is None else _comparison(status)
    except Unauthorized:
        raise
    except GitHubError as exc:
        log.warning("scope of %s unknown, reviewing in full: %s", job.metadata.name, exc)
        comparison = Comparison.UNKNOWN
    return decide_scope(job, head, enabled=enabled, base=base, last_reviewed=last, comparison=comparison)


def _comparison(status: str) -> Comparison:
    try:
        return Comparison(status)
    except ValueError:
        return Comparison.UNKNOWN

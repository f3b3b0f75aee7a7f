"""Which pull request and which commit a ReviewJob is about."""

from __future__ import annotations

from review_operator.api.models import ReviewJob

PRKey = tuple[int, int]  # (repository id, pull request number)


def pr_key(job: ReviewJob) -> PRKey:
    return (job.spec.repository.id, job.spec.pull_request.number)


def job_head(job: ReviewJob) -> str | None:
    """The commit this review is (or will be) of: the push's SHA, or the one a command resolved."""
    return job.spec.pull_request.head_sha or job.status.head_sha

"""What GitHub knows about a pull request's earlier reviews, for incremental reviews.

The head of our last review is read from the PR's reviews (`commit_id` of the newest one that carries
our hidden marker and was written by our own App: the same test posting uses to find its own work),
so it survives a controller restart and the ReviewJobs' TTL. How it relates to a new head is GitHub's
compare API (`status`: ahead, behind, diverged, identical; 404 when either commit is gone).
"""

from __future__ import annotations

from review_operator.api.models import ReviewJob
from review_operator.github.auth import RepoClient
from review_operator.github.calls import call
from review_operator.github.errors import GitHubNotFound
from review_operator.github.format import has_any_review_marker
from review_operator.github.listing import is_ours, reviews


async def last_reviewed_head(gh: RepoClient, job: ReviewJob) -> str | None:
    """The commit of our newest review posted on the PR (None: we have not reviewed it)."""

    async def scan() -> str | None:
        newest: str | None = None
        # GitHub lists a PR's reviews in chronological order: the last match is the newest.
        async for r in reviews(gh, job):
            if has_any_review_marker(r.body) and await is_ours(gh, r.user):
                newest = r.commit_id if isinstance(r.commit_id, str) and r.commit_id else newest
        return newest

    return await call("list reviews", scan)


async def compare_status(gh: RepoClient, job: ReviewJob, base: str, head: str) -> str | None:
    """GitHub's compare `status` of `base...head` (ahead: head descends from base); None on 404 (a
    commit GitHub no longer has, or never had)."""
    owner, repo = job.spec.repository.owner, job.spec.repository.name
    try:
        # One commit per page: only the status is needed, not the commit list.
        resp = await call(
            "compare commits",
            lambda: gh.github.rest.repos.async_compare_commits(owner, repo, f"{base}...{head}", per_page=1),
        )
    except GitHubNotFound:
        return None
    return str(resp.parsed_data.status)

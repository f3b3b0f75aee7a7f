"""One pull request's metadata, read from GitHub: all of it (what the local one-shot review starts
from), or its head and base commits now (what the controller checks a review against)."""

from __future__ import annotations

from dataclasses import dataclass

from githubkit.utils import Unset

from review_operator.api.models import ReviewJob
from review_operator.github.auth import RepoClient
from review_operator.github.calls import call, pr_coordinates


@dataclass(frozen=True)
class PullInfo:
    """What a review needs to know about a pull request; title and body are untrusted text."""

    owner: str
    name: str
    number: int
    title: str
    body: str
    head_sha: str
    base_sha: str
    base_ref: str
    author: str
    author_association: str
    repository_id: int
    draft: bool
    state: str
    html_url: str


async def fetch_pull(gh: RepoClient, owner: str, name: str, number: int) -> PullInfo:
    """GET the pull request; raises GitHubNotFound (404), Unauthorized (401/403) or the other typed errors."""
    resp = await call("get pull request", lambda: gh.github.rest.pulls.async_get(owner, name, number))
    pr = resp.parsed_data
    draft = pr.draft if isinstance(pr.draft, bool) else False
    return PullInfo(
        owner=owner,
        name=name,
        number=pr.number,
        title=pr.title,
        body=pr.body or "",
        head_sha=pr.head.sha,
        base_sha=pr.base.sha,
        base_ref=pr.base.ref,
        author=pr.user.login,
        author_association=str(pr.author_association),
        repository_id=pr.base.repo.id,
        draft=draft,
        state=str(pr.state),
        html_url=pr.html_url,
    )


@dataclass(frozen=True)
class PullRefs:
    """A pull request's head and base commits now (one GET answers both)."""

    head: str
    base: str | None


async def get_pull_refs(gh: RepoClient, job: ReviewJob) -> PullRefs:
    owner, repo, number = pr_coordinates(job)
    resp = await call("get pull request", lambda: gh.github.rest.pulls.async_get(owner, repo, number))
    pr = resp.parsed_data
    return PullRefs(pr.head.sha, None if isinstance(pr.base.sha, Unset) else pr.base.sha)


async def get_pull_head(gh: RepoClient, job: ReviewJob) -> str:
    """The pull request's current head SHA."""
    return (await get_pull_refs(gh, job)).head


__all__ = ["PullInfo", "PullRefs", "fetch_pull", "get_pull_head", "get_pull_refs"]

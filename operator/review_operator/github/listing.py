"""Reading a pull request's reviews and comments page by page, and finding our own among them.

Markers count only on objects our own App wrote (`is_ours`): anyone else could paste one to
suppress a review or an answer. Every "did an earlier attempt post this already?" question is the
same scan: the first item, oldest first, that carries the marker and is ours (`first_ours`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Protocol, TypeVar

from githubkit.utils import Unset
from githubkit_schemas.latest.models import (
    IssueComment,
    PullRequestReview,
    PullRequestReviewComment,
    SimpleUser,
)

from review_operator.api.models import ReviewJob
from review_operator.github.auth import RepoClient
from review_operator.github.calls import pr_coordinates

PER_PAGE = 100


class _Authored(Protocol):
    @property
    def user(self) -> SimpleUser | None: ...


A = TypeVar("A", bound=_Authored)


async def is_ours(gh: RepoClient, user: SimpleUser | None) -> bool:
    """Whether our App wrote it.

    "Ours" is the App's bot account (`<slug>[bot]`, from `GET /app`), not any bot: another App or a
    GitHub Action posting our marker must not count. With a personal access token the author is a
    person, so the check cannot apply (one reason the token is the less safe mode).
    """
    if not gh.app_mode:
        return True
    if user is None or gh.bot_login is None or user.type != "Bot":
        return False
    return user.login.casefold() == (await gh.bot_login()).casefold()


def body_of(comment: IssueComment) -> str | None:
    """A conversation comment's text (GitHub may leave `body` out)."""
    return None if isinstance(comment.body, Unset) else comment.body


async def first_ours(gh: RepoClient, items: AsyncIterator[A], marked: Callable[[A], bool]) -> A | None:
    """The first item (in GitHub's order: oldest first) that `marked` accepts and our App wrote."""
    async for item in items:
        if marked(item) and await is_ours(gh, item.user):
            return item
    return None


def reviews(gh: RepoClient, job: ReviewJob) -> AsyncIterator[PullRequestReview]:
    """The PR's reviews, oldest first."""
    owner, repo, number = pr_coordinates(job)
    rest = gh.github.rest
    return rest.paginate(
        rest.pulls.async_list_reviews, owner=owner, repo=repo, pull_number=number, per_page=PER_PAGE
    )


def issue_comments(gh: RepoClient, job: ReviewJob) -> AsyncIterator[IssueComment]:
    """The PR's conversation comments, oldest first."""
    owner, repo, number = pr_coordinates(job)
    rest = gh.github.rest
    return rest.paginate(
        rest.issues.async_list_comments, owner=owner, repo=repo, issue_number=number, per_page=PER_PAGE
    )


def review_comments(gh: RepoClient, job: ReviewJob) -> AsyncIterator[PullRequestReviewComment]:
    """The PR's review (inline) comments, every thread's, oldest first."""
    owner, repo, number = pr_coordinates(job)
    rest = gh.github.rest
    return rest.paginate(
        rest.pulls.async_list_review_comments, owner=owner, repo=repo, pull_number=number, per_page=PER_PAGE
    )

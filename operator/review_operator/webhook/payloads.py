"""The parts of GitHub webhook payloads the receiver reads, parsed once at the boundary.

Unknown fields are ignored (GitHub adds fields all the time); missing or mistyped required ones
make the delivery invalid.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class User(_Payload):
    login: str
    type: str = "User"  # "Bot" for an App's bot account


class RepositoryPayload(_Payload):
    id: int
    name: str
    full_name: str
    owner: User


class Ref(_Payload):
    sha: str
    ref: str = ""


class Installation(_Payload):
    id: int


class PullRequestPayload(_Payload):
    number: int
    title: str | None = ""
    body: str | None = ""
    user: User
    author_association: str
    draft: bool | None = False
    head: Ref
    base: Ref


class Issue(_Payload):
    number: int
    title: str | None = ""
    # For an issue that is a pull request, the PR's description.
    body: str | None = ""
    user: User
    author_association: str
    # Present (an object of URLs) only when the issue is a pull request.
    pull_request: dict[str, Any] | None = None


class Comment(_Payload):
    id: int
    body: str | None = ""
    user: User
    author_association: str


class ReviewComment(_Payload):
    """A pull request review comment (a comment in a review thread on the diff)."""

    id: int
    body: str | None = ""
    user: User
    author_association: str
    # The thread's first comment, for a reply (GitHub always points a reply at the thread's root).
    in_reply_to_id: int | None = None


class RepositoryName(_Payload):
    full_name: str = ""


class Envelope(_Payload):
    """Fields most events carry; read leniently for routing and for the log line."""

    action: str = ""
    repository: RepositoryName | None = None


class PullRequestEvent(_Payload):
    action: str
    pull_request: PullRequestPayload
    repository: RepositoryPayload
    sender: User
    installation: Installation | None = None


class IssueCommentEvent(_Payload):
    action: str
    issue: Issue
    comment: Comment
    repository: RepositoryPayload
    sender: User
    installation: Installation | None = None


class PullRequestReviewCommentEvent(_Payload):
    action: str
    comment: ReviewComment
    pull_request: PullRequestPayload
    repository: RepositoryPayload
    sender: User
    installation: Installation | None = None


class App(_Payload):
    id: int


class PullRequestRef(_Payload):
    number: int


class CheckRunPayload(_Payload):
    id: int
    name: str
    head_sha: str
    external_id: str | None = None
    app: App | None = None
    # Empty for a pull request from a fork (GitHub lists only PRs whose head is in this repository).
    pull_requests: list[PullRequestRef] = []


class CheckSuitePayload(_Payload):
    id: int
    head_sha: str
    app: App | None = None
    pull_requests: list[PullRequestRef] = []


class CheckRunEvent(_Payload):
    action: str
    check_run: CheckRunPayload
    repository: RepositoryPayload
    sender: User
    installation: Installation | None = None


class CheckSuiteEvent(_Payload):
    action: str
    check_suite: CheckSuitePayload
    repository: RepositoryPayload
    sender: User
    installation: Installation | None = None

"""What a verified delivery can come to (the decisions the handler executes), who is trusted, and the
small helpers every event's decision shares. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass

from review_operator.api.models import (
    PR_BODY_MAX_CHARS,
    AuthorAssociation,
    Cancel,
    PullRequest,
    ReviewJob,
    Trigger,
)
from review_operator.api.scrub import clip_token_shapes
from review_operator.config import WebhookSettings
from review_operator.webhook import payloads

_SHOWN = 64  # sender-controlled text quoted in reasons and logs is cut to this


@dataclass(frozen=True)
class Policy:
    """Who gets reviews: trusted associations, an optional repository allow-list, drafts or not."""

    trusted: frozenset[str]
    allowed_repositories: frozenset[str]  # lowercase owner/name; empty allows every repository
    review_drafts: bool = False
    app_id: int | None = None  # our GitHub App: only its check runs and suites can be re-run

    @classmethod
    def from_settings(cls, settings: WebhookSettings) -> Policy:
        return cls(
            trusted=frozenset(a.upper() for a in settings.webhook_trusted_associations),
            allowed_repositories=frozenset(r.lower() for r in settings.webhook_allowed_repositories),
            review_drafts=settings.webhook_review_drafts,
            app_id=settings.webhook_github_app_id,
        )

    def ours(self, app: payloads.App | None) -> bool:
        """Whether a check run or suite is our App's (any App's when its id is not configured)."""
        return self.app_id is None or (app is not None and app.id == self.app_id)

    def allows(self, full_name: str) -> bool:
        return not self.allowed_repositories or full_name.lower() in self.allowed_repositories


@dataclass(frozen=True)
class Pong:
    """`ping`: GitHub checks the hook works."""


@dataclass(frozen=True)
class Create:
    """Record this ReviewJob (its name makes the create idempotent)."""

    job: ReviewJob
    repository_id: int


@dataclass(frozen=True)
class CancelReviews:
    """Mark the non-final ReviewJobs of this pull request to be cancelled."""

    repository_id: int
    pr_number: int
    cancel: Cancel


@dataclass(frozen=True)
class Ignore:
    reason: str


@dataclass(frozen=True)
class InvalidDelivery:
    reason: str


@dataclass(frozen=True)
class Rerun:
    """GitHub's "Re-run" of our check run (or suite): review this head again, forced. Which pull
    request it is comes from the ReviewJob the run was created for (`external_id`, which is its
    name), else from the payload's pull requests (empty for a fork's), else from the ReviewJobs
    of this head."""

    repository_id: int
    full_name: str
    head_sha: str
    pr_numbers: tuple[int, ...]
    external_id: str | None
    trigger: Trigger
    installation_id: int | None


Decision = Pong | Create | CancelReviews | Rerun | Ignore | InvalidDelivery


def shown(text: str) -> str:
    """Sender-controlled text, cut short for reasons and log lines."""
    return clip_token_shapes(text, _SHOWN)


def association(value: str) -> AuthorAssociation:
    try:
        return AuthorAssociation(value)
    except ValueError:
        return AuthorAssociation.NONE


def pull_request_of(
    number: int,
    head_sha: str | None,
    base_sha: str | None,
    base_ref: str | None,
    title: str | None,
    body: str | None,
    author: str,
    association: AuthorAssociation,
    draft: bool,
) -> PullRequest:
    return PullRequest(
        number=number,
        head_sha=head_sha,
        base_sha=base_sha,
        base_ref=clip_token_shapes(base_ref, 255) if base_ref else None,
        title=clip_token_shapes(title or "", 1024),
        # Scrubbed before the cut, like the title: a cut token would no longer be recognised.
        body=clip_token_shapes(body or "", PR_BODY_MAX_CHARS),
        author=author,
        author_association=association,
        draft=draft,
    )

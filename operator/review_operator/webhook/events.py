"""Pure decisions: a verified delivery (event name, payload) → what the receiver should do.

No I/O here: the handler executes the decision (create, cancel) against the API server. Every
"no" carries a reason, returned to GitHub in the answer's body so the delivery log explains it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from review_operator.api.models import (
    PR_BODY_MAX_CHARS,
    AuthorAssociation,
    Cancel,
    CancelReason,
    ObjectMeta,
    Phase,
    PullRequest,
    Repository,
    ReviewJob,
    ReviewJobSpec,
    Trigger,
    TriggerEvent,
)
from review_operator.api.scrub import clip_token_shapes
from review_operator.builders.names import LABEL_FORCE, reviewjob_labels, reviewjob_name
from review_operator.config import WebhookSettings
from review_operator.webhook import payloads

REVIEW_ACTIONS = frozenset({"opened", "reopened", "synchronize", "ready_for_review"})
CANCEL_ACTIONS = {
    "closed": CancelReason.PULL_REQUEST_CLOSED,
    "converted_to_draft": CancelReason.CONVERTED_TO_DRAFT,
}
COMMAND = re.compile(r"\s*/review(?:\s+(?P<force>force)\b)?(?:\s|$)")
CANCEL_COMMAND = re.compile(r"\s*/cancel(?:\s|$)")
MAX_DELIVERY_ID = 128
_SHOWN = 64  # sender-controlled text quoted in reasons and logs is cut to this


@dataclass(frozen=True)
class Policy:
    """Who gets reviews: trusted associations, an optional repository allow-list, drafts or not."""

    trusted: frozenset[str]
    allowed_repositories: frozenset[str]  # lowercase owner/name; empty allows every repository
    review_drafts: bool = False

    @classmethod
    def from_settings(cls, settings: WebhookSettings) -> Policy:
        return cls(
            trusted=frozenset(a.upper() for a in settings.webhook_trusted_associations),
            allowed_repositories=frozenset(r.lower() for r in settings.webhook_allowed_repositories),
            review_drafts=settings.webhook_review_drafts,
        )

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


Decision = Pong | Create | CancelReviews | Ignore | InvalidDelivery


@dataclass(frozen=True)
class Existing:
    """A `/review` while another `/review` of the PR is queued or running: that one answers it."""

    name: str


@dataclass(frozen=True)
class TooSoon:
    """A `/review force` within the interval after the last one on the PR."""

    retry_after: int


def replaces_cancelled(existing: ReviewJob, delivery_id: str) -> bool:
    """Whether a push review whose name is taken by `existing` should replace it: only when that
    one ended Cancelled (a PR closed then reopened, or drafted then ready again, at the same head)
    and this is another delivery (a redelivery of the one that created it stays a duplicate)."""
    cancelled = existing.status.phase is Phase.CANCELLED
    return cancelled and existing.spec.trigger.delivery_id != delivery_id


def command_verdict(
    job: ReviewJob, siblings: list[ReviewJob], now: datetime, force_interval_s: int
) -> Existing | TooSoon | None:
    """What a `/review` meets among the PR's ReviewJobs: None → create it. Repeats cost nothing:
    a plain `/review` while one is waiting or running is that one (whether the head was already
    reviewed is decided when it starts, from GitHub's head); `/review force` is allowed once per
    interval per PR, counted from the ReviewJobs themselves, so every webhook replica agrees."""
    if job.spec.trigger.force:
        last = max(
            (
                s.metadata.creation_timestamp
                for s in siblings
                if s.spec.trigger.force and s.metadata.creation_timestamp
            ),
            default=None,
        )
        if last is not None and (age := (now - last).total_seconds()) < force_interval_s:
            return TooSoon(max(1, int(force_interval_s - age)))
        return None
    for other in sorted(siblings, key=lambda s: s.metadata.name):
        waiting = other.spec.trigger.event is TriggerEvent.ISSUE_COMMENT and not other.spec.trigger.force
        if waiting and other.spec.cancel is None and not other.status.phase.is_final:
            return Existing(other.metadata.name)
    return None


def shown(text: str) -> str:
    """Sender-controlled text, cut short for reasons and log lines."""
    return clip_token_shapes(text, _SHOWN)


def summary(payload: Any) -> tuple[str, str]:
    """(action, repository full name) for the log line; empty when the payload lacks them."""
    try:
        envelope = payloads.Envelope.model_validate(payload)
    except ValidationError:
        return "", ""
    return shown(envelope.action), shown(envelope.repository.full_name if envelope.repository else "")


def decide(event: str, delivery_id: str, payload: Any, policy: Policy, now: datetime) -> Decision:
    """What to do with one verified, JSON-decoded delivery."""
    if len(delivery_id) > MAX_DELIVERY_ID:
        return InvalidDelivery("X-GitHub-Delivery is too long")
    if event == "ping":
        return Pong()
    if not isinstance(payload, dict):
        return InvalidDelivery("payload is not a JSON object")
    try:
        if event == "pull_request":
            return _pull_request(payloads.PullRequestEvent.model_validate(payload), delivery_id, policy, now)
        if event == "issue_comment":
            comment = payloads.IssueCommentEvent.model_validate(payload)
            return _issue_comment(comment, delivery_id, policy, now)
    except ValidationError as exc:
        # Field locations only: error messages could quote the (untrusted) input.
        fields = sorted({".".join(str(p) for p in err["loc"]) for err in exc.errors()})[:5]
        return InvalidDelivery(shown("payload does not match the event: " + ", ".join(fields)))
    return Ignore(f"event {shown(event)!r} is not handled")


def _association(value: str) -> AuthorAssociation:
    try:
        return AuthorAssociation(value)
    except ValueError:
        return AuthorAssociation.NONE


def _pull_request(ev: payloads.PullRequestEvent, delivery_id: str, policy: Policy, now: datetime) -> Decision:
    pr, repo = ev.pull_request, ev.repository
    if not policy.allows(repo.full_name):
        return Ignore("repository is not in the allow-list")
    if ev.action in CANCEL_ACTIONS:
        cancel = Cancel(reason=CANCEL_ACTIONS[ev.action], requested_at=now, delivery_id=delivery_id)
        return CancelReviews(repository_id=repo.id, pr_number=pr.number, cancel=cancel)
    if ev.action not in REVIEW_ACTIONS:
        return Ignore(f"pull_request action {shown(ev.action)!r} is not handled")
    if pr.draft and not policy.review_drafts:
        return Ignore("draft pull request (reviewed when marked ready)")
    if pr.author_association.upper() not in policy.trusted:
        return Ignore(
            f"author association {shown(pr.author_association)} is not trusted; "
            "a trusted `/review` comment starts a review"
        )
    return _create(
        repo,
        pr.number,
        pr.head.sha,
        pr.base.sha,
        pr.base.ref,
        pr.title,
        pr.body,
        pr.user.login,
        _association(pr.author_association),
        bool(pr.draft),
        ev.installation,
        Trigger(
            event=TriggerEvent.PULL_REQUEST, action=ev.action, delivery_id=delivery_id, sender=ev.sender.login
        ),
    )


def _issue_comment(
    ev: payloads.IssueCommentEvent, delivery_id: str, policy: Policy, now: datetime
) -> Decision:
    issue, comment, repo = ev.issue, ev.comment, ev.repository
    if ev.action != "created":
        return Ignore(f"issue_comment action {shown(ev.action)!r} is not handled")
    if issue.pull_request is None:
        return Ignore("comment on an issue, not a pull request")
    command = COMMAND.match(comment.body or "")
    cancel = CANCEL_COMMAND.match(comment.body or "")
    if command is None and cancel is None:
        return Ignore("comment is not a `/review` or `/cancel` command")
    if not policy.allows(repo.full_name):
        return Ignore("repository is not in the allow-list")
    if comment.author_association.upper() not in policy.trusted:
        return Ignore(f"commenter association {shown(comment.author_association)} is not trusted")
    if command is None:
        request = Cancel(
            reason=CancelReason.CANCEL_COMMAND,
            requested_at=now,
            delivery_id=delivery_id,
            comment_id=comment.id,
        )
        return CancelReviews(repository_id=repo.id, pr_number=issue.number, cancel=request)
    trigger = Trigger(
        event=TriggerEvent.ISSUE_COMMENT,
        action=ev.action,
        delivery_id=delivery_id,
        sender=ev.sender.login,
        comment_id=comment.id,
        force=True if command.group("force") else None,  # left out of the manifest unless forced
    )
    return _create(
        repo,
        issue.number,
        None,
        None,
        None,
        issue.title,
        issue.body,
        issue.user.login,
        _association(issue.author_association),
        False,
        ev.installation,
        trigger,
    )


def _create(
    repo: payloads.RepositoryPayload,
    number: int,
    head_sha: str | None,
    base_sha: str | None,
    base_ref: str | None,
    title: str | None,
    body: str | None,
    author: str,
    association: AuthorAssociation,
    draft: bool,
    installation: payloads.Installation | None,
    trigger: Trigger,
) -> Decision:
    spec = ReviewJobSpec(
        repository=Repository(owner=repo.owner.login, name=repo.name, id=repo.id),
        pull_request=PullRequest(
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
        ),
        installation_id=installation.id if installation else None,
        trigger=trigger,
    )
    labels = reviewjob_labels(repo.id, number, head_sha)
    if trigger.force:
        labels[LABEL_FORCE] = "true"
    meta = ObjectMeta(name=reviewjob_name(repo.id, number, head_sha, trigger.comment_id), labels=labels)
    return Create(job=ReviewJob(metadata=meta, spec=spec), repository_id=repo.id)

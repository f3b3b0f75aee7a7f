"""Pure decisions: a verified delivery (event name, payload) → what the receiver should do.

No I/O here: the handler executes the decision (create, cancel) against the API server. Every
"no" carries a reason, returned to GitHub in the answer's body so the delivery log explains it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from review_operator.api.models import (
    AuthorAssociation,
    Cancel,
    CancelReason,
    JobKind,
    ObjectMeta,
    Overrides,
    Phase,
    Repository,
    ReviewJob,
    ReviewJobSpec,
    Trigger,
    TriggerEvent,
)
from review_operator.builders.names import (
    CHECK_RUN_NAME,
    LABEL_FORCE,
    rerun_suffix,
    reviewjob_labels,
    reviewjob_name,
)
from review_operator.webhook import payloads, questions
from review_operator.webhook.decision import (
    CancelReviews,
    Create,
    Decision,
    Ignore,
    InvalidDelivery,
    Policy,
    Pong,
    Rerun,
    association,
    pull_request_of,
    shown,
)

__all__ = [
    "CancelReviews",
    "Create",
    "Decision",
    "Existing",
    "Ignore",
    "InvalidDelivery",
    "Policy",
    "Pong",
    "Rerun",
    "TooSoon",
    "command_verdict",
    "decide",
    "replaces_cancelled",
    "rerun_of",
    "rerun_template",
    "shown",
    "summary",
]

REVIEW_ACTIONS = frozenset({"opened", "reopened", "synchronize", "ready_for_review"})
CANCEL_ACTIONS = {
    "closed": CancelReason.PULL_REQUEST_CLOSED,
    "converted_to_draft": CancelReason.CONVERTED_TO_DRAFT,
}
# `/review full` is forced too: its point is to review again what was reviewed (in part) already.
COMMAND = re.compile(r"\s*/review(?:\s+(?:(?P<force>force)|(?P<full>full))\b)?(?:\s|$)")
CANCEL_COMMAND = re.compile(r"\s*/cancel(?:\s|$)")
MAX_DELIVERY_ID = 128


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
                # Its own name is a redelivery of this very request: a duplicate, not a second one.
                if s.spec.trigger.force
                and s.metadata.creation_timestamp
                and s.metadata.name != job.metadata.name
            ),
            default=None,
        )
        if last is not None and (age := (now - last).total_seconds()) < force_interval_s:
            return TooSoon(max(1, int(force_interval_s - age)))
        return None
    for other in sorted(siblings, key=lambda s: s.metadata.name):
        waiting = other.spec.trigger.event is TriggerEvent.ISSUE_COMMENT and not other.spec.trigger.force
        waiting = waiting and other.spec.kind is JobKind.REVIEW  # a question answers no `/review`
        if waiting and other.spec.cancel is None and not other.status.phase.is_final:
            return Existing(other.metadata.name)
    return None


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
        if event == "pull_request_review_comment":
            reply = payloads.PullRequestReviewCommentEvent.model_validate(payload)
            return questions.thread_reply(reply, delivery_id, policy)
        if event == "check_run":
            return _check_run(payloads.CheckRunEvent.model_validate(payload), delivery_id, policy)
        if event == "check_suite":
            return _check_suite(payloads.CheckSuiteEvent.model_validate(payload), delivery_id, policy)
    except ValidationError as exc:
        # Field locations only: error messages could quote the (untrusted) input.
        fields = sorted({".".join(str(p) for p in err["loc"]) for err in exc.errors()})[:5]
        return InvalidDelivery(shown("payload does not match the event: " + ", ".join(fields)))
    return Ignore(f"event {shown(event)!r} is not handled")


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
        association(pr.author_association),
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
    ask = questions.ASK_COMMAND.match(comment.body or "")
    if command is None and cancel is None and ask is None:
        return Ignore("comment is not a `/review`, `/ask` or `/cancel` command")
    if not policy.allows(repo.full_name):
        return Ignore("repository is not in the allow-list")
    if comment.author_association.upper() not in policy.trusted:
        return Ignore(f"commenter association {shown(comment.author_association)} is not trusted")
    if ask is not None:
        return questions.ask(ev, ask, delivery_id)
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
        force=True if command.group("force") or command.group("full") else None,  # left out unless forced
        full=True if command.group("full") else None,
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
        association(issue.author_association),
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
) -> Create:
    spec = ReviewJobSpec(
        repository=Repository(owner=repo.owner.login, name=repo.name, id=repo.id),
        pull_request=pull_request_of(
            number, head_sha, base_sha, base_ref, title, body, author, association, draft
        ),
        installation_id=installation.id if installation else None,
        trigger=trigger,
    )
    labels = reviewjob_labels(repo.id, number, head_sha)
    if trigger.force:
        labels[LABEL_FORCE] = "true"
    meta = ObjectMeta(name=reviewjob_name(repo.id, number, head_sha, trigger.comment_id), labels=labels)
    return Create(job=ReviewJob(metadata=meta, spec=spec), repository_id=repo.id)


def _check_run(ev: payloads.CheckRunEvent, delivery_id: str, policy: Policy) -> Decision:
    run = ev.check_run
    if ev.action != "rerequested":
        return Ignore(f"check_run action {shown(ev.action)!r} is not handled")
    if run.name != CHECK_RUN_NAME or not policy.ours(run.app):
        return Ignore("not a check run of this App")
    if not policy.allows(ev.repository.full_name):
        return Ignore("repository is not in the allow-list")
    # No author_association gate: GitHub lets only people with write access re-run a check.
    return _rerun(
        ev, TriggerEvent.CHECK_RUN, run.head_sha, run.pull_requests, run.external_id or None, delivery_id
    )


def _check_suite(ev: payloads.CheckSuiteEvent, delivery_id: str, policy: Policy) -> Decision:
    suite = ev.check_suite
    if ev.action != "rerequested":
        return Ignore(f"check_suite action {shown(ev.action)!r} is not handled")
    if not policy.ours(suite.app):
        return Ignore("not a check suite of this App")
    if not policy.allows(ev.repository.full_name):
        return Ignore("repository is not in the allow-list")
    return _rerun(ev, TriggerEvent.CHECK_SUITE, suite.head_sha, suite.pull_requests, None, delivery_id)


def _rerun(
    ev: payloads.CheckRunEvent | payloads.CheckSuiteEvent,
    event: TriggerEvent,
    head_sha: str,
    pulls: list[payloads.PullRequestRef],
    external_id: str | None,
    delivery_id: str,
) -> Rerun:
    trigger = Trigger(
        event=event, action=ev.action, delivery_id=delivery_id, sender=ev.sender.login, force=True
    )
    return Rerun(
        repository_id=ev.repository.id,
        full_name=ev.repository.full_name,
        head_sha=head_sha,
        pr_numbers=tuple(p.number for p in pulls),
        external_id=external_id,
        trigger=trigger,
        installation_id=ev.installation.id if ev.installation else None,
    )


def rerun_template(rerun: Rerun, candidates: list[ReviewJob]) -> ReviewJob | None:
    """The ReviewJob a Re-run repeats: one of this repository (and, when the payload names them, of
    one of its pull requests), of this head if any is, the newest first; None: nothing to repeat."""
    mine = [
        c
        for c in candidates
        if c.spec.repository.id == rerun.repository_id
        and (not rerun.pr_numbers or c.spec.pull_request.number in rerun.pr_numbers)
    ]
    epoch = datetime.min.replace(tzinfo=UTC)

    def rank(job: ReviewJob) -> tuple[bool, datetime, str]:
        head = job.spec.pull_request.head_sha or job.status.head_sha
        return head == rerun.head_sha, job.metadata.creation_timestamp or epoch, job.metadata.name

    return max(mine, key=rank, default=None)


def rerun_of(template: ReviewJob, rerun: Rerun) -> Create:
    """A forced review of the re-run head, of the template's pull request (its title, body, author
    and base as the webhook recorded them). Named after the delivery: a redelivery is a duplicate."""
    pr = template.spec.pull_request
    same_head = (pr.head_sha or template.status.head_sha) == rerun.head_sha
    spec = template.spec.model_copy(
        update={
            "pull_request": pr.model_copy(
                update={
                    "head_sha": rerun.head_sha,
                    # Another head's base may not be this one's: leave it to be resolved.
                    "base_sha": pr.base_sha if same_head else None,
                }
            ),
            "installation_id": rerun.installation_id or template.spec.installation_id,
            "trigger": rerun.trigger,
            "overrides": Overrides(),  # the webhook never sets any
            "cancel": None,
        }
    )
    labels = reviewjob_labels(rerun.repository_id, pr.number, rerun.head_sha)
    labels[LABEL_FORCE] = "true"
    name = reviewjob_name(
        rerun.repository_id, pr.number, rerun.head_sha, rerun=rerun_suffix(rerun.trigger.delivery_id)
    )
    meta = ObjectMeta(name=name, labels=labels)
    return Create(job=ReviewJob(metadata=meta, spec=spec), repository_id=rerun.repository_id)

"""Pure reconcile planning: from what exists in the cluster to the steps that move reviews on.

`plan()` sees every non-final ReviewJob and every review pod, and returns steps; the dispatcher
executes them. Nothing here talks to the cluster or GitHub, so every decision is unit-testable
and a restarted controller, seeing the same objects, plans the same steps.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from review_operator.api.models import CancelReason, Phase, ReviewJob, TriggerEvent
from review_operator.api.reasons import Reason
from review_operator.api.result import ResultDecodeError, ReviewResult, decode_result
from review_operator.builders.names import pod_name
from review_operator.config import ControllerSettings
from review_operator.controller.admission import Slot, admit, backoff, holds_slot
from review_operator.controller.classify import Kind, classify_pod, classify_stuck
from review_operator.controller.heads import PRKey, job_head, pr_key

COND_POD_CREATED = "PodCreated"


@dataclass(frozen=True)
class Queue:
    job: ReviewJob


@dataclass(frozen=True)
class Start:
    job: ReviewJob
    attempt: int


@dataclass(frozen=True)
class EnsurePod:
    """Running, but the pod was never confirmed created (a crash between claim and create)."""

    job: ReviewJob


@dataclass(frozen=True)
class Finish:
    job: ReviewJob
    phase: Phase
    reason: str
    message: str
    result: ReviewResult | None = None
    delete_pod: str | None = None
    note_on_pr: bool = True


@dataclass(frozen=True)
class Retry:
    job: ReviewJob
    reason: str
    message: str
    not_before: datetime
    delete_pod: str | None = None


@dataclass(frozen=True)
class Cleanup:
    """Final, but its pod, Secret or finished label may be left from an interrupted finish."""

    job: ReviewJob


@dataclass(frozen=True)
class Post:
    job: ReviewJob
    result: ReviewResult
    pod: str | None  # None once the result is kept in status (a delayed post needs no pod)


@dataclass(frozen=True)
class DelayPost:
    """Posting failed for now: keep the result in status, let the pod and its slot go, try again
    no sooner than `not_before`. Not a pass step: decided right after a failed attempt."""

    job: ReviewJob
    result: ReviewResult
    message: str
    not_before: datetime
    since: datetime
    delete_pod: str | None


Step = Queue | Start | EnsurePod | Finish | Retry | Post | Cleanup


@dataclass
class Observed:
    jobs: list[ReviewJob]
    pods: dict[str, dict[str, Any]] = field(default_factory=dict)  # by pod name
    # GitHub's head of each PR with two heads in play; None: no GitHub (stale means older, then).
    heads: dict[PRKey, str] | None = None


@dataclass(frozen=True)
class Stale:
    """A review of a commit that is not the PR's head (any more)."""

    head: str  # the PR's head, or the newest head under review when GitHub is not asked
    covered: bool  # another review of that head is queued or running


def _created(job: ReviewJob, now: datetime) -> datetime:
    return job.metadata.creation_timestamp or now


def superseded_by_newer(jobs: list[ReviewJob], now: datetime) -> dict[str, Stale]:
    """Without GitHub to ask: older push-triggered reviews of a PR with a newer head under review."""
    by_pr: dict[PRKey, list[ReviewJob]] = defaultdict(list)
    for job in jobs:
        if job.spec.trigger.event is not TriggerEvent.ISSUE_COMMENT and job.spec.pull_request.head_sha:
            by_pr[pr_key(job)].append(job)
    stale: dict[str, Stale] = {}
    for group in by_pr.values():
        group.sort(key=lambda j: (_created(j, now), j.metadata.name))
        newest = group[-1].spec.pull_request.head_sha or ""
        for job in group[:-1]:
            if job.spec.pull_request.head_sha != newest:
                stale[job.metadata.name] = Stale(newest, covered=True)
    return stale


def covers(job: ReviewJob, head: str) -> bool:
    """Whether this non-final review is, or will be, of `head` (a command's head resolves to the
    PR's head when it starts)."""
    return job.spec.cancel is None and job_head(job) in (head, None)


def stale_reviews(jobs: list[ReviewJob], heads: dict[PRKey, str] | None, now: datetime) -> dict[str, Stale]:
    """Non-final reviews of a commit that is not their PR's head, as GitHub says (name → why).

    Never decided by which ReviewJob was created last: a late redelivery of an older push must not
    displace the review of the newer one."""
    if heads is None:
        return superseded_by_newer(jobs, now)
    stale: dict[str, Stale] = {}
    active = [j for j in jobs if not j.status.phase.is_final]
    for job in active:
        head, actual = job_head(job), heads.get(pr_key(job))
        if head is None or actual is None or head == actual:
            continue
        covered = any(covers(other, actual) for other in active if pr_key(other) == pr_key(job))
        stale[job.metadata.name] = Stale(actual, covered)
    return stale


def head_moved(job: ReviewJob, actual: str, covered: bool, pod: str | None) -> Finish:
    """The end of a review whose commit is no longer the PR's head. When no other review covers the
    new head, the PR is told, so it never ends with neither a review of its head nor a note."""
    head = (job_head(job) or "")[:12]
    if covered:
        return Finish(
            job,
            Phase.SUPERSEDED,
            Reason.SUPERSEDED,
            f"A newer commit ({actual[:12]}) is under review.",
            delete_pod=pod,
            note_on_pr=False,
        )
    return Finish(
        job,
        Phase.SUPERSEDED,
        Reason.HEAD_MOVED,
        f"The pull request's head moved from {head} to {actual[:12]}, which no review covers yet; "
        "comment `/review` to review it.",
        delete_pod=pod,
    )


def start_check(
    job: ReviewJob, actual: str | None, siblings: list[ReviewJob], pod: str | None = None
) -> Finish | None:
    """Whether a review about to get its pod should not run: its commit is no longer the PR's head
    (a late or replayed delivery), or it is a `/review` of a head already queued, running or
    reviewed (a repeated command; `/review force` skips this). `siblings`: the PR's ReviewJobs."""
    head = job_head(job)
    others = [o for o in siblings if o.metadata.name != job.metadata.name]
    if actual is not None and head is not None and head != actual:
        covered = any(covers(o, actual) for o in others if not o.status.phase.is_final)
        return head_moved(job, actual, covered, pod)
    trigger = job.spec.trigger
    if trigger.event is not TriggerEvent.ISSUE_COMMENT or trigger.force or head is None:
        return None
    for other in sorted(others, key=lambda o: o.metadata.name):
        if _already_covers(other, job, head):
            done = other.status.phase is Phase.SUCCEEDED
            return Finish(
                job,
                Phase.SUPERSEDED,
                Reason.ALREADY_REVIEWED,
                f"{other.metadata.name} {'already reviewed' if done else 'is reviewing'} {head[:12]}; "
                "comment `/review force` to review it again.",
                delete_pod=pod,
            )
    return None


def _already_covers(other: ReviewJob, job: ReviewJob, head: str) -> bool:
    """A review of the same head that counts against a repeated `/review`: a push's (queued, running
    or succeeded), or an earlier command's."""
    phase = other.status.phase
    if job_head(other) != head or other.spec.cancel is not None:
        return False
    if phase.is_final and phase is not Phase.SUCCEEDED:
        return False
    if other.spec.trigger.event is not TriggerEvent.ISSUE_COMMENT:
        return True
    # Of two commands for one head, the earlier stands (creation time has whole seconds: then by name).
    epoch = datetime.min.replace(tzinfo=UTC)
    mine = (job.metadata.creation_timestamp or epoch, job.metadata.name)
    theirs = (other.metadata.creation_timestamp or epoch, other.metadata.name)
    return theirs < mine


def _has_condition(job: ReviewJob, type_: str) -> bool:
    return any(c.type == type_ and c.status == "True" for c in job.status.conditions)


def _attempt_or_retry(
    job: ReviewJob,
    reason: str,
    message: str,
    retry_after: float | None,
    pod: str | None,
    now: datetime,
    settings: ControllerSettings,
    rng: random.Random,
) -> Step:
    if job.status.attempts >= settings.max_attempts:
        return Finish(
            job,
            Phase.FAILED,
            reason,
            f"{message} Gave up after {job.status.attempts} attempts.",
            delete_pod=pod,
        )
    delay = backoff(
        job.status.attempts, settings.retry_base_seconds, settings.retry_max_seconds, retry_after, rng
    )
    return Retry(job, reason, message, now + delay, delete_pod=pod)


def _plan_running(
    job: ReviewJob,
    pod: dict[str, Any] | None,
    now: datetime,
    settings: ControllerSettings,
    rng: random.Random,
) -> Step | None:
    name = job.status.pod_name or pod_name(job.metadata.name, job.status.attempts)
    if job.status.posting.result is not None:
        return _plan_delayed_post(job, now)
    if pod is None:
        started = job.status.start_time or _created(job, now)
        if not _has_condition(job, COND_POD_CREATED) and (now - started).total_seconds() > (
            settings.pending_timeout_seconds
        ):
            # The claim's deadline: a pod the API server keeps failing to create (5xx, timeouts) must
            # not hold its slot (and mint a token per pass) for ever.
            return _attempt_or_retry(
                job,
                Reason.POD_CREATE_FAILED,
                f"The review pod could not be created within {settings.pending_timeout_seconds} s.",
                None,
                name,
                now,
                settings,
                rng,
            )
        if _has_condition(job, COND_POD_CREATED):
            return _attempt_or_retry(
                job,
                Reason.NODE_LOST,
                "The review pod disappeared (node lost or deleted).",
                None,
                None,
                now,
                settings,
                rng,
            )
        return EnsurePod(job)
    verdict = classify_pod(pod)
    if verdict.kind is Kind.RUNNING:
        started = job.status.start_time or _created(job, now)
        verdict = classify_stuck(
            pod, now, started, settings.pending_timeout_seconds, settings.running_deadline_seconds
        )
        if verdict.kind is Kind.RUNNING:
            return None
    reason = str(verdict.reason)
    if verdict.kind is Kind.SUCCEEDED and verdict.result is not None:
        return Post(job, verdict.result, name)
    if verdict.kind is Kind.RETRY:
        return _attempt_or_retry(
            job, reason, verdict.message, verdict.retry_after_s, name, now, settings, rng
        )
    return Finish(
        job, verdict.phase or Phase.FAILED, reason, verdict.message, verdict.result, delete_pod=name
    )


def _plan_delayed_post(job: ReviewJob, now: datetime) -> Step | None:
    """A finished review whose posting GitHub delayed: post again once its wait is over."""
    posting = job.status.posting
    if posting.next_attempt_at is not None and now < posting.next_attempt_at:
        return None
    try:
        result = decode_result(posting.result)
    except ResultDecodeError as exc:
        return Finish(
            job, Phase.FAILED, Reason.RESULT_UNREADABLE, f"The kept review result was unreadable: {exc}"
        )
    return Post(job, result, None)


def after_posting_failure(
    step: Post,
    message: str,
    retry_after_s: float | None,
    retryable: bool,
    now: datetime,
    settings: ControllerSettings,
    rng: random.Random,
) -> DelayPost | Finish:
    """What a failed post calls for: wait (never sooner than GitHub's retry-after; capped backoff
    for 5xx and dropped connections) while the give-up time has not passed since the first failure,
    else fail. Counted in time, not attempts, so a rate limit or an outage cannot throw away a
    finished, paid review; a refusal (`retryable` false) is final at once."""
    job = step.job
    since = job.status.posting.delayed_since or now
    elapsed = (now - since).total_seconds()
    if not retryable or elapsed >= settings.posting_give_up_seconds:
        gave_up = f" Gave up after {int(elapsed)} s of retries." if retryable else ""
        return Finish(
            job,
            Phase.FAILED,
            Reason.POSTING_FAILED,
            f"Posting failed: {message}{gave_up}",
            step.result,
            delete_pod=step.pod,
        )
    delay = backoff(
        job.status.posting.attempts, settings.retry_base_seconds, settings.retry_max_seconds, None, rng
    )
    if retry_after_s is not None:
        delay = max(delay, timedelta(seconds=retry_after_s))
    return DelayPost(job, step.result, message, now + delay, since, step.pod)


@dataclass
class PassPlan:
    steps: list[Step]
    queued: list[Slot]  # waiting for a slot after this pass's starts
    stale: set[str]  # superseded by a newer commit of the same PR


def plan(
    observed: Observed,
    now: datetime,
    settings: ControllerSettings,
    rng: random.Random,
    started_last_minute: int = 0,
) -> list[Step]:
    return plan_pass(observed, now, settings, rng, started_last_minute).steps


def plan_pod(
    job: ReviewJob, pod: dict[str, Any], now: datetime, settings: ControllerSettings, rng: random.Random
) -> Step | None:
    """The step a running review's pod calls for on its own (a pod event between two passes)."""
    if job.status.phase is not Phase.RUNNING or job.spec.cancel is not None:
        return None
    if pod.get("metadata", {}).get("name") != job.status.pod_name:
        return None
    step = _plan_running(job, pod, now, settings, rng)
    return None if isinstance(step, EnsurePod) else step


def plan_pass(
    observed: Observed,
    now: datetime,
    settings: ControllerSettings,
    rng: random.Random,
    started_last_minute: int = 0,
    admit_queued: bool = True,
) -> PassPlan:
    """Every step of a pass; with `admit_queued` false, queued reviews are returned, not started."""
    steps: list[Step] = []
    stale = stale_reviews(observed.jobs, observed.heads, now)
    running: list[Slot] = []
    queued: list[Slot] = []
    by_name = {j.metadata.name: j for j in observed.jobs}
    for job in observed.jobs:
        phase = job.status.phase
        if phase.is_final:
            steps.append(Cleanup(job))
            continue
        current_pod = job.status.pod_name if phase is Phase.RUNNING else None
        if job.spec.cancel is not None:
            reason = job.spec.cancel.reason
            label = {
                CancelReason.PULL_REQUEST_CLOSED: "The pull request was closed.",
                CancelReason.CONVERTED_TO_DRAFT: "The pull request was turned into a draft.",
            }.get(reason, "The review was cancelled.")
            steps.append(
                Finish(job, Phase.CANCELLED, str(reason), label, delete_pod=current_pod, note_on_pr=False)
            )
            continue
        if job.metadata.name in stale:
            why = stale[job.metadata.name]
            steps.append(head_moved(job, why.head, why.covered, current_pod))
            continue
        # Oldest first: creation time (then name) keeps its place in line across retries.
        slot = Slot(job.metadata.name, job.spec.repository.id, _created(job, now), job.status.next_attempt_at)
        if phase is Phase.PENDING:
            # Queued now; admitted by the refill that follows this pass's Queue steps.
            steps.append(Queue(job))
        elif phase is Phase.QUEUED:
            queued.append(slot)
        elif phase is Phase.RUNNING:
            if holds_slot(job):
                running.append(slot)
            step = _plan_running(job, observed.pods.get(job.status.pod_name or ""), now, settings, rng)
            if step is not None:
                steps.append(step)
    starts_left = None
    if settings.max_starts_per_minute:
        starts_left = max(0, settings.max_starts_per_minute - started_last_minute)
    if not admit_queued:
        return PassPlan(steps, queued, set(stale))
    admitted = admit(
        running, queued, now, settings.max_concurrent, settings.max_concurrent_per_repo, starts_left
    )
    for name in admitted:
        job = by_name[name]
        steps.append(Start(job, job.status.attempts + 1))
    taken = set(admitted)
    left = [slot for slot in queued if slot.name not in taken]
    return PassPlan(steps, left, set(stale))


def started_within(jobs: list[ReviewJob], now: datetime, window: timedelta) -> int:
    return sum(1 for j in jobs if j.status.start_time is not None and now - j.status.start_time < window)

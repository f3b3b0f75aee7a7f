"""The ReviewJob state machine: every decision about what a review does next, in one place.

`decide(observation, now, settings, rng)` takes one fact about one ReviewJob (what a pass saw of
it and its pod, or what executing a step found out) and returns the next step, or None. It is
pure: no I/O, no clock, no state. The engine executes the step and, when the step itself learns
something (GitHub refused a token, a post failed), brings that back here as the next observation.
So every transition is decided here; `TRANSITIONS` (in `transitions.py`) lists them for people and
for the generated `docs/state-machine.md`, and a test checks that the two agree.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from review_operator.api.models import CancelReason, JobKind, Phase, ReviewJob, TriggerEvent
from review_operator.api.reasons import Reason
from review_operator.api.result import ResultDecodeError, ReviewResult, decode_result
from review_operator.builders.names import pod_name
from review_operator.builders.question import Thread
from review_operator.config import ControllerSettings
from review_operator.controller.decide.admission import backoff
from review_operator.controller.decide.classify import (
    Kind,
    classify_create_failure,
    classify_pod,
    classify_stuck,
)
from review_operator.controller.decide.heads import job_head
from review_operator.controller.decide.steps import (
    Cleanup,
    CreatePod,
    CreateRefused,
    DelayPost,
    EnsurePod,
    Finish,
    HeadUnresolved,
    Hold,
    Observation,
    Pause,
    PodSeen,
    Post,
    Posted,
    PostFailed,
    PostingOff,
    PostMoved,
    PostRefused,
    Queue,
    Retry,
    Seen,
    Stale,
    StartFacts,
    Step,
    TokenRefused,
)

COND_POD_CREATED = "PodCreated"
CANCEL_MESSAGES = {
    CancelReason.PULL_REQUEST_CLOSED: "The pull request was closed.",
    CancelReason.CONVERTED_TO_DRAFT: "The pull request was turned into a draft.",
    CancelReason.CANCEL_COMMAND: "A trusted `/cancel` comment stopped the review.",
}


def decide(obs: Observation, now: datetime, settings: ControllerSettings, rng: random.Random) -> Step | None:
    """The next step for the ReviewJob `obs` is about (None: nothing to do now)."""
    step = _decide(obs, now, settings, rng)
    if isinstance(step, Finish) and step.note_on_pr and step.job.spec.kind.is_question:
        # The PR's summary comment is the reviews'; a question's ending is told by its reaction (😕).
        return replace(step, note_on_pr=False)
    return step


def _decide(obs: Observation, now: datetime, settings: ControllerSettings, rng: random.Random) -> Step | None:
    match obs:
        case Seen(job=job, pod=pod, stale=stale, paused=paused):
            step = _seen(job, pod, stale, now, settings, rng)
            return _held(job, paused) if step is None else step
        case PodSeen(job=job, pod=pod):
            return _pod_event(job, pod, now, settings, rng)
        case HeadUnresolved(job=job):
            return Finish(
                job, Phase.FAILED, Reason.HEAD_UNRESOLVED, "Could not resolve the PR's head commit."
            )
        case StartFacts(job=job, repo=repo, scope=scope, thread=thread) if job.spec.kind.is_question:
            return _question_start(job, thread) or CreatePod(job, repo, scope, thread)
        case StartFacts(job=job, actual_head=actual, siblings=siblings, repo=repo, skip=skip, scope=scope):
            checked = start_check(job, actual, siblings) or _configured(job, skip)
            return checked or CreatePod(job, repo, scope)
        case TokenRefused(job=job, message=message):
            return Finish(job, Phase.FAILED, Reason.UNAUTHORIZED, f"GitHub: {message}")
        case CreateRefused(job=job, status=status, detail=detail):
            verdict = classify_create_failure(status, detail)
            if verdict.kind is not Kind.FINAL or verdict.reason is None:
                return None  # transient: the next pass tries again, until the claim's deadline
            return Finish(job, verdict.phase or Phase.FAILED, verdict.reason, verdict.message)
        case PostingOff(step=post):
            return _succeeded(post, "Review completed (posting disabled).")
        case Posted(step=post) if post.job.spec.kind.is_question:
            return _succeeded(post, "Answer posted.")
        case Posted(step=post):
            return _succeeded(post, f"Review posted with {len(post.result.findings)} findings.")
        case PostMoved(step=post, current_head=current):
            message = f"The PR head moved to {current[:12]}; not posted."
            return Finish(
                post.job,
                Phase.SUPERSEDED,
                Reason.HEAD_MOVED,
                message,
                post.result,
                post.pod,
                note_on_pr=False,
            )
        case PostRefused(step=post, message=message):
            text = f"Posting to GitHub: {message}"
            return Finish(
                post.job, Phase.FAILED, Reason.UNAUTHORIZED, text, post.result, post.pod, note_on_pr=False
            )
        case PostFailed(step=post, message=message, retry_after=retry_after, retryable=retryable, at=at):
            return after_posting_failure(post, message, retry_after, retryable, at, settings, rng)
    return None


def _held(job: ReviewJob, paused: Pause | None) -> Hold | None:
    """A queued review while admission is paused says why, once per cause (it keeps its place in
    line)."""
    if paused is None or job.status.phase is not Phase.QUEUED or job.status.reason == paused.reason:
        return None
    return Hold(job, paused.reason, paused.message)


def _configured(job: ReviewJob, skip: str | None) -> Finish | None:
    """An automatic review the repository's configuration turns off (`mode: manual`, a skipped
    author); a `/review` command or a GitHub "Re-run" is a manual trigger, so it always runs."""
    if skip is None or job.spec.trigger.event.on_request:
        return None
    return Finish(job, Phase.CANCELLED, Reason.SKIPPED_BY_CONFIG, skip, note_on_pr=False)


def _question_start(job: ReviewJob, thread: Thread | None) -> Finish | None:
    """A reply is answered only in a thread our App started (its first comment is our finding): a
    reply in anyone else's thread costs nothing. Questions are never checked against the PR's head
    or its other reviews: they neither supersede nor repeat a review."""
    if job.spec.kind is not JobKind.REPLY or (thread is not None and thread.ours):
        return None
    message = "The reply is not in a review thread of ours; not answered."
    if thread is None:
        message = "The review thread could not be found (deleted?); not answered."
    return Finish(job, Phase.CANCELLED, Reason.NOT_OUR_THREAD, message, note_on_pr=False)


def _succeeded(post: Post, message: str) -> Finish:
    return Finish(post.job, Phase.SUCCEEDED, Reason.SUCCEEDED, message, post.result, delete_pod=post.pod)


# -- what a pass sees ----------------------------------------------------------------------------


def _seen(
    job: ReviewJob,
    pod: dict[str, Any] | None,
    stale: Stale | None,
    now: datetime,
    settings: ControllerSettings,
    rng: random.Random,
) -> Step | None:
    phase = job.status.phase
    if phase.is_final:
        return Cleanup(job)
    current_pod = job.status.pod_name if phase is Phase.RUNNING else None
    if job.spec.cancel is not None:
        reason = job.spec.cancel.reason
        label = CANCEL_MESSAGES.get(reason, "The review was cancelled.")
        return Finish(job, Phase.CANCELLED, str(reason), label, delete_pod=current_pod, note_on_pr=False)
    if stale is not None:
        return head_moved(job, stale.head, stale.covered, current_pod)
    if phase is Phase.PENDING:
        return Queue(job)  # admitted by the refill that follows the pass's Queue steps
    if phase is Phase.RUNNING:
        return running(job, pod, now, settings, rng)
    return None  # Queued: admission decides, from the ledger


def _pod_event(
    job: ReviewJob, pod: dict[str, Any], now: datetime, settings: ControllerSettings, rng: random.Random
) -> Step | None:
    """A pod event between passes: only a running review's own pod, and never a pod to create."""
    if job.status.phase is not Phase.RUNNING or job.spec.cancel is not None:
        return None
    if pod.get("metadata", {}).get("name") != job.status.pod_name:
        return None
    step = running(job, pod, now, settings, rng)
    return None if isinstance(step, EnsurePod) else step


def _has_condition(job: ReviewJob, type_: str) -> bool:
    return any(c.type == type_ and c.status == "True" for c in job.status.conditions)


def _started(job: ReviewJob, now: datetime) -> datetime:
    return job.status.start_time or job.metadata.creation_timestamp or now


def running(
    job: ReviewJob,
    pod: dict[str, Any] | None,
    now: datetime,
    settings: ControllerSettings,
    rng: random.Random,
) -> Step | None:
    """A Running review: its kept result to post, its missing pod, or what its pod says."""
    name = job.status.pod_name or pod_name(job.metadata.name, job.status.attempts)
    if job.status.posting.result is not None:
        return _delayed_post(job, now)
    if pod is None:
        return _no_pod(job, name, now, settings, rng)
    verdict = classify_pod(pod)
    if verdict.kind is Kind.RUNNING:
        pending, deadline = settings.pending_timeout_seconds, settings.running_deadline_seconds
        verdict = classify_stuck(pod, now, _started(job, now), pending, deadline)
        if verdict.kind is Kind.RUNNING:
            return None
    reason = str(verdict.reason)
    if verdict.kind is Kind.SUCCEEDED and verdict.result is not None:
        if job.spec.kind.is_question and not verdict.result.answer.strip():
            message = "The answer pod succeeded without an answer."
            return Finish(job, Phase.FAILED, Reason.NO_ANSWER, message, verdict.result, delete_pod=name)
        return Post(job, verdict.result, name)
    if verdict.kind is Kind.RETRY:
        after = verdict.retry_after_s
        return attempt_or_retry(job, reason, verdict.message, after, name, now, settings, rng, verdict.result)
    phase = verdict.phase or Phase.FAILED
    rejected = verdict.reason is Reason.UNAUTHORIZED  # a pod's Unauthorized is the model's (runner exit 21)
    return Finish(
        job, phase, reason, verdict.message, verdict.result, delete_pod=name, model_key_rejected=rejected
    )


def _no_pod(
    job: ReviewJob, name: str, now: datetime, settings: ControllerSettings, rng: random.Random
) -> Step:
    if _has_condition(job, COND_POD_CREATED):
        message = "The review pod disappeared (node lost or deleted)."
        return attempt_or_retry(job, Reason.NODE_LOST, message, None, None, now, settings, rng)
    if (now - _started(job, now)).total_seconds() > settings.pending_timeout_seconds:
        # The claim's deadline: a pod the API server keeps failing to create (5xx, timeouts) must
        # not hold its slot (and mint a token per pass) for ever.
        message = f"The review pod could not be created within {settings.pending_timeout_seconds} s."
        return attempt_or_retry(job, Reason.POD_CREATE_FAILED, message, None, name, now, settings, rng)
    return EnsurePod(job)


def attempt_or_retry(
    job: ReviewJob,
    reason: str,
    message: str,
    retry_after: float | None,
    pod: str | None,
    now: datetime,
    settings: ControllerSettings,
    rng: random.Random,
    result: ReviewResult | None = None,
) -> Step:
    """Another attempt after a backoff, or the end once the attempts are used up. `result`: what
    the ended attempt reported, if anything (its spend is recorded either way)."""
    if job.status.attempts >= settings.max_attempts:
        text = f"{message} Gave up after {job.status.attempts} attempts."
        return Finish(job, Phase.FAILED, reason, text, result, delete_pod=pod)
    base, cap = settings.retry_base_seconds, settings.retry_max_seconds
    not_before = now + backoff(job.status.attempts, base, cap, retry_after, rng)
    created = job.metadata.creation_timestamp or now
    if (not_before - created).total_seconds() > settings.retry_deadline_seconds:
        text = (
            f"{message} Gave up after {job.status.attempts} attempts: another would start past the "
            f"retry deadline ({settings.retry_deadline_seconds} s after the review was created)."
        )
        return Finish(job, Phase.FAILED, reason, text, result, delete_pod=pod)
    return Retry(job, reason, message, not_before, delete_pod=pod, result=result)


def _delayed_post(job: ReviewJob, now: datetime) -> Step | None:
    """A finished review whose posting GitHub delayed: post again once its wait is over."""
    posting = job.status.posting
    if posting.next_attempt_at is not None and now < posting.next_attempt_at:
        return None
    try:
        result = decode_result(posting.result)
    except ResultDecodeError as exc:
        message = f"The kept review result was unreadable: {exc}"
        return Finish(job, Phase.FAILED, Reason.RESULT_UNREADABLE, message)
    return Post(job, result, None)


# -- posting -------------------------------------------------------------------------------------


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
        text = f"Posting failed: {message}{gave_up}"
        return Finish(job, Phase.FAILED, Reason.POSTING_FAILED, text, step.result, delete_pod=step.pod)
    base, cap = settings.retry_base_seconds, settings.retry_max_seconds
    delay = backoff(job.status.posting.attempts, base, cap, None, rng)
    if retry_after_s is not None:
        delay = max(delay, timedelta(seconds=retry_after_s))
    return DelayPost(job, step.result, message, now + delay, since, step.pod)


# -- stale commits and repeated commands ---------------------------------------------------------


def covers(job: ReviewJob, head: str) -> bool:
    """Whether this non-final review is, or will be, of `head` (a command's head resolves to the
    PR's head when it starts). A question covers no head: it reviews nothing."""
    return job.spec.cancel is None and not job.spec.kind.is_question and job_head(job) in (head, None)


def head_moved(job: ReviewJob, actual: str, covered: bool, pod: str | None) -> Finish:
    """The end of a review whose commit is no longer the PR's head. When no other review covers the
    new head, the PR is told, so it never ends with neither a review of its head nor a note."""
    if covered:
        message = f"A newer commit ({actual[:12]}) is under review."
        return Finish(job, Phase.SUPERSEDED, Reason.SUPERSEDED, message, delete_pod=pod, note_on_pr=False)
    head = (job_head(job) or "")[:12]
    message = (
        f"The pull request's head moved from {head} to {actual[:12]}, which no review covers yet; "
        "comment `/review` to review it."
    )
    return Finish(job, Phase.SUPERSEDED, Reason.HEAD_MOVED, message, delete_pod=pod)


def start_check(job: ReviewJob, actual: str | None, siblings: list[ReviewJob]) -> Finish | None:
    """Whether a review about to get its pod should not run: its commit is no longer the PR's head
    (a late or replayed delivery), or it is a `/review` of a head already queued, running or
    reviewed (a repeated command; `/review force` skips this). `siblings`: the PR's ReviewJobs."""
    head = job_head(job)
    others = [o for o in siblings if o.metadata.name != job.metadata.name]
    if actual is not None and head is not None and head != actual:
        covered = any(covers(o, actual) for o in others if not o.status.phase.is_final)
        return head_moved(job, actual, covered, None)
    trigger = job.spec.trigger
    if trigger.event is not TriggerEvent.ISSUE_COMMENT or trigger.force or head is None:
        return None
    for other in sorted(others, key=lambda o: o.metadata.name):
        if _already_covers(other, job, head):
            done = "already reviewed" if other.status.phase is Phase.SUCCEEDED else "is reviewing"
            message = f"{other.metadata.name} {done} {head[:12]}; comment `/review force` to review it again."
            return Finish(job, Phase.SUPERSEDED, Reason.ALREADY_REVIEWED, message)
    return None


def _already_covers(other: ReviewJob, job: ReviewJob, head: str) -> bool:
    """A review of the same head that counts against a repeated `/review`: a push's (queued, running
    or succeeded), or an earlier command's."""
    phase = other.status.phase
    if job_head(other) != head or other.spec.cancel is not None:
        return False
    if phase.is_final and phase is not Phase.SUCCEEDED:
        return False
    if other.spec.kind.is_question:
        return False
    if other.spec.trigger.event is not TriggerEvent.ISSUE_COMMENT:
        return True
    # Of two commands for one head, the earlier stands (creation time has whole seconds: then by name).
    epoch = datetime.min.replace(tzinfo=UTC)
    mine = (job.metadata.creation_timestamp or epoch, job.metadata.name)
    theirs = (other.metadata.creation_timestamp or epoch, other.metadata.name)
    return theirs < mine

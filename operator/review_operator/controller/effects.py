"""Side effects of the planned steps: status patches, Secrets and pods, GitHub, events, metrics, audit.

Each effect is safe to repeat: pods and Secrets have deterministic names (create-or-get), status
patches are merges, and GitHub posting looks for this ReviewJob's hidden marker before writing.
Errors from GitHub are translated here, once, into phases and reasons.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from review_operator.api.models import (
    Phase,
    PostingState,
    ReviewJob,
    TriggerEvent,
    after_status_write,
    rfc3339,
)
from review_operator.api.reasons import Reason
from review_operator.api.scrub import scrub_token_shapes
from review_operator.builders.names import (
    LABEL_PULL_REQUEST,
    LABEL_REPOSITORY_ID,
    checkout_secret_name,
    pod_name,
)
from review_operator.builders.pod import build_checkout_secret, build_review_pod, effective_limits
from review_operator.config import ControllerSettings
from review_operator.controller import status
from review_operator.controller.classify import Kind, classify_create_failure
from review_operator.controller.heads import PullHeads, job_head
from review_operator.controller.lanes import Lanes
from review_operator.controller.plan import (
    DelayPost,
    Finish,
    Post,
    Retry,
    after_posting_failure,
    start_check,
)
from review_operator.controller.reading import involved, parse_reviewjobs
from review_operator.github import (
    GitHubClientFactory,
    GitHubError,
    PostStatus,
    RateLimited,
    Transient,
    Unauthorized,
    post_failure_note,
    post_review,
)
from review_operator.k8s import objects
from review_operator.k8s.aio import AsyncKube
from review_operator.k8s.errors import KubeError
from review_operator.metrics import ControllerMetrics

log = logging.getLogger(__name__)
audit_log = logging.getLogger("review_operator.audit")
EVENT_WORKERS = 4
# Pending → Queued writes in flight at once. A cold start queues every stored review in one pass;
# left unbounded, that flood sits in the API server's queue ahead of the writes that start and end
# reviews (a release, a claim, a pod create), which are the ones a free slot waits for.
QUEUE_WRITES = 6


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Effects:
    def __init__(
        self,
        settings: ControllerSettings,
        kube: AsyncKube,
        github: GitHubClientFactory | None,
        metrics: ControllerMetrics,
        github_api_url: str = "https://api.github.com",
        heads: PullHeads | None = None,
    ) -> None:
        self.settings = settings
        self.kube = kube
        self.github = github
        # GitHub's answer for PR heads (None without GitHub): checked before a review gets its pod.
        self.heads = heads
        self.metrics = metrics
        self.github_api_url = github_api_url
        self._events: asyncio.Queue[tuple[dict[str, Any], str, str, bool, datetime, float]] = asyncio.Queue()
        # Slot work (an ending's status, a claim, a pod) goes before bookkeeping (cleanup, Events).
        self.lanes = Lanes()
        self._event_workers: list[asyncio.Task[None]] = []
        self._queue_writes = asyncio.Semaphore(QUEUE_WRITES)
        self._queueing = 0  # Pending → Queued writes waiting or in flight
        self._not_queueing = asyncio.Event()
        self._not_queueing.set()
        # Told of every confirmed status write (before, after): the dispatcher's slot ledger.
        self.on_written: Callable[[ReviewJob, ReviewJob], None] | None = None
        # The dispatcher's clock (a posting failure is timed when it happens, not when planned).
        self.clock: Callable[[], datetime] = _utcnow
        self.rng = random.Random()  # noqa: S311 - jitter, not security

    # -- helpers -----------------------------------------------------------------------------
    async def _status(self, job: ReviewJob, patch: dict[str, Any]) -> ReviewJob:
        """Patches status if the job is unchanged since read (409 otherwise); returns it as stored now."""
        updated = await objects.patch_reviewjob_status(
            self.kube, job.metadata.namespace, job.metadata.name, patch, job.metadata.resource_version
        )
        after = after_status_write(job, updated)
        if self.on_written is not None:
            self.on_written(job, after)
        return after

    def _event(self, job: ReviewJob, reason: str, message: str, warning: bool = False) -> None:
        """Queues an Event, recorded beside the work: Events are advisory and never delay a step."""
        at = datetime.now(UTC)
        item = (involved(job), reason, scrub_token_shapes(message), warning, at, self.lanes.deadline())
        self._events.put_nowait(item)
        if not self._event_workers:
            self._event_workers = [asyncio.create_task(self._record_events()) for _ in range(EVENT_WORKERS)]

    async def _record_events(self) -> None:
        while True:
            obj, reason, message, warning, at, not_after = await self._events.get()
            # During a flood of Pending → Queued writes (a cold start with a backlog) those go first:
            # they decide what is admitted, while the Events, all kept in order, follow once it ends.
            await self._not_queueing.wait()
            try:
                async with self.lanes.bookkeeping(not_after):
                    await objects.record_event(self.kube, obj, reason, message, warning, at=at)
            except Exception as exc:  # noqa: BLE001 - one bad Event must not stop the ones after it
                log.warning("could not record event %s: %s", reason, type(exc).__name__)
            finally:
                self._events.task_done()

    async def flush_events(self) -> None:
        """Waits until every queued Event has been recorded (or failed)."""
        if self._event_workers:
            await self._events.join()

    def observe_queue(self, jobs: list[ReviewJob]) -> None:
        self.metrics.observe_jobs([j.status.phase for j in jobs])

    # -- steps -------------------------------------------------------------------------------
    async def queue(self, job: ReviewJob, now: datetime) -> None:
        self._queueing += 1
        self._not_queueing.clear()
        try:
            async with self._queue_writes:
                await self.lanes.quiet(self.lanes.deadline())  # a free slot's work goes first
                await self._status(job, status.queued(job, now))
        finally:
            self._queueing -= 1
            if not self._queueing:
                self._not_queueing.set()
        self._event(job, "Queued", "Waiting for a free review slot.")

    async def start(self, job: ReviewJob, attempt: int, now: datetime) -> None:
        claimed = await self.claim(job, attempt, now)
        if claimed is not None:
            await self.ensure_pod(claimed, now)

    async def claim(self, job: ReviewJob, attempt: int, now: datetime) -> ReviewJob | None:
        """Takes a slot (status Running, conditional); the job as stored now, or None if it ended."""
        if job.status.phase is not Phase.QUEUED:
            log.warning("not claiming %s: it is %s, not Queued", job.metadata.name, job.status.phase.value)
            return None
        head = job.spec.pull_request.head_sha or job.status.head_sha
        if head is None:
            head = await self._resolve_head(job)
            if head is None:
                await self.finish(
                    Finish(
                        job, Phase.FAILED, Reason.HEAD_UNRESOLVED, "Could not resolve the PR's head commit."
                    ),
                    now,
                )
                return None
        name = pod_name(job.metadata.name, attempt)
        async with self.lanes.slot_work():
            job = await self._status(job, status.claimed(job, attempt, name, head, now))
        queued_at = job.status.queued_at or job.metadata.creation_timestamp or now
        self.metrics.started((now - queued_at).total_seconds(), retry=attempt > 1)
        self._event(job, "Started", f"Attempt {attempt}: starting pod {name}.")
        return job

    async def ensure_pod(self, job: ReviewJob, now: datetime) -> None:
        stop = await self._start_check(job)
        if stop is not None:
            await self.finish(stop, now)
            return
        try:
            async with self.lanes.slot_work():
                manifest = await self._create_pod(job, now)
        except KubeError as exc:
            verdict = classify_create_failure(exc.status, exc.detail)
            if verdict.kind is not Kind.FINAL or verdict.reason is None:
                raise  # transient: the next pass tries again, until the claim's deadline
            phase = verdict.phase or Phase.FAILED
            await self.finish(Finish(job, phase, verdict.reason, verdict.message), now)
            return
        if manifest is None:
            return
        async with self.lanes.bookkeeping(self.lanes.deadline()):
            await self._status(job, status.pod_created(job, manifest["metadata"]["name"], now))

    async def _create_pod(self, job: ReviewJob, now: datetime) -> dict[str, Any] | None:
        """The checkout Secret (with GitHub) and the pod; the pod's manifest, or None if it ended."""
        head = job.status.head_sha or job.spec.pull_request.head_sha or ""
        with_token = False
        if self.github is not None:
            try:
                token = await self.github.mint_checkout_token(job)
            except Unauthorized as exc:
                await self.finish(Finish(job, Phase.FAILED, Reason.UNAUTHORIZED, f"GitHub: {exc}"), now)
                return None
            secret = build_checkout_secret(job, token.token.get_secret_value())
            await objects.create_or_replace_secret(self.kube, secret)
            with_token = True
        manifest = build_review_pod(
            job, job.status.attempts, head, self.settings, self.github_api_url, with_checkout_token=with_token
        )
        _, created = await objects.create_or_get_pod(self.kube, manifest)
        if not created:
            log.info("adopted existing pod %s", manifest["metadata"]["name"])
        return manifest

    async def retry(self, step: Retry, now: datetime) -> None:
        async with self.lanes.slot_work():  # it frees a slot
            job = await self._status(
                step.job, status.retrying(step.job, step.reason, step.message, step.not_before, now)
            )
        if step.delete_pod:
            async with self.lanes.bookkeeping(self.lanes.deadline()):
                await objects.delete_pod(self.kube, job.metadata.namespace, step.delete_pod)
        self.metrics.retried(step.reason)
        self._event(job, f"Retry{step.reason}", step.message, warning=True)

    async def finish(self, step: Finish, now: datetime) -> None:
        """The final status first (conditional), then the PR note, then cleanup and the finished label."""
        message = scrub_token_shapes(step.message)
        async with self.lanes.slot_work():  # it frees a slot
            job = await self._status(
                step.job, status.finished(step.job, step.phase, step.reason, message, step.result, now)
            )
        if step.note_on_pr and step.phase is not Phase.SUCCEEDED:
            job = await self._status(job, {"posting": await self._failure_note(job, step)})
        self.metrics.finished(step.phase, step.reason, step.result, job, now)
        self._event(
            job, step.phase.value, f"{step.reason}: {message}", warning=step.phase is not Phase.SUCCEEDED
        )
        self._audit(job, step, now)
        await self.cleanup(job, step.delete_pod)

    async def cleanup(self, job: ReviewJob, pod: str | None) -> None:
        """Removes a final review's pod and Secret, then takes it out of the active set (label last:
        a crash before it leaves the job in the active list, and the next pass cleans up again)."""
        ns = job.metadata.namespace
        pod = pod or job.status.pod_name
        not_after = self.lanes.deadline()
        if pod:
            async with self.lanes.bookkeeping(not_after):
                await objects.delete_pod(self.kube, ns, pod)
        async with self.lanes.bookkeeping(not_after):
            await objects.delete_secret(self.kube, ns, checkout_secret_name(job.metadata.name))
        async with self.lanes.bookkeeping(not_after):
            await objects.label_reviewjob(
                self.kube, ns, job.metadata.name, {"review-operator.dev/finished": "true"}
            )

    async def post(self, step: Post, now: datetime) -> None:
        job, result = step.job, step.result
        head = job.status.head_sha or job.spec.pull_request.head_sha or ""
        if self.github is None or not self.settings.post_reviews:
            await self.finish(
                Finish(
                    job,
                    Phase.SUCCEEDED,
                    Reason.SUCCEEDED,
                    "Review completed (posting disabled).",
                    result,
                    delete_pod=step.pod,
                ),
                now,
            )
            return
        attempts = job.status.posting.attempts + 1
        job = await self._status(
            job, {"posting": {"state": PostingState.POSTING.value, "attempts": attempts}}
        )
        try:
            outcome = await post_review(self.github.for_job(job), job, result, head_sha=head)
        except Unauthorized as exc:
            self.metrics.posting_failed("unauthorized")
            await self.finish(
                Finish(
                    job,
                    Phase.FAILED,
                    Reason.UNAUTHORIZED,
                    f"Posting to GitHub: {exc}",
                    result,
                    delete_pod=step.pod,
                    note_on_pr=False,
                ),
                now,
            )
            return
        except GitHubError as exc:
            self.metrics.posting_failed(type(exc).__name__.lower())
            retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
            retryable = isinstance(exc, (RateLimited, Transient))
            failed_at = max(now, self.clock())  # GitHub's retry-after counts from its answer
            decision = after_posting_failure(
                Post(job, result, step.pod),
                str(exc),
                retry_after,
                retryable,
                failed_at,
                self.settings,
                self.rng,
            )
            if isinstance(decision, Finish):
                await self.finish(decision, now)
            else:
                await self.delay_post(decision, attempts, failed_at)
            return
        if outcome.status is PostStatus.SUPERSEDED:
            await self.finish(
                Finish(
                    job,
                    Phase.SUPERSEDED,
                    Reason.HEAD_MOVED,
                    f"The PR head moved to {(outcome.current_head_sha or '')[:12]}; not posted.",
                    result,
                    delete_pod=step.pod,
                    note_on_pr=False,
                ),
                now,
            )
            return
        posting = {
            "state": PostingState.POSTED.value,
            "attempts": attempts,
            "reviewId": outcome.review_id,
            "reviewUrl": outcome.review_url,
            "summaryCommentId": outcome.summary_comment_id,
            "postedAt": rfc3339(now),
        }
        job = await self._status(job, {"posting": {k: v for k, v in posting.items() if v is not None}})
        await self.finish(
            Finish(
                job,
                Phase.SUCCEEDED,
                Reason.SUCCEEDED,
                f"Review posted with {len(result.findings)} findings.",
                result,
                delete_pod=step.pod,
            ),
            now,
        )

    async def delay_post(self, step: DelayPost, attempts: int, now: datetime) -> None:
        """Keeps the result in status and lets the pod go (the slot is released by this write)."""
        log.warning(
            "posting %s failed (attempt %d), again after %s: %s",
            step.job.metadata.name,
            attempts,
            rfc3339(step.not_before),
            step.message,
        )
        patch = status.posting_delayed(
            step.job,
            step.result,
            Reason.POSTING_DELAYED,
            step.message,
            attempts,
            step.since,
            step.not_before,
            now,
        )
        async with self.lanes.slot_work():  # it frees a slot
            job = await self._status(step.job, patch)
        if step.delete_pod:
            async with self.lanes.bookkeeping(self.lanes.deadline()):
                await objects.delete_pod(self.kube, job.metadata.namespace, step.delete_pod)
        self.metrics.retried(Reason.POSTING_DELAYED)
        self._event(job, Reason.POSTING_DELAYED, str(patch["message"]), warning=True)

    # -- GitHub helpers ----------------------------------------------------------------------
    async def _resolve_head(self, job: ReviewJob) -> str | None:
        """A command's head: GitHub's answer now (a push since the last answer creates no ReviewJob
        when its author is not trusted, so a kept answer could be older than the command)."""
        if self.heads is None:
            return None
        return await self.heads.current(job, fresh=True)

    async def _start_check(self, job: ReviewJob) -> Finish | None:
        """Whether this review should end before it costs anything (see `plan.start_check`): the PR's
        head is GitHub's (kept) answer, and the PR's other ReviewJobs are read only when needed."""
        if self.heads is None:
            return None
        is_command = job.spec.trigger.event is TriggerEvent.ISSUE_COMMENT
        actual = job.status.head_sha if is_command else await self.heads.current(job)
        head = job_head(job)
        if not is_command and (actual is None or actual == head):
            return None
        return start_check(job, actual, await self._siblings(job))

    async def _siblings(self, job: ReviewJob) -> list[ReviewJob]:
        """Every ReviewJob of the same pull request, finished ones included."""
        selector = (
            f"{LABEL_REPOSITORY_ID}={job.spec.repository.id},"
            f"{LABEL_PULL_REQUEST}={job.spec.pull_request.number}"
        )
        listed = await objects.list_reviewjobs_json(self.kube, job.metadata.namespace, selector)
        return [j for j in await parse_reviewjobs(listed) if j.metadata.name != job.metadata.name]

    async def _failure_note(self, job: ReviewJob, step: Finish) -> dict[str, Any]:
        if self.github is None or not self.settings.post_reviews:
            return {"state": PostingState.SKIPPED.value, "message": "Posting disabled."}
        try:
            outcome = await post_failure_note(
                self.github.for_job(job), job, step.phase.value, step.reason, scrub_token_shapes(step.message)
            )
        except GitHubError as exc:
            self.metrics.posting_failed(type(exc).__name__.lower())
            return {"state": PostingState.FAILED.value, "message": scrub_token_shapes(str(exc))[:1024]}
        return {"state": PostingState.POSTED.value, "summaryCommentId": outcome.summary_comment_id}

    def _audit(self, job: ReviewJob, step: Finish, now: datetime) -> None:
        result = step.result
        record = {
            "event": "review_finished",
            "reviewjob": job.metadata.name,
            "sender": job.spec.trigger.sender,
            "repository": job.spec.repository.full_name,
            "pr": job.spec.pull_request.number,
            "sha": job.status.head_sha or job.spec.pull_request.head_sha,
            "model": effective_limits(job, self.settings).model,
            "attempts": job.status.attempts,
            "outcome": step.phase.value,
            "reason": step.reason,
            "cost_usd": result.cost_usd if result else 0.0,
            "turns": result.turns if result else 0,
            "tokens": result.tokens.model_dump() if result else {},
            "tools": result.tools if result else {},
        }
        audit_log.info(json.dumps(record, sort_keys=True))

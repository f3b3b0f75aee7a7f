"""Executing the state machine's steps: status patches, Secrets and pods, GitHub, Events, metrics.

No decisions here. Each method does what its step says and returns what it found out, as an
observation for `decide/machine.py` (a refused token, a refused pod, how a post went), or nothing.
Each is safe to repeat: pods and Secrets have deterministic names (create-or-get), status patches
are conditional merges, and GitHub posting looks for this ReviewJob's hidden marker before writing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from review_operator.api.models import (
    Phase,
    PostingState,
    Reaction,
    ReviewJob,
    ReviewScope,
    TriggerEvent,
    after_status_write,
    rfc3339,
)
from review_operator.api.reasons import Reason
from review_operator.api.repo_config import with_config_problems
from review_operator.api.result import ReviewResult
from review_operator.api.scrub import scrub_token_shapes
from review_operator.builders.names import (
    LABEL_FINISHED,
    LABEL_FINISHED_DAY,
    checkout_secret_name,
    pod_name,
    pull_request_selector,
)
from review_operator.builders.pod import build_checkout_secret, build_review_pod
from review_operator.builders.question import Thread
from review_operator.builders.repo_settings import RepoReviewSettings
from review_operator.config import ControllerSettings
from review_operator.controller.decide import acknowledge, retention, status
from review_operator.controller.decide.heads import job_head
from review_operator.controller.decide.steps import (
    CreateRefused,
    DelayPost,
    Finish,
    HeadUnresolved,
    Hold,
    Post,
    Posted,
    PostFailed,
    PostingOff,
    PostMoved,
    PostRefused,
    Retry,
    StartFacts,
    TokenRefused,
)
from review_operator.controller.engine.audit import audit
from review_operator.controller.engine.checkruns import CheckRuns
from review_operator.controller.engine.clock import Clock
from review_operator.controller.engine.configuration import ReadConfigs, repo_settings
from review_operator.controller.engine.events import EventRecorder
from review_operator.controller.engine.heads import PullHeads
from review_operator.controller.engine.lanes import Lanes
from review_operator.controller.engine.observer import parse_reviewjobs
from review_operator.controller.engine.questions import question_facts
from review_operator.controller.engine.scope import review_scope
from review_operator.github import (
    GitHubClientFactory,
    GitHubError,
    PostOutcome,
    PostStatus,
    RateLimited,
    RepoClient,
    Transient,
    Unauthorized,
    post_answer,
    post_failure_note,
    post_review,
    react,
    react_to_review_comment,
)
from review_operator.k8s import objects
from review_operator.k8s.aio import AsyncKube
from review_operator.k8s.errors import KubeError
from review_operator.metrics import ControllerMetrics

log = logging.getLogger(__name__)
# Pending → Queued writes in flight at once. A cold start queues every stored review in one pass;
# left unbounded, that flood sits in the API server's queue ahead of the writes that start and end
# reviews (a release, a claim, a pod create), which are the ones a free slot waits for.
QUEUE_WRITES = 6
Written = Callable[[ReviewJob, ReviewJob], None]


class Effects:
    def __init__(
        self,
        settings: ControllerSettings,
        kube: AsyncKube,
        github: GitHubClientFactory | None,
        metrics: ControllerMetrics,
        clock: Clock,
        *,
        github_api_url: str = "https://api.github.com",
        heads: PullHeads | None = None,
        on_written: Written | None = None,
        on_key_rejected: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.kube = kube
        self.github = github
        self.metrics = metrics
        self.clock = clock  # a posting failure is timed when it happens, not when it was planned
        self.github_api_url = github_api_url
        # GitHub's answer for PR heads (None without GitHub): checked before a review gets its pod.
        self.heads = heads
        # Told of every confirmed status write (before, after): the engine's slot ledger.
        self.on_written = on_written
        # Told (by ReviewJob name) when a pod ended Unauthorized from the model: the breaker opens.
        self.on_key_rejected = on_key_rejected
        # Configuration files read at a commit: a review reads its own before the pod and at posting.
        self.read_configs = ReadConfigs()
        # Slot work (an ending's status, a claim, a pod) goes before bookkeeping (cleanup, Events).
        self.lanes = Lanes(clock=clock)
        self.events = EventRecorder(kube, self.lanes, clock)
        # The review's check run on GitHub (when on), beside the work like Events.
        check_runs = github is not None and settings.post_reviews and github.settings.check_runs
        self.checks = CheckRuns(github, check_runs, self.lanes, metrics)
        self._queue_writes = asyncio.Semaphore(QUEUE_WRITES)

    async def _status(self, job: ReviewJob, patch: dict[str, Any]) -> ReviewJob:
        """Patches status if the job is unchanged since read (409 otherwise); returns it as stored now."""
        updated = await objects.patch_reviewjob_status(
            self.kube, job.metadata.namespace, job.metadata.name, patch, job.metadata.resource_version
        )
        after = after_status_write(job, updated)
        if self.on_written is not None:
            self.on_written(job, after)
        return after

    def observe_queue(self, jobs: list[ReviewJob], parked: int = 0, deferred: int = 0) -> None:
        """The ReviewJobs by phase, as a pass read them (`parked`: how many quiet queued ones;
        `deferred`: new ones left for the next read)."""
        phases = [j.status.phase for j in jobs] + [Phase.QUEUED] * parked + [Phase.PENDING] * deferred
        self.metrics.observe_jobs(phases)

    # -- admission and the pod -----------------------------------------------------------------
    async def queue(self, job: ReviewJob, now: datetime) -> None:
        self.events.queueing()
        try:
            async with self._queue_writes:
                await self.lanes.quiet(self.lanes.deadline())  # a free slot's work goes first
                await self._status(job, status.queued(job, now))
        finally:
            self.events.queued()
        self.events.record(job, "Queued", "Waiting for a free review slot.")

    async def hold(self, step: Hold, now: datetime) -> None:
        async with self._queue_writes:
            await self.lanes.quiet(self.lanes.deadline())  # a free slot's work goes first
            job = await self._status(step.job, status.held(step.job, step.reason, step.message, now))
        self.events.record(job, step.reason, step.message, warning=True)

    async def claim(self, job: ReviewJob, attempt: int, now: datetime) -> ReviewJob | HeadUnresolved | None:
        """Takes a slot (status Running, conditional): the job as stored now; None if it is not
        Queued any more; HeadUnresolved for a command whose head GitHub could not give."""
        if job.status.phase is not Phase.QUEUED:
            log.warning("not claiming %s: it is %s, not Queued", job.metadata.name, job.status.phase.value)
            return None
        head = job_head(job)
        if head is None:
            # A command's head: GitHub's answer now (a push since the last answer creates no
            # ReviewJob when its author is not trusted, so a kept answer could predate the command).
            head = None if self.heads is None else await self.heads.current(job, fresh=True)
            if head is None:
                return HeadUnresolved(job)
        name = pod_name(job.metadata.name, attempt)
        async with self.lanes.slot_work():
            job = await self._status(job, status.claimed(job, attempt, name, head, now))
        queued_at = job.status.queued_at or job.metadata.creation_timestamp or now
        self.metrics.started((now - queued_at).total_seconds(), retry=attempt > 1)
        self.events.record(job, "Started", f"Attempt {attempt}: starting pod {name}.")
        return job

    async def start_facts(self, job: ReviewJob) -> StartFacts | TokenRefused:
        """What decides whether a review may get its pod, and how it runs: GitHub's head of the PR
        (a kept answer; None without GitHub), the PR's other ReviewJobs when they can matter, and
        the repository's configuration file at the base."""
        if job.spec.kind.is_question:
            return await self._question_facts(job)
        try:
            # The `/review` comment's 👀 and the scope's questions go out beside the config read: no
            # time added on the start path.
            (repo, skip), scope, _ = await asyncio.gather(
                self.repo_settings(job), self._scope(job), self.acknowledge(job, acknowledge.on_start(job))
            )
        except Unauthorized as exc:
            return TokenRefused(job, str(exc))
        if self.heads is None:
            return StartFacts(job, None, repo=repo, skip=skip, scope=scope)
        is_command = job.spec.trigger.event is TriggerEvent.ISSUE_COMMENT
        actual = job.status.head_sha if is_command else await self.heads.current(job)
        if not is_command and (actual is None or actual == job_head(job)):
            # The head is this review's: its siblings cannot matter.
            return StartFacts(job, actual, repo=repo, skip=skip, scope=scope)
        return StartFacts(job, actual, await self._siblings(job), repo=repo, skip=skip, scope=scope)

    async def _question_facts(self, job: ReviewJob) -> StartFacts | TokenRefused:
        if self.github is None:
            return StartFacts(job, None)
        facts = await question_facts(self.github, job, self.repo_settings)
        if isinstance(facts, StartFacts):
            # A reply in someone else's thread is not ours to answer: not even a 👀.
            await self.acknowledge(job, acknowledge.on_start(job, facts.thread))
        return facts

    async def _scope(self, job: ReviewJob) -> ReviewScope | None:
        """Full or incremental (None without GitHub: the runner then reviews the whole PR)."""
        if self.github is None:
            return None
        known_base = None if self.heads is None else self.heads.base_of(job)
        return await review_scope(self.github, job, self.settings.incremental_reviews, known_base)

    async def repo_settings(self, job: ReviewJob) -> tuple[RepoReviewSettings | None, str | None]:
        if self.github is None:
            return None, None
        return await repo_settings(self.github, self.settings, job, self.read_configs)

    async def _siblings(self, job: ReviewJob) -> list[ReviewJob]:
        """Every ReviewJob of the same pull request, finished ones included."""
        selector = pull_request_selector(job.spec.repository.id, job.spec.pull_request.number)
        listed = await objects.list_reviewjobs_json(self.kube, job.metadata.namespace, selector)
        return [j for j in await parse_reviewjobs(listed) if j.metadata.name != job.metadata.name]

    async def create_pod(
        self,
        job: ReviewJob,
        now: datetime,
        repo: RepoReviewSettings | None = None,
        scope: ReviewScope | None = None,
        thread: Thread | None = None,
    ) -> TokenRefused | CreateRefused | None:
        """The checkout Secret (with GitHub) and the pod, then the PodCreated condition. A refusal
        comes back as an observation; an API server that cannot answer raises (the next pass
        tries again, until the claim's deadline)."""
        try:
            async with self.lanes.slot_work():
                manifest = await self._create_pod(job, repo, scope, thread)
        except Unauthorized as exc:
            return TokenRefused(job, str(exc))
        except KubeError as exc:
            return CreateRefused(job, exc.status, exc.detail, exc)
        async with self.lanes.bookkeeping(self.lanes.deadline()):
            await self._status(job, status.pod_created(job, manifest["metadata"]["name"], now, scope))
        return None

    async def _create_pod(
        self,
        job: ReviewJob,
        repo: RepoReviewSettings | None,
        scope: ReviewScope | None,
        thread: Thread | None = None,
    ) -> dict[str, Any]:
        head = job_head(job) or ""
        with_token = False
        if self.github is not None:
            token = await self.github.mint_checkout_token(job)
            secret = build_checkout_secret(job, token.token.get_secret_value())
            await objects.create_or_replace_secret(self.kube, secret)
            with_token = True
        manifest = build_review_pod(
            job,
            job.status.attempts,
            head,
            self.settings,
            self.github_api_url,
            with_checkout_token=with_token,
            repo_values=None if repo is None else repo.runner_values(),
            scope=scope,
            thread=thread,
        )
        _, created = await objects.create_or_get_pod(self.kube, manifest)
        if not created:
            log.info("adopted existing pod %s", manifest["metadata"]["name"])
        return manifest

    # -- endings -------------------------------------------------------------------------------
    async def retry(self, step: Retry, now: datetime) -> None:
        patch = status.retrying(step.job, step.reason, step.message, step.not_before, now, step.result)
        async with self.lanes.slot_work():  # it frees a slot
            job = await self._status(step.job, patch)
        self._count_spend(step.job, step.result)
        if step.delete_pod:
            async with self.lanes.bookkeeping(self.lanes.deadline()):
                await objects.delete_pod(self.kube, job.metadata.namespace, step.delete_pod)
        self.metrics.retried(step.reason)
        self.events.record(job, f"Retry{step.reason}", step.message, warning=True)

    async def finish(self, step: Finish, now: datetime) -> None:
        """The final status first (conditional), then the PR note, then cleanup and the finished label."""
        if step.model_key_rejected and self.on_key_rejected is not None:
            self.on_key_rejected(step.job.metadata.name)  # the pod said so, whatever the write does
        message = scrub_token_shapes(step.message)
        patch = status.finished(step.job, step.phase, step.reason, message, step.result, now)
        async with self.lanes.slot_work():  # it frees a slot
            job = await self._status(step.job, patch)
        self._count_spend(step.job, step.result)
        self.metrics.finished(step.phase, step.reason, step.result, job, now)  # as the status says it
        if step.note_on_pr and step.phase is not Phase.SUCCEEDED:
            job = await self._status(job, {"posting": await self._failure_note(job, step)})
        warning = step.phase is not Phase.SUCCEEDED
        self.events.record(job, step.phase.value, f"{step.reason}: {message}", warning=warning)
        self._audit(job, step)
        await self.cleanup(job, step.delete_pod)
        await self.acknowledge(job, acknowledge.on_end(job, step.phase))

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
            done = job.status.completion_time or self.clock.now()
            labels = {LABEL_FINISHED: "true", LABEL_FINISHED_DAY: retention.day_label(done)}
            await objects.label_reviewjob(self.kube, ns, job.metadata.name, labels)

    # -- posting -------------------------------------------------------------------------------
    async def post(
        self, step: Post, now: datetime
    ) -> PostingOff | Posted | PostMoved | PostRefused | PostFailed:
        """Posts the review once (its marker makes a repeat find it) and records where it went."""
        if self.github is None or not self.settings.post_reviews:
            return PostingOff(step)
        attempts = step.job.status.posting.attempts + 1
        posting = {"state": PostingState.POSTING.value, "attempts": attempts}
        step = Post(await self._status(step.job, {"posting": posting}), step.result, step.pod)
        job = step.job
        outcome: PostOutcome | None = None
        written: dict[str, Any] = {}
        try:
            gh = self.github.for_job(job)
            if job.spec.kind.is_question:
                # A question's answer: once (its marker), never checked against the head.
                answer = await post_answer(gh, job, step.result)
                written = {"answerCommentId": answer.comment_id, "answerUrl": answer.html_url}
            else:
                outcome = await self._post_review(gh, job, step.result)
        except Unauthorized as exc:
            self.metrics.posting_failed("unauthorized")
            return PostRefused(step, str(exc))
        except GitHubError as exc:
            self.metrics.posting_failed(type(exc).__name__.lower())
            retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
            retryable = isinstance(exc, (RateLimited, Transient))
            # GitHub's retry-after counts from its answer, not from when the post was planned.
            return PostFailed(step, str(exc), retry_after, retryable, max(now, self.clock.now()))
        if outcome is not None:
            if outcome.status is PostStatus.SUPERSEDED:
                return PostMoved(step, outcome.current_head_sha or "")
            self.checks.completed(job, outcome.check_run_id)
            self.metrics.threads_settled(
                outcome.threads_resolved, outcome.threads_carried, outcome.threads_failed
            )
            written = {
                "reviewId": outcome.review_id,
                "reviewUrl": outcome.review_url,
                "summaryCommentId": outcome.summary_comment_id,
            }
        posted = {
            "state": PostingState.POSTED.value,
            "attempts": attempts,
            **written,
            "postedAt": rfc3339(now),
        }
        job = await self._status(job, {"posting": {k: v for k, v in posted.items() if v is not None}})
        return Posted(Post(job, step.result, step.pod))

    async def _post_review(self, gh: RepoClient, job: ReviewJob, result: ReviewResult) -> PostOutcome:
        repo, _ = await self.repo_settings(job)  # the file's problems and REQUEST_CHANGES bar
        result = result if repo is None else with_config_problems(result, repo.problems)
        head = job_head(job) or ""
        run_id = await self.checks.settle(job)  # posting completes the check run
        if repo is None:
            return await post_review(gh, job, result, head_sha=head, check_run_id=run_id)
        bar = repo.request_changes_severity
        return await post_review(
            gh, job, result, head_sha=head, request_changes_severity=bar, check_run_id=run_id
        )

    async def delay_post(self, step: DelayPost, now: datetime) -> None:
        """Keeps the result in status and lets the pod go (the slot is released by this write)."""
        attempts = step.job.status.posting.attempts
        when = rfc3339(step.not_before)
        log.warning(
            "posting %s failed (attempt %d), again after %s: %s",
            step.job.metadata.name,
            attempts,
            when,
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
        self._count_spend(step.job, step.result)
        if step.delete_pod:
            async with self.lanes.bookkeeping(self.lanes.deadline()):
                await objects.delete_pod(self.kube, job.metadata.namespace, step.delete_pod)
        self.metrics.retried(Reason.POSTING_DELAYED)
        self.events.record(job, Reason.POSTING_DELAYED, str(patch["message"]), warning=True)

    async def acknowledge(self, job: ReviewJob, reaction: tuple[int, Reaction] | None) -> None:
        """Reacts to a command comment; best effort: a failure is logged and counted, never raised."""
        if reaction is None or self.github is None or not self.settings.post_reviews:
            return
        comment_id, content = reaction
        try:
            if acknowledge.on_review_comment(job, comment_id):
                await react_to_review_comment(self.github.for_job(job), job, comment_id, content)
            else:
                await react(self.github.for_job(job), job, comment_id, content)
        except GitHubError as exc:
            self.metrics.posting_failed(type(exc).__name__.lower())
            log.warning("reacting %s to comment %d failed: %s", content, comment_id, exc)

    def _count_spend(self, before: ReviewJob, result: ReviewResult | None) -> None:
        """Counts an attempt's spend in the metrics once: when the write that recorded it succeeded."""
        if result is not None and status.spent(before, result) is not None:
            self.metrics.spent(result)

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

    def _audit(self, job: ReviewJob, step: Finish) -> None:
        audit(job, step, self.settings)

"""The dispatcher: one serialized reconcile loop that executes the pure plan.

Every pass reads the cluster (non-final ReviewJobs, review pods), plans, and executes the steps in
order. A pass runs when something changed (kopf watch events kick it) and at least every
`resync_seconds` (timeouts, retry backoff, GC). Only one pass runs at a time, and a claim (status
Running) is written before its pod is created, so the concurrency limits hold at every instant,
across crashes and restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from review_operator.api.models import API_VERSION, KIND, ReviewJob
from review_operator.builders.names import LABEL_COMPONENT
from review_operator.builders.pod import REVIEW_POD_COMPONENT
from review_operator.config import ControllerSettings
from review_operator.controller.effects import Effects
from review_operator.controller.plan import (
    Cleanup,
    EnsurePod,
    Finish,
    Observed,
    Post,
    Queue,
    Retry,
    Start,
    Step,
    plan,
    started_within,
)
from review_operator.k8s import objects

log = logging.getLogger(__name__)

ACTIVE_SELECTOR = "!review-operator.dev/finished"
FINISHED_SELECTOR = "review-operator.dev/finished=true"
POD_SELECTOR = f"{LABEL_COMPONENT}={REVIEW_POD_COMPONENT}"
GC_PERIOD = timedelta(seconds=60)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Dispatcher:
    def __init__(
        self,
        settings: ControllerSettings,
        api: client.ApiClient,
        effects: Effects,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.api = api
        self.effects = effects
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._kicked = asyncio.Event()
        self._last_gc = datetime.min.replace(tzinfo=UTC)
        self.passes = 0
        # Posting runs beside the loop (GitHub can be slow); one task per ReviewJob at most.
        self._posting: dict[str, asyncio.Task[None]] = {}
        # Until when this replica may act (set by the leader Lease; unbounded without election).
        self.act_until: datetime | None = datetime.max.replace(tzinfo=UTC)

    def may_act(self) -> bool:
        return self.act_until is not None and self.clock() < self.act_until

    def kick(self) -> None:
        self._kicked.set()

    async def run_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kicked.wait(), timeout=self.settings.resync_seconds)
            self._kicked.clear()
            try:
                await self.reconcile_once()
            except (ApiException, OSError) as exc:
                # The API server is unreachable or erroring; the next pass retries from cluster state.
                log.warning("reconcile pass failed: %s", _describe(exc))
                await asyncio.sleep(1)

    async def observe(self) -> Observed:
        ns = self.settings.namespace
        raw_jobs = await asyncio.to_thread(objects.list_reviewjobs, self.api, ns, ACTIVE_SELECTOR)
        pods = await asyncio.to_thread(objects.list_pods, self.api, ns, POD_SELECTOR)
        jobs: list[ReviewJob] = []
        for raw in raw_jobs:
            try:
                jobs.append(ReviewJob.model_validate(raw))
            except ValidationError as exc:
                # The CRD schema makes this rare (e.g. an object stored under an older schema).
                log.error(  # noqa: TRY400 - a traceback would quote untrusted field values
                    "ignoring malformed ReviewJob %s: %d validation errors",
                    raw.get("metadata", {}).get("name"),
                    exc.error_count(),
                )
        return Observed(jobs=jobs, pods={p["metadata"]["name"]: p for p in pods})

    async def reconcile_once(self) -> list[Step]:
        if not self.may_act():
            return []
        now = self.clock()
        observed = await self.observe()
        started = started_within(observed.jobs, now, timedelta(minutes=1))
        steps = plan(observed, now, self.settings, self.rng, started)
        self.effects.observe_queue(observed.jobs)
        for step in steps:
            if not self.may_act():
                log.warning("leadership lapsed mid-pass; %d steps left for the next leader", len(steps))
                break
            await self._execute(step, now)
        self.passes += 1
        if now - self._last_gc >= GC_PERIOD:
            self._last_gc = now
            await self.collect_garbage(now)
        return steps

    async def _execute(self, step: Step, now: datetime) -> None:
        try:
            if isinstance(step, Queue):
                await self.effects.queue(step.job, now)
            elif isinstance(step, Start):
                await self.effects.start(step.job, step.attempt, now)
            elif isinstance(step, EnsurePod):
                await self.effects.ensure_pod(step.job, now)
            elif isinstance(step, Retry):
                await self.effects.retry(step, now)
            elif isinstance(step, Finish):
                await self.effects.finish(step, now)
            elif isinstance(step, Post):
                self._post_in_background(step, now)
            elif isinstance(step, Cleanup):
                await self.effects.cleanup(step.job, None)
        except ApiException as exc:
            if exc.status in (404, 409):
                # The object changed or vanished under us; the next pass sees the new state.
                log.info(
                    "step %s on %s skipped: %s", type(step).__name__, step.job.metadata.name, _describe(exc)
                )
                self.kick()
                return
            raise

    def _post_in_background(self, step: Post, now: datetime) -> None:
        name = step.job.metadata.name
        if name in self._posting:
            return
        task = asyncio.create_task(self.effects.post(step, now), name=f"post-{name}")
        self._posting[name] = task

        def done(t: asyncio.Task[None]) -> None:
            self._posting.pop(name, None)
            error = None if t.cancelled() else t.exception()
            if isinstance(error, ApiException) and error.status in (404, 409):
                log.info("posting %s stopped: the ReviewJob changed meanwhile", name)
            elif error is not None:
                log.warning("posting %s failed: %s", name, _describe(error))
            self.kick()

        task.add_done_callback(done)

    async def collect_garbage(self, now: datetime) -> None:
        """Deletes finished ReviewJobs older than the TTL (their pods and Secrets go with them)."""
        ns = self.settings.namespace
        finished = await asyncio.to_thread(objects.list_reviewjobs, self.api, ns, FINISHED_SELECTOR)
        ttl = timedelta(seconds=self.settings.finished_ttl_seconds)
        for raw in finished:
            done = raw.get("status", {}).get("completionTime")
            if done and now - datetime.fromisoformat(done.replace("Z", "+00:00")) > ttl:
                await asyncio.to_thread(objects.delete_reviewjob, self.api, ns, raw["metadata"]["name"])


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ApiException):
        return f"HTTP {exc.status} {exc.reason}"
    return type(exc).__name__


def involved(job: ReviewJob) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": job.metadata.name, "namespace": job.metadata.namespace, "uid": job.metadata.uid},
    }

"""Executing steps: each step's effects, then whatever the state machine decides from what they
found out, until it has nothing more to say. Steps of different ReviewJobs run side by side;
posting runs beside everything (GitHub can be slow), one task per ReviewJob at most.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from review_operator.config import ControllerSettings
from review_operator.controller.decide import checkrun
from review_operator.controller.decide.machine import decide
from review_operator.controller.decide.steps import (
    Cleanup,
    CreatePod,
    CreateRefused,
    DelayPost,
    EnsurePod,
    Finish,
    Hold,
    Observation,
    Post,
    Queue,
    Retry,
    Step,
)
from review_operator.controller.engine.effects import Effects
from review_operator.fence import NotLeading
from review_operator.k8s.errors import KubeError

log = logging.getLogger(__name__)
# Steps of one pass in flight at once (each is a few API calls; the API client's pool matches).
STEP_CONCURRENCY = 16


def describe(exc: BaseException) -> str:
    if isinstance(exc, KubeError):
        return str(exc)  # "Kubernetes API: HTTP 409 Conflict" (never a body)
    return type(exc).__name__


class Executor:
    def __init__(
        self,
        settings: ControllerSettings,
        effects: Effects,
        rng: random.Random,
        may_act: Callable[[], bool],
        kick: Callable[[], None],
        is_final: Callable[[str], bool],
    ) -> None:
        self.settings = settings
        self.effects = effects
        self.rng = rng
        self.may_act = may_act
        self.kick = kick  # asks the engine for a pass
        self.is_final = is_final  # whether the engine's ledger knows the ReviewJob as final
        self.posting: dict[str, asyncio.Task[None]] = {}
        self.background: set[asyncio.Task[None]] = set()

    def cancel_all(self) -> None:
        """Cancels the work in flight beside the passes (standing by)."""
        for task in [*self.posting.values(), *self.background]:
            task.cancel()
        self.effects.checks.cancel_all()

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self.background.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self.background.discard(t)
            error = None if t.cancelled() else t.exception()
            if isinstance(error, NotLeading):
                log.info("%s stopped: not leading", name)
            elif error is not None:
                log.warning("%s failed: %s", name, describe(error))
                self.kick()

        task.add_done_callback(done)

    async def execute_all(
        self, steps: deque[Step], now: datetime, done: Callable[[Step], None] | None = None
    ) -> None:
        """Runs a pass's steps on a few workers at once: each step concerns a different ReviewJob, and
        admission was decided before any of them ran, counting every job that still holds a slot.
        Steps are taken from the left of `steps` (each by exactly one worker) and not kept; `done` is
        told of each once it is over (however it ended)."""
        errors: list[BaseException] = []
        skipped = 0

        async def worker() -> None:
            nonlocal skipped
            while steps:
                step = steps.popleft()
                if not self.may_act():
                    skipped += 1
                    continue
                try:
                    await self.execute(step, now)
                except NotLeading:
                    skipped += 1
                except (KubeError, OSError) as exc:
                    errors.append(exc)
                finally:
                    if done is not None:
                        done(step)

        await asyncio.gather(*(worker() for _ in range(min(STEP_CONCURRENCY, len(steps)))))
        if skipped:
            log.warning("leadership lapsed mid-pass; %d steps left for the next leader", skipped)
        if errors:
            raise errors[0]

    async def execute(self, step: Step, now: datetime) -> None:
        try:
            await self.run(step, now)
        except KubeError as exc:
            if exc.status in (404, 409):
                # The object changed or vanished under us; the next pass sees the new state.
                name = step.job.metadata.name
                log.info("step %s on %s skipped: %s", type(step).__name__, name, describe(exc))
                self.kick()
                return
            raise

    async def run(self, step: Step | None, now: datetime) -> None:
        """Executes `step` and whatever the state machine decides from what it finds out."""
        while step is not None:
            if isinstance(step, Post):
                self._post_in_background(step, now)
                return
            found = await self._do(step, now)
            self.effects.checks.show(step.job, checkrun.for_step(step))  # done: the check run follows
            if found is None:
                return
            step = decide(found, now, self.settings, self.rng)
            if step is None and isinstance(found, CreateRefused):
                raise found.error  # transient: the next pass tries again, until the claim's deadline

    async def _do(self, step: Step, now: datetime) -> Observation | None:
        """One step's effects; what they found out, if the state machine must hear of it."""
        effects = self.effects
        match step:
            case Queue(job=job):
                await effects.queue(job, now)
            case Hold():
                await effects.hold(step, now)
            case EnsurePod(job=job):
                return await effects.start_facts(job)
            case CreatePod(job=job, repo=repo, scope=scope, thread=thread):
                return await effects.create_pod(job, now, repo, scope, thread)
            case Retry():
                await effects.retry(step, now)
            case Finish():
                await effects.finish(step, now)
            case DelayPost():
                await effects.delay_post(step, now)
            case Cleanup(job=job):
                await effects.cleanup(job, None)
        return None

    def _post_in_background(self, step: Post, now: datetime) -> None:
        name = step.job.metadata.name
        if name in self.posting:
            return

        async def post() -> None:
            found = await self.effects.post(step, now)
            await self.run(decide(found, now, self.settings, self.rng), now)

        task = asyncio.create_task(post(), name=f"post-{name}")
        self.posting[name] = task

        def done(t: asyncio.Task[None]) -> None:
            self.posting.pop(name, None)
            error = None if t.cancelled() else t.exception()
            if t.cancelled() or isinstance(error, NotLeading):
                log.info("posting %s stopped: not leading", name)
                return  # the leader posts it (its marker makes that exactly once)
            if isinstance(error, KubeError) and error.status in (404, 409):
                log.info("posting %s stopped: the ReviewJob changed meanwhile", name)
            elif error is not None:
                log.warning("posting %s failed: %s", name, describe(error))
            if error is not None or not self.is_final(name):
                self.kick()  # not finished yet (a retry, a note to post): the next pass goes on

        task.add_done_callback(done)

"""The engine's passes between watch events: due exactly when time alone changes something
(a backoff ends, a pending timeout or a deadline is reached), not on a short fixed period.

On fake time (`looptime`): the engine's clock is the event loop's, so every wait is measured exactly
and none takes real time."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from datetime import timedelta
from typing import Any, cast

import pytest
from prometheus_client import CollectorRegistry

from review_operator.api.models import Phase, ReviewJob
from review_operator.config import ControllerSettings
from review_operator.controller.engine.loop import DUE_SLACK, Engine
from review_operator.k8s.aio import AsyncKube
from review_operator.k8s.errors import KubeError
from review_operator.metrics import ControllerMetrics
from tests.factories import reviewjob, reviewjob_body
from tests.fakes.clock import FAKE_TIME, LoopClock

pytestmark = FAKE_TIME
CLOCK = LoopClock()


def job(phase: Phase, rv: int = 1, **status: Any) -> ReviewJob:
    return reviewjob("j1", phase, rv=rv, **status)


def engine(*jobs: ReviewJob, resync: float = 60) -> Engine:
    settings = ControllerSettings(namespace="ns", resync_seconds=resync, pending_timeout_seconds=300)
    kube = cast(AsyncKube, object())  # waiting makes no API calls
    d = Engine(settings, kube, ControllerMetrics(CollectorRegistry()), clock=CLOCK)
    d.ledger.reset(list(jobs), [], set(), d.ledger.seq, CLOCK.now())
    d.pass_began_at = CLOCK.now()  # as if a pass had just read them
    return d


def at(seconds: float) -> str:
    return (CLOCK.now() + timedelta(seconds=seconds)).isoformat()


def written(d: Engine, before: ReviewJob, after: ReviewJob) -> None:
    """A confirmed status write, as `Effects` reports it to the engine."""
    assert d.effects.on_written is not None
    d.effects.on_written(before, after)


async def waited(d: Engine, limit: float = 3600) -> float:
    began = CLOCK.monotonic()
    await asyncio.wait_for(d.wait_for_pass(), limit)
    return CLOCK.monotonic() - began


async def test_a_pass_is_due_when_a_running_attempt_reaches_its_pending_timeout() -> None:
    d = engine(job(Phase.RUNNING, startTime=at(-300 + 0.3), podName="p"))
    assert await waited(d) == pytest.approx(0.3 + DUE_SLACK)


async def test_a_write_that_brings_a_change_nearer_rearms_the_wait() -> None:
    running = job(Phase.RUNNING, startTime=at(0), podName="p")
    d = engine(running)
    wait = asyncio.create_task(waited(d))
    await asyncio.sleep(0.2)
    assert not wait.done()  # the pending timeout is 300 s away and resync 60 s
    written(d, running, job(Phase.QUEUED, rv=2, nextAttemptAt=at(0.3)))  # a retry, backing off 0.3 s
    assert await wait == pytest.approx(0.2 + 0.3 + DUE_SLACK)


async def test_a_backoff_that_ended_before_the_wait_began_starts_a_pass_at_once() -> None:
    running = job(Phase.RUNNING, startTime=at(0), podName="p")
    d = engine(running)
    written(d, running, job(Phase.QUEUED, rv=2, nextAttemptAt=at(0.05)))  # a short retry backoff
    await asyncio.sleep(0.2)  # ... that ended meanwhile, in the gap after a pass
    # Due DUE_SLACK after the backoff's end, which is now only what is left of that slack.
    assert await waited(d) == pytest.approx(0.05 + DUE_SLACK - 0.2)


async def test_without_anything_due_only_a_kick_or_the_resync_ends_the_wait() -> None:
    d = engine(job(Phase.QUEUED), resync=0.3)
    assert await waited(d) == pytest.approx(0.3)
    d = engine(job(Phase.QUEUED))
    wait = asyncio.create_task(waited(d))
    await asyncio.sleep(0.2)
    assert not wait.done()
    d.kick()
    assert await wait == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("phase", "pod_phase", "kicked"),
    [
        (Phase.RUNNING, "Running", True),  # gone before it ended: node lost or deleted by hand
        (Phase.SUCCEEDED, "Running", False),  # our own cleanup after the final status
        (Phase.QUEUED, "Failed", False),  # our own cleanup after a retry was written
    ],
)
async def test_a_deleted_pod_asks_for_a_pass_only_while_its_review_runs_on_it(
    phase: Phase, pod_phase: str, kicked: bool
) -> None:
    d = engine(job(phase, podName="p", startTime=at(0)))
    pod = {
        "metadata": {"name": "p", "labels": {"review-operator.dev/reviewjob": "j1"}},
        "status": {"phase": pod_phase},
    }
    d.pod_changed(pod, deleted=True)
    # Asked for: the wait ends at once; not asked for: nothing is due before the resync period.
    assert await waited(d) == (0 if kicked else pytest.approx(d.settings.resync_seconds))


@pytest.mark.parametrize(
    ("deleted", "metadata", "kicked"),
    [
        (True, {}, False),  # the last event of a finished review's pod, after a pass let the review go
        (False, {"deletionTimestamp": "2026-12-03T00:00:00Z"}, False),  # on its way out
        (False, {}, True),  # alive, and its review unknown: only a pass can tell
    ],
)
async def test_a_pod_whose_review_the_ledger_does_not_know_asks_for_a_pass_only_while_alive(
    deleted: bool, metadata: dict[str, str], kicked: bool
) -> None:
    d = engine()  # the ledger is ready and knows no review
    labels = {"review-operator.dev/reviewjob": "j1"}
    pod = {"metadata": {"name": "p", "labels": labels, **metadata}, "status": {"phase": "Succeeded"}}
    d.pod_changed(pod, deleted=deleted)
    assert await waited(d) == (0 if kicked else pytest.approx(d.settings.resync_seconds))


@pytest.mark.parametrize(
    ("known", "uid", "kicked"),
    [
        (job(Phase.RUNNING, podName="p"), "uid-j1", True),  # deleted while active: its slot frees
        (job(Phase.QUEUED), "uid-j1", True),  # deleted while queued: no longer a candidate
        # Our cleanup labelled it finished: the API server's DELETED event carries the object as it was
        # before the label (no finished label on it), so the ledger's record is what tells.
        (job(Phase.SUCCEEDED), "uid-j1", False),
        (None, "uid-j1", False),  # a pass already let it go
        (job(Phase.RUNNING, podName="p"), "uid-older", False),  # an older object under the same name
    ],
)
async def test_a_reviewjob_leaving_the_watch_asks_for_a_pass_only_when_the_ledger_counts_it(
    known: ReviewJob | None, uid: str, kicked: bool
) -> None:
    d = engine(*([known] if known else []))
    d.job_changed("DELETED", {"metadata": {"name": "j1", "uid": uid, "generation": 1, "labels": {}}})
    assert await waited(d) == (0 if kicked else pytest.approx(d.settings.resync_seconds))


class FlakyKube:
    """An API server that fails the first LIST, then answers with nothing stored."""

    def __init__(self) -> None:
        self.lists = 0
        self.times: list[float] = []  # the clock's monotonic time of each request

    async def request(self, method: str, path: str, body: Any = None, **_: Any) -> bytes:
        self.lists += 1
        self.times.append(CLOCK.monotonic())
        if self.lists == 1:
            raise KubeError("Kubernetes API: HTTP 503 Service Unavailable", 503)
        return b'{"items": []}'

    async def json(self, method: str, path: str, body: Any = None, **options: Any) -> dict[str, Any]:
        return cast(dict[str, Any], json.loads(await self.request(method, path, body, **options)))


async def test_a_failed_pass_is_retried_after_a_short_backoff_not_a_resync_period() -> None:
    settings = ControllerSettings(namespace="ns", resync_seconds=60)
    kube = FlakyKube()
    api = cast(AsyncKube, kube)
    d = Engine(settings, api, ControllerMetrics(CollectorRegistry()), clock=CLOCK)
    d.kick()
    loop = asyncio.create_task(d.run_forever())
    try:
        for _ in range(50):  # 5 s
            if d.passes:
                break
            await asyncio.sleep(0.1)
    finally:
        loop.cancel()
    assert d.passes == 1
    assert kube.lists >= 3  # the failed LIST of ReviewJobs, then those of the pass that succeeded
    # 1 s of backoff after the first failure, then the gap after a pass (as long as it took, backoff
    # included): the retry came 2 s after the failure, not a resync period later.
    assert kube.times[1] - kube.times[0] == pytest.approx(1.0 + 1.0)


async def test_the_engine_waits_on_the_loops_fake_time() -> None:
    """The whole pending timeout (300 s) passes on the loop's fake time, in next to no real time."""
    began = time.perf_counter()
    d = engine(job(Phase.RUNNING, startTime=at(0), podName="p"), resync=600)
    assert await waited(d) == pytest.approx(300 + DUE_SLACK)
    assert time.perf_counter() - began < 1


class StoredKube:
    """An API server storing `bodies` as its only ReviewJobs, and no pods; it refuses every write."""

    def __init__(self, *bodies: dict[str, Any]) -> None:
        self.bodies = list(bodies)
        self.writes: list[str] = []

    async def request(self, method: str, path: str, body: Any = None, **_: Any) -> bytes:
        if method != "GET":
            self.writes.append(f"{method} {path}")
            raise KubeError("Kubernetes API: HTTP 403 Forbidden", 403)
        items = self.bodies if "/reviewjobs" in path else []
        return json.dumps({"metadata": {}, "items": items}).encode()

    async def json(self, method: str, path: str, body: Any = None, **options: Any) -> dict[str, Any]:
        return cast(dict[str, Any], json.loads(await self.request(method, path, body, **options)))


def running_then_cancelled() -> tuple[dict[str, Any], dict[str, Any]]:
    running = reviewjob_body("j1", rv=1, phase=Phase.RUNNING, status={"podName": "p", "startTime": at(0)})
    running["metadata"]["generation"] = 1
    cancelled = copy.deepcopy(running)
    cancelled["metadata"].update(generation=2, resourceVersion="2")
    cancelled["spec"]["cancel"] = {"reason": "CancelCommand", "requestedAt": at(0)}
    return running, cancelled


@pytest.mark.parametrize("step_wrote", [False, True])
async def test_a_change_a_pass_read_while_a_step_held_its_review_is_decided_once_that_step_is_done(
    step_wrote: bool,
) -> None:
    """A cancel mark lands while a step (a pod event's, a refill's) works on the review; the pass
    that reads it leaves the review to that step, and the watch event bringing the mark comes after
    that pass: no news to the ledger. When the step is done without having written, a pass follows
    at once (in CI the review otherwise ran on until the resync). One that wrote met the version it
    was decided from: the pass's read showed nothing newer, and no pass is asked for."""
    running, cancelled = running_then_cancelled()
    kube = StoredKube(cancelled)
    settings = ControllerSettings(namespace="ns", resync_seconds=60)
    d = Engine(settings, cast(AsyncKube, kube), ControllerMetrics(CollectorRegistry()), clock=CLOCK)
    d.lead_until(CLOCK.now() + timedelta(hours=1))
    before = ReviewJob.model_validate(running)
    d.ledger.reset([before], [], set(), d.ledger.seq, CLOCK.now())
    d._last_gc = CLOCK.now()  # no garbage collection in this pass
    d._busy.add("j1")  # a step in flight on it

    await d.reconcile_once()
    d.job_changed("MODIFIED", cancelled)
    assert kube.writes == []  # left to the step in flight
    assert await waited(d) == pytest.approx(60)  # the watch event alone asks for nothing

    if step_wrote:
        written(
            d,
            before,
            before.model_copy(
                update={"metadata": before.metadata.model_copy(update={"resource_version": "3"})}
            ),
        )
    d._let_go({"j1"})
    assert await waited(d) == (pytest.approx(60) if step_wrote else 0)

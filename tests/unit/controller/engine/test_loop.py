"""The engine's passes between watch events: due exactly when time alone changes something
(a backoff ends, a pending timeout or a deadline is reached), not on a short fixed period."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from prometheus_client import CollectorRegistry

from review_operator.api.models import Phase, ReviewJob
from review_operator.config import ControllerSettings
from review_operator.controller.engine.loop import DUE_SLACK, Engine
from review_operator.k8s.aio import AsyncKube
from review_operator.k8s.errors import KubeError
from review_operator.metrics import ControllerMetrics
from tests.factories import reviewjob


def job(phase: Phase, rv: int = 1, **status: Any) -> ReviewJob:
    return reviewjob("j1", phase, rv=rv, **status)


def engine(*jobs: ReviewJob, resync: float = 60) -> Engine:
    settings = ControllerSettings(namespace="ns", resync_seconds=resync, pending_timeout_seconds=300)
    kube = cast(AsyncKube, object())  # waiting makes no API calls
    d = Engine(settings, kube, ControllerMetrics(CollectorRegistry()))
    d.ledger.reset(list(jobs), [], set(), d.ledger.seq, datetime.now(UTC))
    d._last_pass_at = datetime.now(UTC)  # as if a pass had just read them
    return d


def at(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def waited(d: Engine, limit: float = 5) -> float:
    began = time.monotonic()
    await asyncio.wait_for(d.wait_for_pass(), limit)
    return time.monotonic() - began


async def test_a_pass_is_due_when_a_running_attempt_reaches_its_pending_timeout() -> None:
    d = engine(job(Phase.RUNNING, startTime=at(-300 + 0.3), podName="p"))
    assert 0.3 <= await waited(d) < 0.3 + DUE_SLACK + 1


async def test_a_write_that_brings_a_change_nearer_rearms_the_wait() -> None:
    running = job(Phase.RUNNING, startTime=at(0), podName="p")
    d = engine(running)
    wait = asyncio.create_task(waited(d))
    await asyncio.sleep(0.2)
    assert not wait.done()  # the pending timeout is 300 s away and resync 60 s
    d._written(running, job(Phase.QUEUED, rv=2, nextAttemptAt=at(0.3)))  # a retry, backing off 0.3 s
    assert await wait < 0.2 + 0.3 + DUE_SLACK + 1


async def test_a_backoff_that_ended_before_the_wait_began_starts_a_pass_at_once() -> None:
    running = job(Phase.RUNNING, startTime=at(0), podName="p")
    d = engine(running)
    d._written(running, job(Phase.QUEUED, rv=2, nextAttemptAt=at(0.05)))  # a short retry backoff
    await asyncio.sleep(0.2)  # ... that ended meanwhile, in the gap after a pass
    assert await waited(d) < 0.5


async def test_without_anything_due_only_a_kick_or_the_resync_ends_the_wait() -> None:
    d = engine(job(Phase.QUEUED), resync=0.3)
    assert 0.3 <= await waited(d) < 1.3
    d = engine(job(Phase.QUEUED))
    wait = asyncio.create_task(waited(d))
    await asyncio.sleep(0.2)
    assert not wait.done()
    d.kick()
    assert await wait < 1.2


@pytest.mark.parametrize(
    ("phase", "pod_phase", "kicked"),
    [
        (Phase.RUNNING, "Running", True),  # gone before it ended: node lost or deleted by hand
        (Phase.SUCCEEDED, "Running", False),  # our own cleanup after the final status
        (Phase.QUEUED, "Failed", False),  # our own cleanup after a retry was written
    ],
)
def test_a_deleted_pod_asks_for_a_pass_only_while_its_review_runs_on_it(
    phase: Phase, pod_phase: str, kicked: bool
) -> None:
    d = engine(job(phase, podName="p", startTime=at(0)))
    pod = {
        "metadata": {"name": "p", "labels": {"review-operator.dev/reviewjob": "j1"}},
        "status": {"phase": pod_phase},
    }
    d.pod_changed(pod, deleted=True)
    assert d._kicked.is_set() is kicked


class FlakyKube:
    """An API server that fails the first LIST, then answers with nothing stored."""

    def __init__(self) -> None:
        self.lists = 0

    async def request(self, method: str, path: str, body: Any = None, **_: Any) -> bytes:
        self.lists += 1
        if self.lists == 1:
            raise KubeError("Kubernetes API: HTTP 503 Service Unavailable", 503)
        return b'{"items": []}'

    async def json(self, method: str, path: str, body: Any = None, **options: Any) -> dict[str, Any]:
        return cast(dict[str, Any], json.loads(await self.request(method, path, body, **options)))


async def test_a_failed_pass_is_retried_after_a_short_backoff_not_a_resync_period() -> None:
    settings = ControllerSettings(namespace="ns", resync_seconds=60)
    kube = FlakyKube()
    api = cast(AsyncKube, kube)
    d = Engine(settings, api, ControllerMetrics(CollectorRegistry()))
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

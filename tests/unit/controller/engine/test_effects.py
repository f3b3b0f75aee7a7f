"""Effects order their API calls: a flood of Pending → Queued writes goes before the Events, and a
free slot's work (an ending, a retry, a claim) before bookkeeping (cleanup, Queued writes).

On fake time (`looptime`): the effects' clock is the event loop's, so waiting for the API's answers
takes no real time and nothing depends on how fast the machine is."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

from prometheus_client import CollectorRegistry

from review_operator.api.models import Phase, ReviewJob
from review_operator.config import ControllerSettings
from review_operator.controller.decide.steps import Finish, Retry
from review_operator.controller.engine.effects import QUEUE_WRITES, Effects
from review_operator.k8s.aio import AsyncKube
from review_operator.metrics import ControllerMetrics
from tests.factories import T0
from tests.factories import reviewjob as job
from tests.fakes.clock import FAKE_TIME, LoopClock

pytestmark = FAKE_TIME
CLOCK = LoopClock(T0)


def stored_with_status(name: str, patch: dict[str, Any]) -> bytes:
    """The API's answer to a status patch: the ReviewJob as stored, with the patched status."""
    stored = job(name).model_dump(mode="json", by_alias=True, exclude_none=True)
    stored["status"] = patch["status"]
    return json.dumps(stored).encode()


def effects_on(kube: object) -> Effects:
    return Effects(
        ControllerSettings(namespace="ns"),
        cast(AsyncKube, kube),
        None,
        ControllerMetrics(CollectorRegistry()),
        CLOCK,
    )


class FakeKube:
    """Answers status patches when released, Event creates at once; records the order of calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.release = asyncio.Event()
        self.in_flight = 0
        self.most_in_flight = 0

    async def request(self, method: str, path: str, body: dict[str, Any] | None = None, **_: Any) -> bytes:
        assert body is not None
        if path.endswith("/events"):
            self.calls.append(f"event {body['reason']} {body['involvedObject']['name']}")
            return b"{}"
        name = path.split("/")[-2]
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await self.release.wait()
        self.in_flight -= 1
        self.calls.append(f"queued {name}")
        return stored_with_status(name, body)


async def test_events_wait_while_reviews_are_being_queued_and_all_follow() -> None:
    kube = FakeKube()
    effects = effects_on(kube)
    names = [f"j{i}" for i in range(QUEUE_WRITES + 4)]
    effects.events.record(job("earlier"), "Started", "an Event from before the flood")
    writes = [asyncio.create_task(effects.queue(job(n), T0)) for n in names]
    await asyncio.sleep(0.05)
    assert kube.most_in_flight == QUEUE_WRITES  # bounded: the rest wait their turn
    kube.release.set()
    await asyncio.gather(*writes)
    await asyncio.wait_for(effects.events.flush(), timeout=5)
    queued_at = max(kube.calls.index(f"queued {n}") for n in names)
    # The Event queued before the flood may have been taken at once; every later one waited for it.
    later_events = [i for i, call in enumerate(kube.calls) if call.startswith("event Queued")]
    assert len(later_events) == len(names)
    assert min(later_events) > queued_at
    assert "event Started earlier" in kube.calls


class SlotKube:
    """Holds a claim (a status patch to Running) until released; answers everything else at once."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.release_claim = asyncio.Event()

    async def request(self, method: str, path: str, body: dict[str, Any] | None = None, **_: Any) -> bytes:
        if path.endswith("/events"):
            assert body is not None
            self.calls.append(f"event {body['reason']}")
            return b"{}"
        if method == "PATCH" and path.endswith("/status"):
            assert body is not None
            name = path.split("/")[-2]
            if body["status"].get("phase") == "Running":
                await self.release_claim.wait()
            self.calls.append(f"status {body['status'].get('phase')} {name}")
            return stored_with_status(name, body)
        self.calls.append(f"{method} {path.split('/')[-2]}")  # DELETE pods, PATCH reviewjobs ...
        return b"{}"


async def _claim_in_flight() -> tuple[SlotKube, Effects, asyncio.Task[ReviewJob | None]]:
    """Effects whose claim of "next" is in flight (held by the API until released)."""
    kube = SlotKube()
    effects = effects_on(kube)
    effects.lanes.quiet_s = 0.0
    claim = asyncio.create_task(effects.claim(job("next", Phase.QUEUED), 1, T0))
    await asyncio.sleep(0.01)
    return kube, effects, claim


async def test_an_endings_cleanup_waits_for_the_claim_in_flight() -> None:
    kube, effects, claim = await _claim_in_flight()
    done = job("done", Phase.RUNNING, attempts=1, podName="done-1")
    finish = asyncio.create_task(
        effects.finish(
            Finish(done, Phase.SUCCEEDED, "Succeeded", "ok", delete_pod="done-1", note_on_pr=False), T0
        )
    )
    await asyncio.sleep(0.05)
    # The ending's own status write is slot work too (it frees a slot): it went at once.
    assert kube.calls == ["status Succeeded done"]
    kube.release_claim.set()
    released = CLOCK.monotonic()
    await asyncio.wait_for(asyncio.gather(claim, finish), 5)
    assert CLOCK.monotonic() == released  # the cleanup went with the claim, not at its deadline
    await asyncio.wait_for(effects.events.flush(), 5)
    assert kube.calls[:2] == ["status Succeeded done", "status Running next"]
    assert {"DELETE pods", "DELETE secrets", "PATCH reviewjobs"} <= set(kube.calls[2:])


async def test_a_pending_review_is_queued_after_the_claim_in_flight() -> None:
    kube, effects, claim = await _claim_in_flight()
    queue = asyncio.create_task(effects.queue(job("new"), T0))
    await asyncio.sleep(0.05)
    assert kube.calls == []  # the backlog's bookkeeping waits for the slot's work
    kube.release_claim.set()
    await asyncio.wait_for(asyncio.gather(claim, queue), 5)
    writes = [call for call in kube.calls if call.startswith("status")]
    assert writes == ["status Running next", "status Queued new"]


async def test_a_retrys_pod_delete_waits_for_the_claim_in_flight() -> None:
    kube, effects, claim = await _claim_in_flight()
    evicted = job("evicted", Phase.RUNNING, attempts=1, podName="evicted-1")
    step = Retry(evicted, "Evicted", "The node was drained.", T0, delete_pod="evicted-1")
    retry = asyncio.create_task(effects.retry(step, T0))
    await asyncio.sleep(0.05)
    assert kube.calls == ["status Queued evicted"]  # the retry frees a slot: its write went at once
    kube.release_claim.set()
    await asyncio.wait_for(asyncio.gather(claim, retry), 5)
    writes = [call for call in kube.calls if not call.startswith("event")]
    assert writes == ["status Queued evicted", "status Running next", "DELETE pods"]

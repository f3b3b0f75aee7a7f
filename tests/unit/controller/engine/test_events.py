"""Events on one object are created in the order they were raised, however slow the API server is
for any one of them; Events on other objects do not wait behind them.

A tiny stand-in for the API server's POST (a unit test): one Event answers late."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from review_operator.controller.engine.events import EventRecorder
from review_operator.controller.engine.lanes import Lanes
from tests.fakes.clock import FAKE_TIME, LoopClock

pytestmark = FAKE_TIME
CLOCK = LoopClock()


class SlowKube:
    """Records each Event's (involved object, reason) when its POST completes; the `slow` reason's
    POST takes a second, the rest answer at once."""

    def __init__(self, slow: str) -> None:
        self.created: list[tuple[str, str]] = []
        self.slow = slow

    async def request(self, method: str, path: str, body: Any = None, **_: Any) -> bytes:
        assert method == "POST" and path.endswith("/events")
        if body["reason"] == self.slow:
            await asyncio.sleep(1.0)
        self.created.append((body["involvedObject"]["name"], body["reason"]))
        return json.dumps(body).encode()


def lease(name: str) -> dict[str, Any]:
    meta = {"name": name, "namespace": "ns"}
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta}


async def test_one_objects_events_are_created_in_the_order_raised_and_others_do_not_wait() -> None:
    kube = SlowKube(slow="ModelKeyRejected")
    recorder = EventRecorder(kube, Lanes(quiet_s=0.0, clock=CLOCK), CLOCK)  # type: ignore[arg-type]
    for reason in ("ModelKeyRejected", "ModelKeyTrial", "ModelKeyAccepted"):
        recorder.record_on(lease("controller"), reason, "why")
    others = [f"job-{i}" for i in range(12)]
    for name in others:
        recorder.record_on(lease(name), "Queued", "why")
    await asyncio.wait_for(recorder.flush(), 5)
    mine = [reason for name, reason in kube.created if name == "controller"]
    assert mine == ["ModelKeyRejected", "ModelKeyTrial", "ModelKeyAccepted"]
    # the slow POST held only its own worker: most other objects' Events were created before it
    first_lease_at = kube.created.index(("controller", "ModelKeyRejected"))
    assert first_lease_at >= len(others) // 2
    assert sorted(name for name, _ in kube.created if name != "controller") == sorted(others)

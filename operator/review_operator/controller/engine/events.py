"""Kubernetes Events about ReviewJobs (and the model key's, on the Lease), recorded beside the work:
advisory, never in a step's way.

Events queue up and a few workers record them, after the writes that decide what is admitted (a
flood of Pending → Queued writes on a cold start) and inside the bookkeeping lane, so a free slot's
work always goes first. Each object's Events go to one worker (chosen by the object's name), so they
are created in the order they were raised: the model key's Rejected → Trial → Accepted on the Lease
read in that order even when they fall in the same second.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from datetime import datetime
from typing import Any

from review_operator.api.models import ReviewJob
from review_operator.api.scrub import scrub_token_shapes
from review_operator.controller.engine.clock import Clock
from review_operator.controller.engine.lanes import Lanes
from review_operator.controller.engine.observer import involved
from review_operator.k8s import objects
from review_operator.k8s.aio import AsyncKube

log = logging.getLogger(__name__)
EVENT_WORKERS = 4
# the object, reason, message, warning?, when raised, the bookkeeping lane's deadline
_Item = tuple[dict[str, Any], str, str, bool, datetime, float]


class EventRecorder:
    def __init__(self, kube: AsyncKube, lanes: Lanes, clock: Clock) -> None:
        self.kube = kube
        self.lanes = lanes
        self.clock = clock
        self._queues: list[asyncio.Queue[_Item]] = [asyncio.Queue() for _ in range(EVENT_WORKERS)]
        self._workers: list[asyncio.Task[None]] = []
        self._queueing = 0  # Pending → Queued writes waiting or in flight
        self._not_queueing = asyncio.Event()
        self._not_queueing.set()

    def record(self, job: ReviewJob, reason: str, message: str, warning: bool = False) -> None:
        """Queues an Event on the ReviewJob (its message scrubbed of token shapes)."""
        self.record_on(involved(job), reason, message, warning)

    def record_on(self, obj: dict[str, Any], reason: str, message: str, warning: bool = False) -> None:
        """Queues an Event on `obj` (apiVersion, kind, metadata name and namespace)."""
        item = (
            obj,
            reason,
            scrub_token_shapes(message),
            warning,
            self.clock.now(),
            self.lanes.deadline(),
        )
        meta = obj["metadata"]
        shard = zlib.crc32(f"{meta['namespace']}/{meta['name']}".encode()) % EVENT_WORKERS
        self._queues[shard].put_nowait(item)
        if not self._workers:
            self._workers = [asyncio.create_task(self._work(q)) for q in self._queues]

    def queueing(self) -> None:
        """A Pending → Queued write begins: Events wait until no such write is left."""
        self._queueing += 1
        self._not_queueing.clear()

    def queued(self) -> None:
        self._queueing -= 1
        if not self._queueing:
            self._not_queueing.set()

    async def _work(self, queue: asyncio.Queue[_Item]) -> None:
        while True:
            obj, reason, message, warning, at, not_after = await queue.get()
            await self._not_queueing.wait()
            try:
                async with self.lanes.bookkeeping(not_after):
                    await objects.record_event(self.kube, obj, reason, message, warning, at=at)
            except Exception as exc:  # noqa: BLE001 - one bad Event must not stop the ones after it
                log.warning("could not record event %s: %s", reason, type(exc).__name__)
            finally:
                queue.task_done()

    async def flush(self) -> None:
        """Waits until every queued Event has been recorded (or failed)."""
        for queue in self._queues:
            await queue.join()

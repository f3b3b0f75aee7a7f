"""Slot work first, bookkeeping after.

When many reviews end at once (a burst of pods finishing together), every free slot waits for three
requests: the ending's status write, the next review's claim, and its pod's creation. Each ending
also brings bookkeeping: its pod and Secret deleted, the finished label, Events, the PodCreated
condition. The API server shares its CPU among all requests in flight, so bookkeeping sent at once
slows every slot behind it. Bookkeeping therefore waits until no slot work has been in flight for
a short quiet spell, and only a few such requests run at a time; it never waits past its own
deadline, so a cluster that is always busy still gets it done, a little later.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from review_operator.controller.engine.clock import SYSTEM_CLOCK, Clock

QUIET_S = 0.05  # no slot work for this long (a claim's pod is created a few loop turns after it)
MAX_WAIT_S = 2.0  # bookkeeping goes ahead regardless once it has waited this long
BOOKKEEPING_CONCURRENCY = 4


class Lanes:
    def __init__(
        self,
        quiet_s: float = QUIET_S,
        max_wait_s: float = MAX_WAIT_S,
        concurrency: int = BOOKKEEPING_CONCURRENCY,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.quiet_s, self.max_wait_s = quiet_s, max_wait_s
        self.clock = clock
        self._slot_work = 0
        self._calm_since = float("-inf")  # no slot work yet: quiet from the start
        self._changed = asyncio.Event()
        self._bookkeepers = asyncio.Semaphore(concurrency)

    @property
    def busy(self) -> bool:
        return self._slot_work > 0

    def hold(self) -> None:
        """Slot work began (or is about to: a refill was scheduled)."""
        self._slot_work += 1
        self._changed.set()

    def release(self) -> None:
        self._slot_work -= 1
        if not self._slot_work:
            self._calm_since = self.clock.monotonic()
            self._changed.set()

    @contextlib.asynccontextmanager
    async def slot_work(self) -> AsyncIterator[None]:
        self.hold()
        try:
            yield
        finally:
            self.release()

    def deadline(self) -> float:
        """The latest moment bookkeeping asked for now may be held back to."""
        return self.clock.monotonic() + self.max_wait_s

    @contextlib.asynccontextmanager
    async def bookkeeping(self, not_after: float) -> AsyncIterator[None]:
        """Waits for a quiet spell (or `not_after`, a deadline on the clock's monotonic time), then
        for one of the few bookkeeping places."""
        await self.quiet(not_after)
        async with self._bookkeepers:
            yield

    async def quiet(self, not_after: float) -> None:
        """Until no slot work has been in flight for `quiet_s`, or `not_after`."""
        while True:
            now = self.clock.monotonic()
            if now >= not_after:
                return
            wait = not_after - now
            if not self._slot_work:
                left = self._calm_since + self.quiet_s - now
                if left <= 0:
                    return
                wait = min(wait, left)
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), wait)

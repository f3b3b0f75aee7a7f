"""Reading unauthenticated request bodies under bounds, so strangers cannot exhaust memory or slots.

Nobody is authenticated until the whole body has been hashed, so reading is bounded three ways:
each body by its size cap (checked on Content-Length before reading, and again while reading), all
bodies being read at once by a shared byte budget (a body reserves its Content-Length, or the cap
when it has none), and each read by a deadline. A delivery from GitHub arrives in a fraction of a
second without pausing, so when the budget is full, readers that received nothing for
`IDLE_SECONDS` or have been reading for `SLOW_SECONDS` are dropped (408), the longest silent first,
to make room: a sender that stalls or trickles holds budget only while nobody else needs it. If
that frees too little, the new request is refused before its body is read (503). Bodies over
`SMALL_BODY_BYTES` (or of unknown size) may fill only three quarters of the budget, so a flood of
large forged bodies that arrive quickly still leaves room for deliveries of GitHub's size.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import StreamReader
from aiohttp.http_exceptions import HttpProcessingError

from review_operator.webhook.signature import Verifier

IDLE_SECONDS = 0.25
SLOW_SECONDS = 1.0
SMALL_BODY_BYTES = 64 * 1024  # GitHub's pull_request and issue_comment examples are at most 28 KB


class TooSlow(Exception):
    """The body did not arrive before the deadline, or its reader was dropped to make room."""


class TooLarge(Exception):
    """The body is longer than the cap."""


class Broken(Exception):
    """The connection was lost or the body's framing was invalid before the body was complete."""


@dataclass(eq=False)
class Reading:
    """One body being read: its reservation in the budget and the deadline that can end it early."""

    size: int
    started: float
    clock: Callable[[], float]
    progress: float = 0.0  # when the last bytes arrived
    deadline: asyncio.Timeout | None = None
    evicted: bool = False
    done: bool = False

    def received(self) -> None:
        self.progress = self.clock()

    def droppable(self, now: float) -> bool:
        return not self.done and (now - self.progress >= IDLE_SECONDS or now - self.started >= SLOW_SECONDS)


@dataclass
class Budget:
    """Bytes reserved by the bodies being read now; `admit` makes room by dropping slow readers."""

    capacity: int
    clock: Callable[[], float] = time.monotonic
    in_use: int = 0
    _readings: set[Reading] = field(default_factory=set)

    def admit(self, size: int) -> Reading | None:
        """A reservation of `size` bytes (the body cap when unknown), or None when there is no room."""
        now = self.clock()
        if not self._fits(size):
            droppable = sorted((r for r in self._readings if r.droppable(now)), key=lambda r: r.progress)
            for reading in droppable:
                if self._fits(size):
                    break
                self._evict(reading)
        if not self._fits(size):
            return None
        reading = Reading(size=size, started=now, clock=self.clock, progress=now)
        self._readings.add(reading)
        self.in_use += size
        return reading

    def _fits(self, size: int) -> bool:
        if not self._readings:
            return size <= self.capacity
        limit = self.capacity if size <= SMALL_BODY_BYTES else self.capacity - self.capacity // 4
        return self.in_use + size <= limit

    def release(self, reading: Reading) -> None:
        if not reading.evicted:
            self.in_use -= reading.size
            self._readings.discard(reading)

    def _evict(self, reading: Reading) -> None:
        # The reader's bytes are freed when its handler wakes on the expired deadline, before any
        # new reader can receive data (that needs the event loop too).
        reading.evicted = True
        self.in_use -= reading.size
        self._readings.discard(reading)
        if reading.deadline is not None:
            reading.deadline.reschedule(asyncio.get_running_loop().time())


async def read_body(
    content: StreamReader, reading: Reading, verifier: Verifier, max_bytes: int, seconds: float
) -> bytearray:
    """The whole body, fed to `verifier` as it arrives. Raises TooSlow, TooLarge or Broken."""
    body = bytearray()
    try:
        async with asyncio.timeout(seconds) as deadline:
            reading.deadline = deadline
            if reading.evicted:
                raise TooSlow
            while chunk := await content.readany():
                if len(body) + len(chunk) > max_bytes:
                    raise TooLarge
                reading.received()
                verifier.update(chunk)
                body += chunk
    except TimeoutError as exc:
        raise TooSlow from exc
    except (ConnectionError, HttpProcessingError) as exc:
        raise Broken from exc
    finally:
        reading.done = True
        reading.deadline = None
    return body

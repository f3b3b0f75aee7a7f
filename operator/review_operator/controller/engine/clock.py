"""The engine's one clock: wall time for what the decisions compare with the objects' timestamps,
monotonic time for how long to wait (resync periods, gaps between passes, the bookkeeping lane's
quiet spells, how old a kept PR head is).

The engine waits on the event loop (`asyncio.sleep`, `asyncio.wait_for`), so its monotonic time
must be the loop's: `time.monotonic()` is what asyncio's default loop runs on. A test that fakes the
loop's time (kopf's `looptime`) passes a clock that reads the loop too, and the whole engine then
runs on one fake timeline.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


class Clock:
    """The system's clocks; a subclass replaces both at once."""

    def now(self) -> datetime:
        """Wall time, aware (UTC)."""
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back; only differences mean anything."""
        return time.monotonic()


SYSTEM_CLOCK = Clock()

"""The engine's clock on the event loop's time: under `looptime` (fake loop time) every part of the
engine (its waits, the decisions' wall time, the lanes, the kept PR heads) runs on one fake timeline."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from review_operator.controller.engine.clock import Clock
from tests.factories import T0

# The marks of a module of tests on fake time: each test on an event loop of its own (the suite's
# session-wide loop keeps real time for the tests that talk to real servers), with looptime's time.
FAKE_TIME = [pytest.mark.asyncio(loop_scope="function"), pytest.mark.looptime]


class LoopClock(Clock):
    """Monotonic time is the running loop's time; wall time is `epoch` plus it."""

    def __init__(self, epoch: datetime = T0) -> None:
        self.epoch = epoch

    def monotonic(self) -> float:
        return asyncio.get_running_loop().time()

    def now(self) -> datetime:
        return self.epoch + timedelta(seconds=self.monotonic())

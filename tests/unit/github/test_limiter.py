"""Content-creation limiter: waits when the window is full, never drops a request.

On fake time (`looptime`): GitHub's real windows (a minute, an hour) pass in no real time."""

from __future__ import annotations

import asyncio

import pytest

from review_operator.github.auth import ContentLimiter
from tests.fakes.clock import FAKE_TIME

pytestmark = FAKE_TIME


async def test_limiter_waits_for_the_window_when_full() -> None:
    limiter = ContentLimiter(per_minute=2, per_hour=100)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await limiter.acquire()
    await limiter.acquire()
    assert loop.time() - start == 0  # the first two are free
    await limiter.acquire()
    assert loop.time() - start == pytest.approx(limiter.minute)  # the third waited for the window to slide


async def test_hourly_budget_applies_too() -> None:
    limiter = ContentLimiter(per_minute=100, per_hour=1)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await limiter.acquire()
    await limiter.acquire()
    assert loop.time() - start == pytest.approx(limiter.hour)

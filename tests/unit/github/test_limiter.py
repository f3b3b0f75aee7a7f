"""Content-creation limiter: waits when the window is full, never drops a request."""

from __future__ import annotations

import asyncio

from review_operator.github.auth import ContentLimiter


async def test_limiter_waits_for_the_window_when_full() -> None:
    limiter = ContentLimiter(per_minute=2, per_hour=100, minute=0.3, hour=10)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await limiter.acquire()
    await limiter.acquire()
    assert loop.time() - start < 0.3  # the first two are free
    await limiter.acquire()
    assert loop.time() - start >= 0.29  # the third waited for the window to slide


async def test_hourly_budget_applies_too() -> None:
    limiter = ContentLimiter(per_minute=100, per_hour=1, minute=0.1, hour=0.4)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await limiter.acquire()
    await limiter.acquire()
    assert loop.time() - start >= 0.39

"""Slot work goes before bookkeeping, which still always gets done.

On fake time (`looptime`): the lanes' clock is the event loop's, so each wait is measured exactly."""

from __future__ import annotations

import asyncio

import pytest

from review_operator.controller.engine.lanes import Lanes
from tests.fakes.clock import FAKE_TIME, LoopClock

pytestmark = FAKE_TIME
CLOCK = LoopClock()


async def _bookkeep(lanes: Lanes, log: list[str], name: str, not_after: float | None = None) -> None:
    async with lanes.bookkeeping(lanes.deadline() if not_after is None else not_after):
        log.append(name)


async def test_bookkeeping_goes_at_once_when_nothing_else_is_in_flight() -> None:
    lanes = Lanes(quiet_s=0.0, max_wait_s=60, clock=CLOCK)
    log: list[str] = []
    began = CLOCK.monotonic()
    await asyncio.wait_for(_bookkeep(lanes, log, "cleanup"), 5)
    assert log == ["cleanup"]
    assert CLOCK.monotonic() == began


async def test_bookkeeping_waits_for_slot_work_then_a_quiet_spell() -> None:
    lanes = Lanes(quiet_s=0.02, max_wait_s=60, clock=CLOCK)
    log: list[str] = []
    lanes.hold()
    waiting = asyncio.create_task(_bookkeep(lanes, log, "cleanup"))
    await asyncio.sleep(0.05)
    assert log == [] and not waiting.done()
    async with lanes.slot_work():  # nested slot work: still held
        await asyncio.sleep(0.01)
    assert log == []
    lanes.release()
    log.append("released")
    released = CLOCK.monotonic()
    await asyncio.wait_for(waiting, 5)
    assert log == ["released", "cleanup"]
    assert CLOCK.monotonic() - released == pytest.approx(0.02)  # exactly the quiet spell


async def test_new_slot_work_within_the_quiet_spell_keeps_bookkeeping_waiting() -> None:
    lanes = Lanes(quiet_s=0.2, max_wait_s=60, clock=CLOCK)
    log: list[str] = []
    lanes.hold()
    waiting = asyncio.create_task(_bookkeep(lanes, log, "cleanup"))
    lanes.release()  # a finish's write is done ...
    await asyncio.sleep(0)
    lanes.hold()  # ... and the claim it made room for begins a loop turn later
    await asyncio.sleep(0.3)
    assert log == []
    lanes.release()
    released = CLOCK.monotonic()
    await asyncio.wait_for(waiting, 5)
    assert log == ["cleanup"]
    assert CLOCK.monotonic() - released == pytest.approx(0.2)  # a whole quiet spell after the last


async def test_bookkeeping_goes_at_its_deadline_even_if_slot_work_never_stops() -> None:
    lanes = Lanes(quiet_s=0.0, max_wait_s=60, clock=CLOCK)
    log: list[str] = []
    lanes.hold()
    began = CLOCK.monotonic()
    await asyncio.wait_for(_bookkeep(lanes, log, "event", not_after=began + 0.05), 5)
    assert log == ["event"] and lanes.busy
    assert CLOCK.monotonic() - began == pytest.approx(0.05)


async def test_only_a_few_bookkeeping_requests_run_at_once() -> None:
    lanes = Lanes(quiet_s=0.0, max_wait_s=60, concurrency=2, clock=CLOCK)
    running, most = 0, 0

    async def request() -> None:
        nonlocal running, most
        async with lanes.bookkeeping(lanes.deadline()):
            running += 1
            most = max(most, running)
            await asyncio.sleep(0.01)
            running -= 1

    began = CLOCK.monotonic()
    await asyncio.wait_for(asyncio.gather(*(request() for _ in range(10))), 5)
    assert most == 2
    assert CLOCK.monotonic() - began == pytest.approx(10 / 2 * 0.01)  # five rounds of two

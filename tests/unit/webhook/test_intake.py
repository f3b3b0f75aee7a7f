"""The byte budget of bodies being read: bounded, released, and stalled readers make room."""

from __future__ import annotations

import pytest

from review_operator.webhook.intake import IDLE_SECONDS, SLOW_SECONDS, SMALL_BODY_BYTES, Budget


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_reservations_are_bounded_and_released() -> None:
    budget = Budget(capacity=100, clock=Clock())
    first = budget.admit(60)
    assert first is not None
    assert budget.admit(50) is None  # would exceed; nobody has been reading long enough to drop
    second = budget.admit(40)
    assert second is not None and budget.in_use == 100
    budget.release(first)
    assert budget.in_use == 40
    assert budget.admit(60) is not None


def test_silent_readers_are_dropped_longest_silent_first_to_make_room() -> None:
    clock = Clock()
    budget = Budget(capacity=100, clock=clock)
    first, second = budget.admit(40), budget.admit(40)
    assert first is not None and second is not None
    clock.now += IDLE_SECONDS / 2
    assert budget.admit(30) is None  # both are still receiving within the idle limit
    second.received()
    clock.now += IDLE_SECONDS / 2
    fresh = budget.admit(30)  # `first` has been silent for IDLE_SECONDS, `second` for half that
    assert fresh is not None
    assert (first.evicted, second.evicted) == (True, False)
    assert budget.in_use == 70
    budget.release(first)  # the dropped reader's handler finishing must not free its bytes twice
    assert budget.in_use == 70


def test_trickling_readers_are_dropped_after_the_slow_limit() -> None:
    clock = Clock()
    budget = Budget(capacity=100, clock=clock)
    trickle = budget.admit(100)
    assert trickle is not None
    clock.now += SLOW_SECONDS - IDLE_SECONDS / 2
    trickle.received()
    assert budget.admit(10) is None  # it just sent a byte and has not been reading for long
    clock.now += IDLE_SECONDS / 2
    trickle.received()
    assert budget.admit(10) is not None
    assert trickle.evicted


def test_a_reader_that_finished_reading_is_never_dropped() -> None:
    clock = Clock()
    budget = Budget(capacity=100, clock=clock)
    done = budget.admit(100)
    assert done is not None
    done.done = True  # authenticated and being parsed: its bytes are in use
    clock.now += 10 * SLOW_SECONDS
    assert budget.admit(1) is None
    assert not done.evicted


@pytest.mark.parametrize("size", [101, 10**9])
def test_a_body_larger_than_the_whole_budget_is_refused(size: int) -> None:
    assert Budget(capacity=100, clock=Clock()).admit(size) is None


def test_large_bodies_leave_a_quarter_of_the_budget_to_bodies_of_githubs_size() -> None:
    budget = Budget(capacity=16 * SMALL_BODY_BYTES, clock=Clock())
    large = [budget.admit(4 * SMALL_BODY_BYTES) for _ in range(4)]
    assert None not in large[:3] and large[3] is None  # three quarters taken by large bodies
    small = [budget.admit(SMALL_BODY_BYTES) for _ in range(5)]
    assert None not in small[:4] and small[4] is None  # the last quarter, by small ones only
    assert budget.in_use == budget.capacity


def test_one_body_up_to_the_whole_budget_is_read_when_nothing_else_is() -> None:
    budget = Budget(capacity=2 * SMALL_BODY_BYTES, clock=Clock())
    assert budget.admit(2 * SMALL_BODY_BYTES) is not None

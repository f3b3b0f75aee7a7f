"""Per-repository token buckets."""

from __future__ import annotations

import pytest

from review_operator.webhook.ratelimit import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_burst_is_accepted_then_limited() -> None:
    limiter = RateLimiter(rate=1, burst=3, clock=FakeClock())
    assert [limiter.allow("r") for _ in range(4)] == [True, True, True, False]


def test_tokens_refill_at_the_configured_rate_up_to_the_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=2, burst=2, clock=clock)
    assert limiter.allow("r") and limiter.allow("r") and not limiter.allow("r")
    clock.now += 0.5  # one token back
    assert limiter.allow("r") and not limiter.allow("r")
    clock.now += 3600  # never more than the burst
    assert [limiter.allow("r") for _ in range(3)] == [True, True, False]


def test_repositories_have_separate_buckets() -> None:
    limiter = RateLimiter(rate=1, burst=1, clock=FakeClock())
    assert limiter.allow("a") and not limiter.allow("a")
    assert limiter.allow("b")


def test_zero_rate_disables_the_limit() -> None:
    limiter = RateLimiter(rate=0, burst=1, clock=FakeClock())
    assert all(limiter.allow("r") for _ in range(1000))


def test_bucket_table_stays_bounded() -> None:
    limiter = RateLimiter(rate=1, burst=1, clock=FakeClock(), max_keys=10)
    for key in range(1000):
        limiter.allow(str(key))
    assert len(limiter) == 10


def test_invalid_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate=1, burst=0)

"""Which finished ReviewJobs garbage collection and the daily budget read (label selectors)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from review_operator.controller.decide.retention import (
    FINISHED_SELECTOR,
    MAX_DAYS_IN_SELECTOR,
    day_label,
    expiry_selectors,
    spend_selectors,
)

NOW = datetime(2026, 12, 3, 8, 30, tzinfo=UTC)
DAY = "review-operator.dev/finished-day"


def test_the_day_label_is_the_utc_date() -> None:
    assert day_label(NOW) == "2026-12-03"
    assert day_label(datetime(2026, 1, 9, 23, 59, 59, tzinfo=UTC)) == "2026-01-09"


def test_expiry_reads_the_days_wholly_past_the_ttl_and_the_boundary_day() -> None:
    past, boundary = expiry_selectors(NOW, timedelta(days=7))
    later = ",".join(f"2026-11-{d}" for d in range(26, 31)) + ",2026-12-01,2026-12-02,2026-12-03"
    assert past == f"{FINISHED_SELECTOR},{DAY} notin ({later})"
    assert boundary == f"{FINISHED_SELECTOR},{DAY}=2026-11-26"


def test_a_ttl_shorter_than_a_day_reads_yesterday_or_today_only() -> None:
    past, boundary = expiry_selectors(NOW, timedelta(hours=1))
    assert past == f"{FINISHED_SELECTOR},{DAY} notin (2026-12-03)"
    assert boundary == f"{FINISHED_SELECTOR},{DAY}=2026-12-03"
    _, boundary = expiry_selectors(NOW, timedelta(hours=10))
    assert boundary == f"{FINISHED_SELECTOR},{DAY}=2026-12-02"


def test_a_ttl_of_many_days_reads_every_finished_reviewjob() -> None:
    assert len(expiry_selectors(NOW, timedelta(days=MAX_DAYS_IN_SELECTOR - 1))) == 2
    assert expiry_selectors(NOW, timedelta(days=MAX_DAYS_IN_SELECTOR)) == [FINISHED_SELECTOR]


def test_the_budget_reads_todays_and_those_without_a_day() -> None:
    assert spend_selectors(NOW) == [f"{FINISHED_SELECTOR},{DAY}=2026-12-03", f"{FINISHED_SELECTOR},!{DAY}"]

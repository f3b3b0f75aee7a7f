"""Today's model spend, as the ReviewJobs recorded it: what the daily budget gate compares.

Each ReviewJob's spend since 00:00 UTC is kept by name, from every read (the active ReviewJobs of a
pass, the finished ones the garbage collection lists) and every status write, so a review counts
once however often it is seen, and a restarted or newly elected controller counts the same day.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from review_operator.api.models import ReviewJob
from review_operator.controller.decide.budget import day_start, pause_message, spent_since
from review_operator.controller.decide.parked import Parked


class DailySpend:
    def __init__(self, budget_usd: float) -> None:
        self.budget = budget_usd
        self._day: datetime | None = None
        self._by_job: dict[str, float] = {}
        self.finished_read = False  # the finished ReviewJobs of today have been counted

    @property
    def enabled(self) -> bool:
        return self.budget > 0

    def _roll(self, now: datetime) -> datetime:
        day = day_start(now)
        if day != self._day:
            self._day, self._by_job = day, {}
            self.finished_read = False
        return day

    def saw(self, jobs: Iterable[ReviewJob | Parked], now: datetime) -> None:
        day = self._roll(now)
        for job in jobs:
            if isinstance(job, Parked):
                name, spend = job.name, job.spend
            else:
                name, spend = job.metadata.name, job.status.spend
            spent = 0.0 if spend is None else spent_since(spend, day)
            if spent > 0:
                self._by_job[name] = spent

    def saw_finished(self, spent: dict[str, float], now: datetime) -> None:
        """Today's spend of the finished ReviewJobs (from `observer.read_finished_page`)."""
        self._roll(now)
        self._by_job.update({name: value for name, value in spent.items() if value > 0})
        self.finished_read = True

    def today(self, now: datetime) -> float:
        self._roll(now)
        return sum(self._by_job.values())

    def paused(self, now: datetime) -> str | None:
        """Why no review may start now (the day's budget is spent), or None."""
        return pause_message(self.today(now), self.budget, now) if self.enabled else None

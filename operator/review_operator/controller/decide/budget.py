"""The daily spend gate: once the UTC day's model spend, over every attempt of every review,
reaches `REVIEWOP_DAILY_BUDGET_USD`, no review starts until the next UTC day.

Spend is what the ReviewJobs recorded (`status.spend.attempts[].at`), so a restarted or newly
elected controller counts the same day. Reviews already running finish: the cap stops admissions,
so a day can end above it by at most what the reviews running at that moment spend.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from review_operator.api.models import Spend

DAILY_BUDGET_REACHED = "DailyBudgetReached"


def day_start(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def next_day(now: datetime) -> datetime:
    return day_start(now) + timedelta(days=1)


def spent_since(spend: Spend, since: datetime) -> float:
    """What the attempts recorded since `since` cost."""
    return sum(a.cost_usd for a in spend.attempts if a.at is not None and a.at >= since)


def pause_message(spent_today: float, budget: float, now: datetime) -> str | None:
    """Why admission is paused (None: it is not): the day's cap is reached."""
    if budget <= 0 or spent_today < budget:
        return None
    return (
        f"Daily model budget reached (${spent_today:.2f} of ${budget:.2f} today); reviews start again "
        f"at {next_day(now).strftime('%Y-%m-%d %H:%M')} UTC."
    )

"""The daily spend gate (issue 19, "spend gate"): once today's spend over every attempt of every
review reaches REVIEWOP_DAILY_BUDGET_USD, no review starts until 00:00 UTC, and the queued ones say
why on `kubectl get rj`."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from review_operator.api.models import Phase, ReviewJob
from review_operator.config import ControllerSettings
from review_operator.controller.decide.budget import DAILY_BUDGET_REACHED, pause_message
from review_operator.controller.decide.plan import Observed, plan_pass
from review_operator.controller.decide.steps import Hold, Pause
from review_operator.controller.engine.spending import DailySpend
from tests.factories import T0, reviewjob

NOON = T0.replace(hour=12)


def spent(name: str, *costs: tuple[float, Any], phase: Phase = Phase.SUCCEEDED) -> ReviewJob:
    attempts = [{"attempt": i + 1, "costUsd": c, "at": at.isoformat()} for i, (c, at) in enumerate(costs)]
    total = sum(c for c, _ in costs)
    return reviewjob(name, phase, attempts=len(costs), spend={"totalCostUsd": total, "attempts": attempts})


def test_today_counts_every_attempt_recorded_since_midnight_once_per_review() -> None:
    spend = DailySpend(budget_usd=1.0)
    yesterday = NOON - timedelta(days=1)
    spend.saw([spent("a", (0.3, yesterday), (0.4, NOON)), spent("b", (0.25, NOON))], NOON)
    spend.saw([spent("b", (0.25, NOON))], NOON)  # seen again (a later read): counted once
    spend.saw_finished({"c": 0.2, "b": 0.25}, NOON)
    assert round(spend.today(NOON), 6) == 0.85
    assert spend.paused(NOON) is None
    spend.saw([spent("d", (0.15, NOON))], NOON)
    paused = spend.paused(NOON)
    assert paused is not None and "$1.00 of $1.00" in paused and "00:00 UTC" in paused
    # A new UTC day starts from nothing.
    assert spend.paused(NOON + timedelta(days=1)) is None and not spend.finished_read


def test_no_budget_never_pauses() -> None:
    assert DailySpend(0).paused(NOON) is None
    assert pause_message(10_000, 0, NOON) is None


def test_while_paused_queued_reviews_say_why_once_and_keep_their_place() -> None:
    queued = reviewjob("q", Phase.QUEUED, created=1)
    held = reviewjob("h", Phase.QUEUED, created=2, reason=DAILY_BUDGET_REACHED)
    planned = plan_pass(
        Observed([queued, held]),
        NOON,
        ControllerSettings(),
        random.Random(0),
        Pause(DAILY_BUDGET_REACHED, "Budget spent."),
    )
    assert [(type(s), s.job.metadata.name) for s in planned.steps] == [(Hold, "q")]
    assert [slot.name for slot in planned.queued] == ["q", "h"]  # both still wait, in order
    open_again = plan_pass(Observed([queued]), NOON, ControllerSettings(), random.Random(0), None)
    assert open_again.steps == [] and [slot.name for slot in open_again.queued] == ["q"]

"""The engine under the model-key breaker (issue 19): a review ending Unauthorized from the model
stops every further start (before, each queued review started a pod and failed the same way), the
queued ones are held with the reason, and without a probe one trial review goes after the cool-down;
its success lets the rest start.

On fake time (`looptime`), as the other engine tests."""

from __future__ import annotations

import asyncio
import random
from typing import cast

import pytest
from prometheus_client import CollectorRegistry

from review_operator.api.models import Phase, ReviewJob
from review_operator.config import ControllerSettings
from review_operator.controller.decide.breaker import MODEL_KEY_REJECTED
from review_operator.controller.decide.plan import Observed, plan_pass
from review_operator.controller.engine.loop import DUE_SLACK, Engine
from review_operator.k8s.aio import AsyncKube
from review_operator.metrics import ControllerMetrics
from tests.factories import reviewjob
from tests.fakes.clock import FAKE_TIME, LoopClock

pytestmark = FAKE_TIME
CLOCK = LoopClock()
COOLDOWN = 30


def engine(jobs: list[ReviewJob]) -> Engine:
    settings = ControllerSettings(
        namespace="ns", model_breaker_cooldown_seconds=COOLDOWN, max_concurrent=5, max_concurrent_per_repo=5
    )
    assert settings.model_key_file is None  # no probe: the cool-down decides
    kube = cast(AsyncKube, object())  # admission decisions make no API calls (Events fail, and are advisory)
    d = Engine(settings, kube, ControllerMetrics(CollectorRegistry()), clock=CLOCK)
    queued = plan_pass(Observed(jobs), CLOCK.now(), settings, random.Random(0)).queued
    d.ledger.reset(jobs, queued, set(), d.ledger.seq, CLOCK.now())
    d.pass_began_at = CLOCK.now()
    return d


def names(d: Engine) -> list[str]:
    return [job.metadata.name for job, _ in d._admissible(CLOCK.now())]


def paused_metric(d: Engine, cause: str) -> float:
    return d.metrics.admission_paused.labels(cause)._value.get()


async def test_a_model_unauthorized_ending_holds_the_queue_until_a_trial_review_succeeds() -> None:
    queue = [reviewjob(f"q{i}", Phase.QUEUED, created=i, repo_id=i + 1) for i in range(3)]
    d = engine(queue)
    assert d.effects.on_key_rejected is not None
    d.effects.on_key_rejected("failed-one")  # as `Effects.finish` reports a pod's Unauthorized
    assert names(d) == []  # nothing starts
    pause = d._paused(CLOCK.now())
    assert pause is not None and pause.reason == MODEL_KEY_REJECTED
    assert paused_metric(d, "model_key") == 1 and paused_metric(d, "daily_budget") == 0
    assert d.model.report()["breaker"] == "open" and d.model.report()["probe"] == "off"
    assert d._kicked.is_set()  # a pass holds the queued reviews at once
    d._kicked.clear()
    # The next pass is due when the cool-down ends, not a resync later.
    began = CLOCK.monotonic()
    await asyncio.wait_for(d.wait_for_pass(), 3600)
    assert CLOCK.monotonic() - began == pytest.approx(COOLDOWN + DUE_SLACK)
    # Half-open: one trial, the oldest.
    assert names(d) == ["q0"]
    d.model.trial_started("q0")
    assert names(d) == []
    running = reviewjob("q0", Phase.RUNNING, created=0, repo_id=1, rv=2)
    d._written(queue[0], running)
    assert names(d) == []  # still trying
    d.ledger.taken.clear()  # as the next read does
    done = reviewjob("q0", Phase.SUCCEEDED, created=0, repo_id=1, rv=3)
    d._written(running, done)
    assert d.model.report()["breaker"] == "closed"
    assert d._paused(CLOCK.now()) is None and paused_metric(d, "model_key") == 0
    assert names(d) == ["q1", "q2"]


async def test_a_trial_rejected_again_closes_the_door_for_another_cool_down() -> None:
    queue = [reviewjob(f"q{i}", Phase.QUEUED, created=i, repo_id=i + 1) for i in range(2)]
    d = engine(queue)
    d.model.review_rejected("first")
    await asyncio.sleep(COOLDOWN)
    assert names(d) == ["q0"]
    d.model.trial_started("q0")
    d.model.review_rejected("q0")
    d.ledger.taken.clear()  # as the next read does
    assert names(d) == []
    await asyncio.sleep(COOLDOWN - 1)
    assert names(d) == []
    await asyncio.sleep(1.01)
    assert len(names(d)) == 1  # one trial again


async def test_a_trial_that_ends_without_a_review_lets_the_next_one_try() -> None:
    # A checkout failure (or a refused pod, a GitHub 401) never reached the model: it proves nothing.
    queue = [reviewjob(f"q{i}", Phase.QUEUED, created=i, repo_id=i + 1) for i in range(3)]
    d = engine(queue)
    d.model.review_rejected("first")
    await asyncio.sleep(COOLDOWN + 0.01)
    assert names(d) == ["q0"]
    d.model.trial_started("q0")
    running = reviewjob("q0", Phase.RUNNING, created=0, repo_id=1, rv=2)
    d._written(queue[0], running)
    d._written(running, reviewjob("q0", Phase.FAILED, created=0, repo_id=1, rv=3, reason="CheckoutFailed"))
    assert d.model.report()["breaker"] == "half_open"
    d.ledger.taken.clear()  # as the next read does
    assert names(d) == ["q1"]  # the next trial; q2 still waits

"""Parked (quiet queued) reviews: a pass plans the same steps and the same queue with them as with
the whole ReviewJobs, and the ledger counts, admits and times them the same."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest

from review_operator.api.models import Phase, ReviewJob
from review_operator.config import ControllerSettings
from review_operator.controller.decide.budget import DAILY_BUDGET_REACHED
from review_operator.controller.decide.parked import Parked, park
from review_operator.controller.decide.plan import Observed, PassPlan, plan_pass, unpark_shared
from review_operator.controller.decide.steps import Pause
from review_operator.controller.engine.ledger import Ledger
from tests.factories import SHA_A, T0, reviewjob_body

SHA_B = "b" * 40
NOW = T0 + timedelta(minutes=10)
SETTINGS = ControllerSettings()
CANCEL = {"reason": "PullRequestClosed", "requestedAt": T0.isoformat()}


def body(name: str, phase: Phase | None, **kw: Any) -> dict[str, Any]:
    status = kw.pop("status", None) or {}
    cancel = kw.pop("cancel", None)
    raw = reviewjob_body(name, phase=phase, status=status, **kw)
    raw["metadata"]["managedFields"] = [{"manager": "webhook", "operation": "Update"}]
    if cancel:
        raw["spec"]["cancel"] = cancel
    return raw


def mix() -> list[dict[str, Any]]:
    """Queued reviews alone on their PR, two of one PR (an older and a newer push), a retry waiting
    on its backoff, one already held for the budget, a cancelled one, a running and a pending one."""
    return [
        body("alone-1", Phase.QUEUED, created=1, pr=1),
        body("alone-2", Phase.QUEUED, created=2, pr=2, repo_id=2),
        body("old-push", Phase.QUEUED, created=3, pr=3, sha=SHA_A),
        body("new-push", Phase.QUEUED, created=4, pr=3, sha=SHA_B),
        body(
            "retry",
            Phase.QUEUED,
            created=0,
            pr=4,
            status={"nextAttemptAt": (NOW + timedelta(seconds=30)).isoformat()},
        ),
        body("held", Phase.QUEUED, created=5, pr=5, status={"reason": DAILY_BUDGET_REACHED}),
        body("cancelled", Phase.QUEUED, created=6, pr=6, cancel=CANCEL),
        body(
            "running", Phase.RUNNING, created=7, pr=7, status={"startTime": NOW.isoformat(), "podName": "p"}
        ),
        body("pending", None, created=8, pr=8),
    ]


def split(raws: list[dict[str, Any]]) -> tuple[list[ReviewJob], list[Parked]]:
    jobs: list[ReviewJob] = []
    parked: list[Parked] = []
    for raw in raws:
        job = ReviewJob.model_validate(raw)
        p = park(job, raw)
        if p is None:
            jobs.append(job)
        else:
            parked.append(p)
    return jobs, parked


def summary(plan: PassPlan) -> tuple[list[tuple[str, str]], list[Any], set[str]]:
    steps = sorted((type(s).__name__, s.job.metadata.name) for s in plan.steps)
    return steps, sorted(plan.queued, key=lambda s: s.name), plan.stale


@pytest.mark.parametrize("paused", [None, Pause(DAILY_BUDGET_REACHED, "Budget spent.")])
def test_a_pass_plans_the_same_with_parked_reviews_as_with_whole_ones(paused: Pause | None) -> None:
    whole = [ReviewJob.model_validate(raw) for raw in mix()]
    jobs, parked = unpark_shared(*split(mix()))
    assert {p.name for p in parked} == {"alone-1", "alone-2", "retry", "held"}  # not the PR with two
    expected = plan_pass(Observed(whole), NOW, SETTINGS, random.Random(0), paused)
    got = plan_pass(Observed(jobs, parked=parked), NOW, SETTINGS, random.Random(0), paused)
    assert summary(got) == summary(expected)
    assert expected.stale == {"old-push"}
    holds = {s.job.metadata.name for s in got.steps if type(s).__name__ == "Hold"}
    # While paused each says why it waits, once ("held" said it already); not otherwise.
    assert holds == (set() if paused is None else {"alone-1", "alone-2", "retry", "new-push"})


def test_the_ledger_counts_admits_and_times_parked_reviews_as_whole_ones() -> None:
    def ledger_of(jobs: list[ReviewJob], parked: list[Parked]) -> Ledger:
        plan = plan_pass(Observed(jobs, parked=parked), NOW, SETTINGS, random.Random(0))
        ledger = Ledger()
        ledger.reset(jobs, plan.queued, plan.stale, 0, NOW, parked)
        return ledger

    whole = ledger_of([ReviewJob.model_validate(raw) for raw in mix()], [])
    small = ledger_of(*unpark_shared(*split(mix())))
    assert small.holders == whole.holders and small.waiting == whole.waiting and small.timed == whole.timed
    due = [lg.next_due(T0, NOW, 600, 3600, 0) for lg in (whole, small)]
    assert due[0] == due[1] == NOW + timedelta(seconds=30)  # the retry's backoff
    admitted = [[j.model_dump() for j in lg.admissible(NOW, 20, 20, 0)] for lg in (whole, small)]
    assert admitted[0] == admitted[1]  # whole models, in the same order
    assert [j["metadata"]["name"] for j in admitted[1]] == ["alone-1", "alone-2", "new-push", "held"]
    assert isinstance(small.job("alone-1"), Parked)
    assert not small.tells_news("alone-1", 0, "uid-alone-1")  # status-only: our own write
    assert small.tells_news("alone-1", 1, "uid-alone-1")  # a new spec (a cancel mark)
    assert small.tells_news("alone-1", 0, "uid-other")  # a new object under the name
    assert small.loses_by_deletion("alone-1", "uid-alone-1")  # deleted while it waits
    assert not small.loses_by_deletion("alone-1", "uid-other")


def test_a_review_we_queue_is_kept_parked_and_admitted_whole() -> None:
    pending = ReviewJob.model_validate(body("new", None, created=1))
    queued = ReviewJob.model_validate(body("new", Phase.QUEUED, created=1, rv=2))
    ledger = Ledger()
    ledger.reset([pending], [], set(), 0, NOW)
    assert ledger.written(pending, queued)  # it may start at once
    assert isinstance(ledger.job("new"), Parked)
    assert ledger.waiting == {"new"} and not ledger.tells_news("new", 0, "uid-new")
    assert ledger.admissible(NOW, 20, 2, 0) == [queued]  # the same model as the write returned


@pytest.mark.parametrize("raw", mix(), ids=lambda raw: raw["metadata"]["name"])
def test_a_review_parked_from_its_model_alone_is_made_whole_as_it_was(raw: dict[str, Any]) -> None:
    """A status write's answer is parked from the model (no JSON read at hand): nothing is lost."""
    job = ReviewJob.model_validate(raw)
    parked = park(job)
    if job.status.phase is not Phase.QUEUED or job.spec.cancel is not None:
        assert parked is None
    else:
        assert parked is not None and parked.model() == job
        assert b"managedFields" not in parked.raw

"""Waiting without holding a slot: posting delayed by GitHub, and pods the API server refuses."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from review_operator.api.models import Phase
from review_operator.api.reasons import Reason
from review_operator.api.result import ResultOutcome, ReviewResult, encode_result
from review_operator.config import ControllerSettings
from review_operator.controller.decide.classify import Kind, classify_create_failure
from review_operator.controller.decide.machine import after_posting_failure
from review_operator.controller.decide.plan import Observed, plan_pass
from review_operator.controller.decide.steps import DelayPost, EnsurePod, Finish, Post, Retry, Step
from review_operator.controller.engine.ledger import Ledger
from review_operator.k8s.errors import error_for_status
from tests.factories import T0
from tests.factories import reviewjob as job


def plan(observed: Observed, now: datetime, settings: ControllerSettings, rng: random.Random) -> list[Step]:
    return plan_pass(observed, now, settings, rng).steps


SETTINGS = ControllerSettings(
    max_concurrent=1,
    pending_timeout_seconds=60,
    retry_base_seconds=1,
    retry_max_seconds=30,
    posting_give_up_seconds=4 * 3600,
)
RESULT = ReviewResult(outcome=ResultOutcome.SUCCESS, summary="fine", cost_usd=1.5, turns=9)


def delayed(name: str = "d", until: int = 600, since: int = 0, **posting: Any) -> Any:
    return job(
        name,
        Phase.RUNNING,
        attempts=1,
        startTime=T0.isoformat(),
        posting={
            "state": "Delayed",
            "attempts": 3,
            "delayedSince": (T0 + timedelta(seconds=since)).isoformat(),
            "nextAttemptAt": (T0 + timedelta(seconds=until)).isoformat(),
            "result": encode_result(RESULT),
            **posting,
        },
    )


def test_a_rate_limited_post_waits_at_least_retry_after_even_above_the_retry_cap() -> None:
    running = job("r", Phase.RUNNING, attempts=1, podName="r-a1", posting={"attempts": 1})
    decision = after_posting_failure(
        Post(running, RESULT, "r-a1"), "rate limited", 1800.0, True, T0, SETTINGS, random.Random(0)
    )
    assert isinstance(decision, DelayPost)
    assert decision.not_before >= T0 + timedelta(seconds=1800)
    assert decision.since == T0
    assert decision.delete_pod == "r-a1"  # posting needs no pod


def test_posting_gives_up_after_elapsed_time_never_after_a_count_of_attempts() -> None:
    rng = random.Random(0)
    # A hundred failed attempts within the give-up time: still waiting, with capped backoff.
    busy = delayed(attempts=100, since=0)
    decision = after_posting_failure(
        Post(busy, RESULT, None), "GitHub answered 502", None, True, T0 + timedelta(hours=3), SETTINGS, rng
    )
    assert isinstance(decision, DelayPost)
    assert decision.since == T0  # measured from the first failure
    assert decision.not_before <= T0 + timedelta(hours=3, seconds=30)
    late = after_posting_failure(
        Post(busy, RESULT, None), "GitHub answered 502", None, True, T0 + timedelta(hours=4), SETTINGS, rng
    )
    assert isinstance(late, Finish)
    assert (late.phase, late.reason, late.result) == (Phase.FAILED, Reason.POSTING_FAILED, RESULT)
    refused = after_posting_failure(
        Post(job("x", Phase.RUNNING), RESULT, "x-a1"), "GitHub answered 422", None, False, T0, SETTINGS, rng
    )
    assert isinstance(refused, Finish) and refused.reason == Reason.POSTING_FAILED


def test_a_review_waiting_to_post_holds_no_slot_and_posts_from_its_kept_result() -> None:
    waiting = delayed(until=600)
    queued = job("q", Phase.QUEUED, created=5)
    now = T0 + timedelta(seconds=10)
    planned = plan_pass(Observed([waiting, queued]), now, SETTINGS, random.Random(0))
    assert planned.steps == []  # nothing to do until its wait is over
    ledger = Ledger()
    ledger.reset([waiting, queued], planned.queued, planned.stale, 0, now)
    admitted = ledger.admissible(now, SETTINGS.max_concurrent, SETTINGS.max_concurrent_per_repo, 0)
    assert [j.metadata.name for j in admitted] == ["q"]  # the only slot goes to the queued review
    due = plan(Observed([waiting]), T0 + timedelta(seconds=601), SETTINGS, random.Random(0))
    assert len(due) == 1 and isinstance(due[0], Post)
    assert due[0].pod is None
    assert due[0].result == RESULT


def test_delaying_a_post_releases_the_slot_in_the_ledger_and_wakes_when_due() -> None:
    running = job("r", Phase.RUNNING, attempts=1, podName="r-a1", startTime=T0.isoformat())
    ledger = Ledger()
    ledger.reset([running], [], set(), ledger.seq, T0)
    assert ledger.holders == {"r": 1}
    assert ledger.written(running, delayed("r", until=900))  # a release: refill now
    assert ledger.holders == {}
    assert ledger.next_due(T0, T0, 60, 1200, 0) == T0 + timedelta(seconds=900)


def test_a_pod_create_refused_by_admission_is_final_and_quotes_the_api_server() -> None:
    body = (
        '{"kind":"Status","status":"Failure","reason":"Forbidden","code":403,"message":'
        '"pods \\"rj-a1\\" is forbidden: exceeded quota: no-pods, requested: pods=1, limited: pods=0"}'
    )
    error = error_for_status(403, "Forbidden", body)
    assert "quota" not in str(error)  # the message stays body-free; the detail is opt-in
    verdict = classify_create_failure(error.status, error.detail)
    assert (verdict.kind, verdict.reason, verdict.phase) == (Kind.FINAL, Reason.POD_REJECTED, Phase.FAILED)
    assert "exceeded quota: no-pods" in verdict.message
    for status in (400, 422):
        assert classify_create_failure(status, "denied").kind is Kind.FINAL
    for status in (0, 429, 500, 503):
        assert classify_create_failure(status, "").kind is Kind.RETRY


def test_a_claim_whose_pod_cannot_be_created_releases_its_slot_at_the_deadline() -> None:
    claimed = job("c", Phase.RUNNING, attempts=1, podName="c-a1", startTime=T0.isoformat())
    early = plan(Observed([claimed]), T0 + timedelta(seconds=59), SETTINGS, random.Random(0))
    assert [type(s) for s in early] == [EnsurePod]
    late = plan(Observed([claimed]), T0 + timedelta(seconds=61), SETTINGS, random.Random(0))
    assert len(late) == 1 and isinstance(late[0], Retry)
    assert late[0].reason == Reason.POD_CREATE_FAILED
    assert late[0].delete_pod == "c-a1"  # in case a create did land after all

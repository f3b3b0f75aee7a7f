"""Pending and running are separate clocks, and the start-up chain covers every leg (issue 19, item 1).

Before: the running deadline ran from the slot claim, so a pod that waited 800 s for a node (a
cluster autoscaler adding one) was killed 400 s into its run; the checkout's own timeout was
outside the chain."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from review_operator.api.models import Phase
from review_operator.api.reasons import Reason
from review_operator.builders.pod import build_review_pod
from review_operator.config import ControllerSettings
from review_operator.controller.decide.classify import Kind, classify_stuck
from review_operator.controller.decide.machine import attempt_or_retry
from review_operator.controller.decide.steps import Finish, Retry
from tests.factories import T0, reviewjob

PENDING, DEADLINE = 900, 1200


def running_pod(started_after: float | None) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": "Running"}
    if started_after is not None:
        status["startTime"] = (T0 + timedelta(seconds=started_after)).isoformat().replace("+00:00", "Z")
    return {"metadata": {"name": "rj-a1"}, "status": status}


def verdict_at(pod: dict[str, Any], seconds: float) -> Kind:
    return classify_stuck(pod, T0 + timedelta(seconds=seconds), T0, PENDING, DEADLINE).kind


def test_time_waiting_for_a_node_does_not_count_against_the_running_deadline() -> None:
    late_start = running_pod(started_after=800)  # 800 s waiting for the autoscaler's node
    assert verdict_at(late_start, 800 + 400) is Kind.RUNNING  # was RunningDeadlineExceeded
    assert verdict_at(late_start, 800 + DEADLINE - 1) is Kind.RUNNING
    ended = classify_stuck(late_start, T0 + timedelta(seconds=800 + DEADLINE + 1), T0, PENDING, DEADLINE)
    assert (ended.kind, ended.reason) == (Kind.FINAL, Reason.RUNNING_DEADLINE)


def test_a_pod_no_node_started_is_on_the_claims_clock() -> None:
    assert verdict_at(running_pod(None), DEADLINE - 1) is Kind.RUNNING
    assert verdict_at(running_pod(None), DEADLINE + 1) is Kind.FINAL


def test_the_chain_covers_the_checkout_and_names_the_broken_leg() -> None:
    assert ControllerSettings().timeout_chain_errors() == []
    # 300 + 600 + 30 = 930 s of legs do not fit a 900 s pod deadline: the checkout leg was not counted.
    [error] = ControllerSettings(checkout_timeout_seconds=300).timeout_chain_errors()
    assert "checkout timeout (300 s)" in error and "pod deadline (900 s)" in error
    [error] = ControllerSettings(running_deadline_seconds=900).timeout_chain_errors()
    assert "running deadline (900 s)" in error


def test_the_checkout_container_gets_its_timeout() -> None:
    settings = ControllerSettings(checkout_timeout_seconds=77)
    pod = build_review_pod(reviewjob("rj"), 1, "a" * 40, settings, "https://api.github.com", False)
    [checkout] = pod["spec"]["initContainers"]
    assert {"name": "REVIEWOP_CHECKOUT_TIMEOUT_SECONDS", "value": "77"} in checkout["env"]


def test_no_attempt_starts_past_the_retry_deadline() -> None:
    settings = ControllerSettings(
        max_attempts=10, retry_base_seconds=30, retry_max_seconds=30, retry_deadline_seconds=3600
    )
    job = reviewjob("rj", Phase.RUNNING, attempts=2)  # created at T0
    early = attempt_or_retry(
        job, "Evicted", "Evicted.", None, "rj-a2", T0 + timedelta(seconds=60), settings, random.Random(0)
    )
    assert isinstance(early, Retry)
    # An outage: the next attempt would start 3600 s after the review was created. It ends instead.
    late = attempt_or_retry(
        job, "Evicted", "Evicted.", None, "rj-a2", T0 + timedelta(seconds=3590), settings, random.Random(0)
    )
    assert isinstance(late, Finish) and late.phase is Phase.FAILED
    assert "retry deadline (3600 s" in late.message

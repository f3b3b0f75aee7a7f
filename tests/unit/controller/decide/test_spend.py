"""Every attempt's spend is recorded, once (issue 19, item 3). Retries and the final failure used
to carry no result, so only the last attempt's cost reached the status and the metrics."""

from __future__ import annotations

import random
from typing import Any

from prometheus_client import CollectorRegistry

from review_operator.api.models import Phase, ReviewJob
from review_operator.api.result import ResultOutcome, ReviewResult, TokenUsage, encode_result
from review_operator.config import ControllerSettings
from review_operator.controller.decide import status
from review_operator.controller.decide.machine import decide
from review_operator.controller.decide.steps import Finish, PodSeen, Retry
from review_operator.metrics import ControllerMetrics
from tests.factories import T0, reviewjob

LIMITED = ReviewResult(
    outcome=ResultOutcome.RATE_LIMITED, cost_usd=0.25, turns=3, tokens=TokenUsage(input=100, output=10)
)


def attempt(n: int, **status_fields: Any) -> ReviewJob:
    return reviewjob(
        "rj", Phase.RUNNING, attempts=n, podName=f"rj-a{n}", startTime=T0.isoformat(), **status_fields
    )


def pod(result: ReviewResult) -> dict[str, Any]:
    state = {"terminated": {"exitCode": 4, "reason": "Error", "message": encode_result(result)}}
    return {
        "metadata": {"name": "rj-a1"},
        "status": {"phase": "Failed", "containerStatuses": [{"name": "review", "state": state}]},
    }


def test_a_retried_attempt_carries_its_result_and_its_spend_is_recorded_once() -> None:
    settings = ControllerSettings(max_attempts=2)
    first = attempt(1)
    step = decide(
        PodSeen(first, pod(LIMITED) | {"metadata": {"name": "rj-a1"}}), T0, settings, random.Random(0)
    )
    assert isinstance(step, Retry) and step.result == LIMITED
    spend = status.spent(first, step.result)
    assert spend is not None and spend.total_cost_usd == 0.25 and [a.attempt for a in spend.attempts] == [1]
    recorded = attempt(1, spend=spend.model_dump(mode="json", by_alias=True))
    assert status.spent(recorded, LIMITED) is None  # the same attempt again (a repeated write) adds nothing
    # The second attempt is the last one: it ends the review, its result with it.
    second = attempt(2, spend=spend.model_dump(mode="json", by_alias=True))
    last = decide(
        PodSeen(second, pod(LIMITED) | {"metadata": {"name": "rj-a2"}}), T0, settings, random.Random(0)
    )
    assert isinstance(last, Finish) and last.result == LIMITED
    total = status.spent(second, last.result)
    assert total is not None
    assert (total.total_cost_usd, total.total_tokens.input, [a.attempt for a in total.attempts]) == (
        0.5,
        200,
        [1, 2],
    )
    patch = status.finished(second, Phase.FAILED, "RateLimited", "x", last.result, T0)
    assert patch["spend"]["totalCostUsd"] == 0.5


def test_metrics_count_each_attempt_once_and_the_review_cost_is_the_total() -> None:
    registry = CollectorRegistry()
    metrics = ControllerMetrics(registry)
    metrics.spent(LIMITED)
    metrics.spent(LIMITED)
    assert registry.get_sample_value("reviewop_cost_usd_total") == 0.5
    assert registry.get_sample_value("reviewop_tokens_total", {"kind": "input"}) == 200
    spend = status.spent(attempt(1), LIMITED)
    assert spend is not None
    done = attempt(1, spend=spend.model_dump(mode="json", by_alias=True))
    metrics.finished(Phase.FAILED, "RateLimited", LIMITED, done, T0)
    assert registry.get_sample_value("reviewop_review_cost_usd_sum") == 0.25

"""The model-key breaker's decisions (issue 19: a revoked or invalid key fails closed, loudly, and
resumes by itself): which facts open it, what half-opens and closes it, what queued reviews show."""

from __future__ import annotations

import random
from datetime import timedelta

from review_operator.api.models import Phase
from review_operator.api.result import ResultOutcome, ReviewResult, encode_result
from review_operator.config import ControllerSettings
from review_operator.controller.decide import breaker as b
from review_operator.controller.decide.machine import decide
from review_operator.controller.decide.steps import Finish, Hold, Pause, PodSeen, Seen, TokenRefused
from tests.factories import T0, reviewjob

LATER = T0 + timedelta(seconds=5)
SETTINGS = ControllerSettings()


def ended(outcome: ResultOutcome, exit_code: int) -> PodSeen:
    job = reviewjob("rj", Phase.RUNNING, attempts=1, podName="rj-a1", startTime=T0.isoformat())
    message = encode_result(ReviewResult(outcome=outcome, summary="x"))
    state = {"terminated": {"exitCode": exit_code, "reason": "Error", "message": message}}
    pod = {
        "metadata": {"name": "rj-a1"},
        "status": {"phase": "Failed", "containerStatuses": [{"name": "review", "state": state}]},
    }
    return PodSeen(job, pod)


def test_a_pod_ending_unauthorized_from_the_model_is_what_opens_the_breaker() -> None:
    step = decide(ended(ResultOutcome.UNAUTHORIZED, 21), LATER, SETTINGS, random.Random(0))
    assert isinstance(step, Finish) and step.reason == "Unauthorized" and step.model_key_rejected
    other = decide(ended(ResultOutcome.AGENT_ERROR, 10), LATER, SETTINGS, random.Random(0))
    assert isinstance(other, Finish) and not other.model_key_rejected
    # GitHub refusing a token is Unauthorized too, but says nothing about the model key.
    github = decide(
        TokenRefused(ended(ResultOutcome.SUCCESS, 0).job, "HTTP 401"), LATER, SETTINGS, random.Random(0)
    )
    assert isinstance(github, Finish) and github.reason == "Unauthorized" and not github.model_key_rejected


def test_a_rejected_probe_opens_and_a_passing_one_closes() -> None:
    opened = b.probed(b.CLOSED, b.ProbeOutcome.REJECTED, T0)
    assert (opened.state, opened.cause, b.starts_allowed(opened)) == (b.State.OPEN, b.Cause.PROBE, 0)
    assert b.probed(opened, b.ProbeOutcome.REJECTED, LATER) == opened  # still the first opening
    assert b.probed(opened, b.ProbeOutcome.OK, LATER) == b.CLOSED
    assert b.starts_allowed(b.CLOSED) is None


def test_an_unreachable_api_never_opens_or_closes_it() -> None:
    assert b.probed(b.CLOSED, b.ProbeOutcome.UNREACHABLE, T0) == b.CLOSED
    opened = b.probed(b.CLOSED, b.ProbeOutcome.REJECTED, T0)
    assert b.probed(opened, b.ProbeOutcome.UNREACHABLE, LATER) == opened


def test_a_review_rejected_opens_and_with_a_probe_a_pass_half_opens_for_one_trial() -> None:
    opened = b.review_rejected(b.CLOSED, T0)
    assert (opened.state, opened.cause) == (b.State.OPEN, b.Cause.REVIEW)
    half = b.probed(opened, b.ProbeOutcome.OK, LATER)
    assert half.state is b.State.HALF_OPEN and b.starts_allowed(half) == 1
    trying = b.trial_started(half, "rj-1")
    assert b.starts_allowed(trying) == 0  # only one trial at a time
    assert b.trial_left(trying, "rj-2", Phase.SUCCEEDED, reviewed=True) == trying  # not the trial
    assert b.trial_left(trying, "rj-1", Phase.RUNNING, reviewed=False) == trying
    assert b.trial_left(trying, "rj-1", Phase.SUCCEEDED, reviewed=True) == b.CLOSED
    assert b.trial_left(trying, "rj-1", Phase.RUNNING, reviewed=True) == b.CLOSED  # kept to post later
    # Left without a review (retried, cancelled, failed before the model, e.g. its checkout):
    # nothing is proven, another review becomes the trial.
    for phase in (Phase.QUEUED, Phase.CANCELLED, Phase.FAILED):
        assert b.trial_left(trying, "rj-1", phase, reviewed=False) == half
    # The trial rejected too: open again, the cool-down counting from now.
    assert b.review_rejected(trying, LATER) == b.Breaker(b.State.OPEN, b.Cause.REVIEW, LATER)


def test_without_a_probe_it_half_opens_after_the_cool_down() -> None:
    opened = b.review_rejected(b.CLOSED, T0)
    assert b.cooled(opened, T0 + timedelta(seconds=59), 60, probing=False) == opened
    assert b.cooled(opened, T0 + timedelta(seconds=60), 60, probing=False).state is b.State.HALF_OPEN
    assert b.half_opens_at(opened, 60, probing=False) == T0 + timedelta(seconds=60)
    # With a probe the probe decides; a probe's opening never cools by time.
    assert b.cooled(opened, T0 + timedelta(hours=1), 60, probing=True) == opened
    by_probe = b.probed(b.CLOSED, b.ProbeOutcome.REJECTED, T0)
    assert b.cooled(by_probe, T0 + timedelta(hours=1), 60, probing=False) == by_probe
    assert b.half_opens_at(by_probe, 60, probing=False) is None


def test_queued_reviews_are_held_with_the_breakers_reason_once_and_relabelled_from_the_budgets() -> None:
    pause = b.pause(b.probed(b.CLOSED, b.ProbeOutcome.REJECTED, T0), probing=True, cooldown_seconds=600)
    assert pause is not None and pause.reason == b.MODEL_KEY_REJECTED and "probe passes" in pause.message
    assert b.pause(b.CLOSED, probing=True, cooldown_seconds=600) is None
    queued = reviewjob("rj", Phase.QUEUED)
    step = decide(Seen(queued, paused=pause), LATER, SETTINGS, random.Random(0))
    assert isinstance(step, Hold) and (step.reason, step.message) == (pause.reason, pause.message)
    held = reviewjob("rj", Phase.QUEUED, reason=b.MODEL_KEY_REJECTED)
    assert decide(Seen(held, paused=pause), LATER, SETTINGS, random.Random(0)) is None  # said once
    budget = reviewjob("rj", Phase.QUEUED, reason="DailyBudgetReached")
    assert isinstance(decide(Seen(budget, paused=pause), LATER, SETTINGS, random.Random(0)), Hold)
    assert decide(Seen(held, paused=Pause("DailyBudgetReached", "spent")), LATER, SETTINGS, random.Random(0))

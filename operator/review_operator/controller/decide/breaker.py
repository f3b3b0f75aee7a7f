"""The model-key circuit breaker: once the model API rejects the key, no review starts (they would
each start a pod and post a failure note) until the key is known to work again. Fail closed, loudly.

States: CLOSED (reviews start), OPEN (none starts; queued ones are held with `ModelKeyRejected`),
HALF_OPEN (one review is admitted as a trial; the rest stay held). What moves it:

| state  | fact                                                          | next                  |
|--------|---------------------------------------------------------------|-----------------------|
| any    | the probe is rejected (401/403)                               | OPEN (by the probe)   |
| any    | a review ends Unauthorized from the model                     | OPEN (by a review)    |
| OPEN by the probe  | the probe passes                                  | CLOSED                |
| OPEN by a review   | the probe passes, or (no probe) the cool-down is over | HALF_OPEN             |
| HALF_OPEN | its trial produced a review (succeeded, or kept to post)     | CLOSED                |
| HALF_OPEN | its trial left otherwise (other failure, retry, cancel)      | HALF_OPEN, a new trial may go |

A probe that cannot reach the API (timeouts, 5xx) changes nothing: the breaker opens on a rejected
key only, never on an outage. Pure: the engine keeps the one `Breaker` value and feeds it facts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from review_operator.api.models import Phase
from review_operator.controller.decide.steps import Pause

MODEL_KEY_REJECTED = "ModelKeyRejected"


class State(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class ProbeOutcome(StrEnum):
    OK = "ok"
    REJECTED = "rejected"  # 401/403: the key is wrong, revoked or lacks permission
    UNREACHABLE = "unreachable"  # timeouts, connection errors, 5xx, anything else: not the key's fault


class Cause(StrEnum):
    PROBE = "probe"
    REVIEW = "review"


@dataclass(frozen=True)
class Breaker:
    state: State = State.CLOSED
    cause: Cause | None = None
    since: datetime | None = None  # when it last opened (the cool-down counts from here)
    trial: str | None = None  # the ReviewJob admitted while half-open

    @property
    def is_closed(self) -> bool:
        return self.state is State.CLOSED


CLOSED = Breaker()


def opened(cause: Cause, now: datetime) -> Breaker:
    return Breaker(State.OPEN, cause, now)


def probed(breaker: Breaker, outcome: ProbeOutcome, now: datetime) -> Breaker:
    """The probe's answer."""
    if outcome is ProbeOutcome.REJECTED:
        return (
            breaker
            if breaker.state is State.OPEN and breaker.cause is Cause.PROBE
            else opened(Cause.PROBE, now)
        )
    if outcome is ProbeOutcome.OK and breaker.state is State.OPEN:
        # The key works for the probe; a review's 401 may have been about more than the key (a model
        # it may not use): one review tries before the queue goes.
        return (
            CLOSED if breaker.cause is Cause.PROBE else Breaker(State.HALF_OPEN, breaker.cause, breaker.since)
        )
    return breaker


def review_rejected(breaker: Breaker, now: datetime) -> Breaker:
    """A review's pod ended Unauthorized from the model."""
    del breaker  # whatever it was: the model just refused the key
    return opened(Cause.REVIEW, now)


def cooled(breaker: Breaker, now: datetime, cooldown_seconds: float, probing: bool) -> Breaker:
    """Without a probe, a breaker a review opened half-opens once the cool-down is over."""
    at = half_opens_at(breaker, cooldown_seconds, probing)
    if at is None or now < at:
        return breaker
    return Breaker(State.HALF_OPEN, breaker.cause, breaker.since)


def half_opens_at(breaker: Breaker, cooldown_seconds: float, probing: bool) -> datetime | None:
    """When `cooled` would half-open it (None: not by time)."""
    if (
        breaker.state is not State.OPEN
        or probing
        or breaker.cause is not Cause.REVIEW
        or breaker.since is None
    ):
        return None
    return breaker.since + timedelta(seconds=cooldown_seconds)


def starts_allowed(breaker: Breaker) -> int | None:
    """How many reviews may start now: None (no limit from the breaker), 0, or 1 (the trial)."""
    if breaker.state is State.CLOSED:
        return None
    if breaker.state is State.HALF_OPEN and breaker.trial is None:
        return 1
    return 0


def trial_started(breaker: Breaker, name: str) -> Breaker:
    return replace(breaker, trial=name) if breaker.state is State.HALF_OPEN else breaker


def trial_left(breaker: Breaker, name: str, phase: Phase, reviewed: bool) -> Breaker:
    """The trial's ReviewJob was written with `phase`; `reviewed`: it has a review to post (it
    succeeded, or its result is kept for a delayed post). A model Unauthorized opens instead.

    Only a review proves the key: a failure of another kind (a checkout, a refused pod, a GitHub
    token) may not have reached the model, so the next queued review becomes the trial."""
    if breaker.state is not State.HALF_OPEN or breaker.trial != name:
        return breaker
    if reviewed:
        return CLOSED
    return breaker if phase is Phase.RUNNING else replace(breaker, trial=None)


def pause(breaker: Breaker, probing: bool, cooldown_seconds: float) -> Pause | None:
    """What queued reviews show while the breaker is not closed."""
    if breaker.state is State.CLOSED:
        return None
    if breaker.state is State.HALF_OPEN:
        return Pause(MODEL_KEY_REJECTED, "The model API rejected the key; one review is trying it again.")
    first = "The model API rejected the key (401/403)"
    if breaker.cause is Cause.REVIEW and not probing:
        return Pause(
            MODEL_KEY_REJECTED,
            f"{first} for a review; reviews wait, one tries again {cooldown_seconds:.0f} s after it.",
        )
    return Pause(MODEL_KEY_REJECTED, f"{first}; reviews wait until the controller's probe passes again.")

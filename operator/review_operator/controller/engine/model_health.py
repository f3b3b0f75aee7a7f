"""The model key's health: the periodic probe (leader only), the breaker it and the reviews' endings
feed (`decide/breaker.py` decides every move), and how it is reported: the `reviewop_model_*`
metrics, `reviewop_admission_paused{cause="model_key"}`, one Event per change on the controller's
Lease (an object every replica shares, in the review namespace, where the controller may record
Events), a log line, and the health endpoint's `model` entry (`report`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from review_operator.api.models import Phase
from review_operator.config import ControllerSettings
from review_operator.controller.decide import breaker as b
from review_operator.controller.decide.steps import Pause
from review_operator.controller.engine.clock import Clock
from review_operator.controller.engine.events import EventRecorder
from review_operator.controller.engine.model_probe import ModelProbe, ProbeResult, ProbeTarget, probe_target
from review_operator.metrics import ControllerMetrics

log = logging.getLogger(__name__)

_EVENTS = {
    b.State.OPEN: ("ModelKeyRejected", True),
    b.State.HALF_OPEN: ("ModelKeyTrial", False),
    b.State.CLOSED: ("ModelKeyAccepted", False),
}


class ModelHealth:
    def __init__(
        self,
        settings: ControllerSettings,
        metrics: ControllerMetrics,
        events: EventRecorder,
        clock: Clock,
        changed: Callable[[], None],
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.events = events
        self.clock = clock
        self.changed = changed  # the breaker moved: a pass holds or admits the queued reviews
        target = probe_target(settings)
        self.probe = ModelProbe(target) if isinstance(target, ProbeTarget) else None
        self.probe_off = target if isinstance(target, str) else None
        if self.probe_off is not None:
            log.info("model probe off: %s", self.probe_off)
        self.breaker = b.CLOSED
        self.last: ProbeResult | None = None
        self.last_at: datetime | None = None
        self.last_ok_at: datetime | None = None
        self.lease = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": settings.lease_name, "namespace": settings.namespace},
        }

    @property
    def probing(self) -> bool:
        return self.probe is not None

    # -- the breaker ---------------------------------------------------------------------------
    def _set(self, after: b.Breaker, why: str) -> None:
        before, self.breaker = self.breaker, after
        if after.state is before.state:
            return
        self.metrics.breaker_state(after.state.value)
        reason, warning = _EVENTS[after.state]
        pause = b.pause(after, self.probing, self.settings.model_breaker_cooldown_seconds)
        message = f"{why}. " + (pause.message if pause else "Reviews start again.")
        (log.warning if warning else log.info)("model key breaker %s: %s", after.state.value, message)
        self.events.record_on(self.lease, reason, message, warning=warning)
        self.changed()

    def _cool(self, now: datetime) -> None:
        cooldown = self.settings.model_breaker_cooldown_seconds
        self._set(
            b.cooled(self.breaker, now, cooldown, self.probing), "The cool-down after a rejected key is over"
        )

    def pause(self, now: datetime) -> Pause | None:
        self._cool(now)
        return b.pause(self.breaker, self.probing, self.settings.model_breaker_cooldown_seconds)

    def starts_allowed(self, now: datetime) -> int | None:
        self._cool(now)
        return b.starts_allowed(self.breaker)

    def trial_started(self, name: str) -> None:
        if self.breaker.state is b.State.HALF_OPEN and self.breaker.trial is None:
            log.info("model key breaker: %s is the trial review", name)
        self.breaker = b.trial_started(self.breaker, name)

    def review_rejected(self, name: str) -> None:
        self._set(b.review_rejected(self.breaker, self.clock.now()), f"Review {name} ended Unauthorized")

    def written(self, name: str, phase: Phase, reviewed: bool) -> None:
        """A ReviewJob's status was written: the trial's outcome, if it is the trial."""
        after = b.trial_left(self.breaker, name, phase, reviewed)
        self._set(after, f"The trial review {name} produced a review")

    def due(self) -> datetime | None:
        """When time alone moves the breaker (the cool-down), if it will."""
        return b.half_opens_at(self.breaker, self.settings.model_breaker_cooldown_seconds, self.probing)

    # -- the probe -----------------------------------------------------------------------------
    async def run(self, may_act: Callable[[], bool]) -> None:
        """Probes every interval while this replica leads (the loop runs only then)."""
        if self.probe is None:
            return
        while True:
            if may_act():
                await self.probe_once()
            await asyncio.sleep(self.settings.model_probe_interval_seconds)

    async def probe_once(self) -> ProbeResult:
        assert self.probe is not None
        result = await self.probe.once()
        now = self.clock.now()
        before = self.last
        self.last, self.last_at = result, now
        self.metrics.model_probes.labels(result.outcome.value).inc()
        ok = result.outcome is b.ProbeOutcome.OK
        self.metrics.model_probe_ok.set(int(ok))
        if ok:
            self.last_ok_at = now
            self.metrics.model_probe_last_success.set(now.timestamp())
        unreachable = result.outcome is b.ProbeOutcome.UNREACHABLE
        was_unreachable = before is not None and before.outcome is b.ProbeOutcome.UNREACHABLE
        if unreachable and not was_unreachable:
            # An outage, not a rejected key: said once, the breaker left as it is.
            message = f"The model API probe failed ({result.detail}); reviews are not paused for it."
            log.warning("%s", message)
            self.events.record_on(self.lease, "ModelProbeFailed", message, warning=True)
        elif was_unreachable and not unreachable:
            log.info("the model API probe answers again (%s)", result.detail)
        self._set(b.probed(self.breaker, result.outcome, now), f"Model probe: {result.detail}")
        return result

    def report(self) -> dict[str, Any]:
        """The health endpoint's `model` entry."""
        return {
            "breaker": self.breaker.state.value,
            "probe": "off" if self.probe is None else (self.last.outcome.value if self.last else "pending"),
            "detail": self.probe_off if self.probe is None else (self.last.detail if self.last else ""),
            "lastProbeAt": self.last_at.isoformat() if self.last_at else None,
            "lastSuccessAt": self.last_ok_at.isoformat() if self.last_ok_at else None,
        }

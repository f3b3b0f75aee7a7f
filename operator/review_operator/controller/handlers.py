"""kopf handlers: thin. Every watch event on a ReviewJob or a review pod goes to the engine, which
acts on a review pod's ending at once and asks for a pass only for what its ledger cannot explain.

The engine (one serialized loop) does the work; handlers never patch anything, so kopf keeps no
per-object state (no finalizers, no progress annotations) on our objects. The handlers are async:
kopf runs sync handlers in threads, and the engine's asyncio.Event must be set on the loop.
"""

from __future__ import annotations

from typing import Any

import kopf

from review_operator.api.models import GROUP, PLURAL, VERSION
from review_operator.builders.names import LABEL_COMPONENT
from review_operator.builders.pod import REVIEW_POD_COMPONENT
from review_operator.controller.engine.loop import ACTIVE_PAGE, ACTIVE_SELECTOR


class NoDiffBase(kopf.DiffBaseStorage):
    """kopf computes a "diff-base" (a deep copy of each object's essence) on every watch event, for
    change-detecting handlers (on.create/update/field). We register none: our handlers only
    listen. Measured in a drain, building it was 17 % of the controller's CPU and kopf's event
    processing 39 %; with this storage there is nothing to copy, and nothing is ever stored."""

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> kopf.BodyEssence:
        return kopf.BodyEssence()

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        return None


class NoProgress(kopf.ProgressStorage):
    """kopf's progress storage tracks change-detecting handlers' retries in annotations; ours only
    listen, so there is nothing to track. The default one still cleans its keys out of every event's
    essence: a few per cent of the controller's CPU while thousands of ReviewJobs are queued."""

    def fetch(self, *, key: kopf.HandlerId, body: kopf.Body) -> kopf.ProgressRecord | None:
        return None

    def store(
        self, *, key: kopf.HandlerId, record: kopf.ProgressRecord, body: kopf.Body, patch: kopf.Patch
    ) -> None:
        return None

    def purge(self, *, key: kopf.HandlerId, body: kopf.Body, patch: kopf.Patch) -> None:
        return None

    def touch(self, *, body: kopf.Body, patch: kopf.Patch, value: str | None) -> None:
        return None

    def clear(self, *, essence: kopf.BodyEssence) -> kopf.BodyEssence:
        return essence


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.posting.enabled = False  # our own Events carry the story; kopf's would duplicate them
    # We serve exactly one namespace: no cluster-wide namespace/CRD scanning (and no RBAC for it).
    settings.scanning.disabled = True
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.networking.request_timeout = 60
    # kopf keeps a worker per object until it has been idle this long; thousands of ReviewJobs
    # changing at once would otherwise keep thousands of workers (and their memory) alive.
    queueing = getattr(settings, "queueing", None) or settings.batching  # renamed in kopf 1.4x
    queueing.idle_timeout = 0.5
    # Only the active ReviewJobs are watched (filtered by the API server): a week of finished ones
    # under the TTL would otherwise each cost a worker and an event at every start and re-list.
    settings.watching.label_selectors[GROUP, PLURAL] = ACTIVE_SELECTOR
    # kopf lists what exists before it watches; a backlog of thousands listed in one body is a spike
    # the controller's heap keeps for good: pages, like the passes' own reads.
    settings.watching.chunk_size = ACTIVE_PAGE
    settings.persistence.diffbase_storage = NoDiffBase()
    settings.persistence.progress_storage = NoProgress()


@kopf.on.event(GROUP, VERSION, PLURAL)
async def reviewjob_changed(memo: kopf.Memo, body: kopf.Body, **kwargs: Any) -> None:
    memo["engine"].job_changed(kwargs.get("type"), dict(body))


@kopf.on.event("", "v1", "pods", labels={LABEL_COMPONENT: REVIEW_POD_COMPONENT})
async def review_pod_changed(memo: kopf.Memo, body: kopf.Body, **kwargs: Any) -> None:
    memo["engine"].pod_changed(dict(body), deleted=kwargs.get("type") == "DELETED")


@kopf.on.probe(id="reconcile_passes")
def reconcile_passes(memo: kopf.Memo, **_: Any) -> int:
    passes: int = memo["engine"].passes
    return passes


@kopf.on.probe(id="model")
def model_health(memo: kopf.Memo, **_: Any) -> dict[str, Any]:
    """The model key's health on /healthz: the breaker (closed, open, half_open) and the last probe.
    Reported only: a rejected key must not make the controller restart (it holds the queue back)."""
    report: dict[str, Any] = memo["engine"].model.report()
    return report


def registry() -> kopf.OperatorRegistry:
    """The registry holding this module's handlers (kopf's default one, filled at import)."""
    return kopf.get_default_registry()

"""A queued review with nothing to decide, kept small: what admission, the timers and the watch need
of it, and its object as compact JSON for when more is needed (a claim, a hold, a head check).

A validated `ReviewJob` costs about 9 KiB of Python objects; a backlog of thousands waiting for a
slot would hold that for each while nothing happens to them. A parked one costs about 1 KiB. Only
a Queued review without a cancel mark is parked (those are the ones a pass decides nothing for
unless admission is paused or a newer commit of their PR is in play, and then `model()` gives the
whole object back, validated from the same JSON it was read from).

Pure: no I/O, no clock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from review_operator.api.models import Phase, ReviewJob, Spend
from review_operator.controller.decide.admission import Slot
from review_operator.controller.decide.heads import PRKey, pr_key


@dataclass(frozen=True, slots=True)
class Parked:
    name: str
    uid: str
    generation: int
    created: datetime | None
    repository_id: int
    pr: PRKey
    reason: str | None
    next_attempt_at: datetime | None
    start_time: datetime | None
    spend: Spend | None  # None: nothing spent yet (a first attempt waiting)
    raw: bytes  # the object as read (without managedFields), compact JSON

    phase = Phase.QUEUED  # a class constant: every parked review is Queued

    def model(self) -> ReviewJob:
        """The whole ReviewJob, as validated when it was read."""
        return ReviewJob.model_validate_json(self.raw)

    def slot(self, now: datetime) -> Slot:
        """Its place in line: creation time (then name), whatever its retries."""
        return Slot(self.name, self.repository_id, self.created or now, self.next_attempt_at)


def park(job: ReviewJob, raw: dict[str, Any] | None = None) -> Parked | None:
    """`job` (validated from `raw`; without it, from its own manifest) kept small, or None if it must
    stay whole: it is not Queued, or it carries a cancel mark (the pass ends it)."""
    status = job.status
    if status.phase is not Phase.QUEUED or job.spec.cancel is not None:
        return None
    if raw is None:
        raw = job.to_manifest()
    meta = {k: v for k, v in (raw.get("metadata") or {}).items() if k != "managedFields"}
    return Parked(
        name=job.metadata.name,
        uid=job.metadata.uid,
        generation=job.metadata.generation,
        created=job.metadata.creation_timestamp,
        repository_id=job.spec.repository.id,
        pr=pr_key(job),
        reason=status.reason,
        next_attempt_at=status.next_attempt_at,
        start_time=status.start_time,
        spend=status.spend if status.spend.attempts else None,
        raw=json.dumps({**raw, "metadata": meta}, separators=(",", ":")).encode(),
    )

"""Pure admission: which queued reviews may start now, under global and per-repository limits.

`admit` decides from the slots it is given: the engine's in-memory `Ledger`, rebuilt from every
consistent LIST of the ReviewJobs with this replica's own confirmed claims and releases applied on
top (so a freed slot is refilled before the next LIST). Nothing outlives the leadership: a
restarted or newly leading controller starts a fresh ledger from its first LIST, so it reaches the
same decision from what exists in the cluster. Order: oldest first, with fairness
across repositories: each round admits at most one review per repository, visiting repositories
in the order of their oldest waiting review, so one busy repository cannot starve the others.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from review_operator.api.models import Phase, ReviewJob


@dataclass(frozen=True)
class Slot:
    """A review that holds a slot (Running) or waits for one (Queued)."""

    name: str
    repository_id: int
    queued_at: datetime
    not_before: datetime | None = None


def holds_slot(job: ReviewJob) -> bool:
    """Running, and not merely waiting to post: a review whose result is kept in its status needs
    no pod, so it gives its slot back while GitHub makes it wait."""
    return job.status.phase is Phase.RUNNING and job.status.posting.result is None


def admit(
    running: list[Slot],
    queued: list[Slot],
    now: datetime,
    max_concurrent: int,
    max_per_repo: int,
    starts_left: int | None = None,
) -> list[str]:
    """Names of queued reviews to start now, in start order."""
    free = max_concurrent - len(running)
    if starts_left is not None:
        free = min(free, starts_left)
    if free <= 0:
        return []
    per_repo = Counter(s.repository_id for s in running)
    waiting: dict[int, list[Slot]] = defaultdict(list)
    for slot in sorted(queued, key=lambda s: (s.queued_at, s.name)):
        if slot.not_before is None or slot.not_before <= now:
            waiting[slot.repository_id].append(slot)
    admitted: list[str] = []
    while free > 0:
        progressed = False
        for repo in sorted(
            waiting, key=lambda r: (waiting[r][0].queued_at, waiting[r][0].name) if waiting[r] else (now, "")
        ):
            if free <= 0:
                break
            if not waiting[repo] or per_repo[repo] >= max_per_repo:
                continue
            slot = waiting[repo].pop(0)
            admitted.append(slot.name)
            per_repo[repo] += 1
            free -= 1
            progressed = True
        if not progressed:
            break
    return admitted


def backoff(
    attempt: int, base_s: float, cap_s: float, retry_after_s: float | None, rng: random.Random
) -> timedelta:
    """Capped exponential backoff with full jitter, never sooner than the server's retry-after."""
    ceiling = min(cap_s, base_s * (2 ** max(0, attempt - 1)))
    delay = rng.uniform(ceiling / 2, ceiling) if ceiling > 0 else 0.0
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, cap_s))
    return timedelta(seconds=delay)

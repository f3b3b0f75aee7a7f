"""A pass: from everything that exists (non-final ReviewJobs, review pods, PR heads) to the steps
that move each review on, and the reviews waiting for a slot.

Each ReviewJob's step is `machine.decide` on what the pass saw of it; what is decided here is only
what needs the whole picture: which reviews are of a stale commit (the PR's other reviews and
GitHub's head), and which queued reviews compete for slots (admission takes them from the ledger).
Nothing here talks to the cluster or GitHub, so a restarted controller, seeing the same objects,
plans the same steps.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from review_operator.api.models import Phase, ReviewJob, TriggerEvent
from review_operator.config import ControllerSettings
from review_operator.controller.decide.admission import Slot
from review_operator.controller.decide.heads import PRKey, job_head, pr_key
from review_operator.controller.decide.machine import covers, decide
from review_operator.controller.decide.parked import Parked
from review_operator.controller.decide.steps import Hold, Pause, Seen, Stale, Step


@dataclass
class Observed:
    jobs: list[ReviewJob]
    pods: dict[str, dict[str, Any]] = field(default_factory=dict)  # by pod name
    # Queued reviews kept small (`parked.py`), none of them sharing its PR with another active one.
    parked: list[Parked] = field(default_factory=list)
    # GitHub's head of each PR with two heads in play; None: no GitHub (stale means older, then).
    heads: dict[PRKey, str] | None = None
    deferred: int = 0  # new ReviewJobs the read left for the next one (see `observer.PENDING_PER_READ`)


@dataclass
class PassPlan:
    steps: list[Step]
    queued: list[Slot]  # waiting for a slot
    stale: set[str]  # reviews of a commit that is not their PR's head


def _created(job: ReviewJob, now: datetime) -> datetime:
    return job.metadata.creation_timestamp or now


def superseded_by_newer(jobs: list[ReviewJob], now: datetime) -> dict[str, Stale]:
    """Without GitHub to ask: older push-triggered reviews of a PR with a newer head under review."""
    by_pr: dict[PRKey, list[ReviewJob]] = defaultdict(list)
    for job in jobs:
        if job.spec.trigger.event is not TriggerEvent.ISSUE_COMMENT and job.spec.pull_request.head_sha:
            by_pr[pr_key(job)].append(job)
    stale: dict[str, Stale] = {}
    for group in by_pr.values():
        group.sort(key=lambda j: (_created(j, now), j.metadata.name))
        newest = group[-1].spec.pull_request.head_sha or ""
        for job in group[:-1]:
            if job.spec.pull_request.head_sha != newest:
                stale[job.metadata.name] = Stale(newest, covered=True)
    return stale


def stale_reviews(jobs: list[ReviewJob], heads: dict[PRKey, str] | None, now: datetime) -> dict[str, Stale]:
    """Non-final reviews of a commit that is not their PR's head, as GitHub says (name → why).

    Never decided by which ReviewJob was created last: a late redelivery of an older push must not
    displace the review of the newer one."""
    if heads is None:
        return superseded_by_newer(jobs, now)
    stale: dict[str, Stale] = {}
    active = [j for j in jobs if not j.status.phase.is_final]
    for job in active:
        if job.spec.kind.is_question:
            continue  # an answer is about the head it started at: a push does not end it
        head, actual = job_head(job), heads.get(pr_key(job))
        if head is None or actual is None or head == actual:
            continue
        covered = any(covers(other, actual) for other in active if pr_key(other) == pr_key(job))
        stale[job.metadata.name] = Stale(actual, covered)
    return stale


def unpark_shared(jobs: list[ReviewJob], parked: list[Parked]) -> tuple[list[ReviewJob], list[Parked]]:
    """Parked reviews of a PR with another active review made whole again: which of them is of a
    stale commit is decided from the PR's reviews together (`stale_reviews`), and GitHub's head is
    asked for such PRs only. A PR with one active review has no stale one."""
    count = Counter(pr_key(job) for job in jobs)
    count.update(p.pr for p in parked)
    shared = [p for p in parked if count[p.pr] > 1]
    if not shared:
        return jobs, parked
    return jobs + [p.model() for p in shared], [p for p in parked if count[p.pr] == 1]


def plan_pass(
    observed: Observed,
    now: datetime,
    settings: ControllerSettings,
    rng: random.Random,
    paused: Pause | None = None,
) -> PassPlan:
    """Every step of a pass, and the queued reviews (in the order they were created) for admission.
    `paused`: why admission is paused, shown on the queued reviews."""
    steps: list[Step] = []
    stale = stale_reviews(observed.jobs, observed.heads, now)
    queued: list[Slot] = []
    for job in observed.jobs:
        name = job.metadata.name
        pod = observed.pods.get(job.status.pod_name or "") if job.status.phase is Phase.RUNNING else None
        step = decide(Seen(job, pod, stale.get(name), paused), now, settings, rng)
        if step is not None:
            steps.append(step)
        if job.status.phase is Phase.QUEUED and (step is None or isinstance(step, Hold)):
            # Oldest first: creation time (then name) keeps its place in line across retries.
            queued.append(Slot(name, job.spec.repository.id, _created(job, now), job.status.next_attempt_at))
    for p in observed.parked:
        if paused is not None and p.reason != paused.reason:
            hold = decide(Seen(p.model(), None, None, paused), now, settings, rng)  # says why it waits
            if hold is not None:
                steps.append(hold)
        queued.append(p.slot(now))
    return PassPlan(steps, queued, set(stale))

"""Pull requests' current heads as GitHub answers them: what decides which review of a PR is stale.

A push's ReviewJob is created when its delivery arrives, and deliveries can arrive late and out of
order (a redelivery of an older push, a replay). So which commit is newest is never decided from
the order ReviewJobs were created in, but from GitHub's answer for the PR's head. It is fetched only
when it matters (two heads of one PR in play; a review about to start) and kept per PR until it is
`ttl` old or a ReviewJob shows a head it was not fetched against (a newer push arrived since).
An answer that cannot be had (GitHub down or slow) is unknown, never guessed: nothing is dropped on
it, and the head check when posting stays the last word.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from review_operator.api.models import ReviewJob
from review_operator.controller.decide.heads import PRKey, job_head, pr_key
from review_operator.controller.engine.clock import SYSTEM_CLOCK, Clock
from review_operator.github import GitHubError, PullRefs

log = logging.getLogger(__name__)

TTL_SECONDS = 30.0
FETCH_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class _Known:
    sha: str
    base: str | None  # the PR's base commit in the same answer
    at: float  # the clock's monotonic seconds when fetched
    seen: frozenset[str]  # the heads of ReviewJobs that existed when it was fetched


class PullHeads:
    """GitHub's answer for each PR's head, cached; one fetch per PR in flight at a time."""

    def __init__(
        self,
        fetch: Callable[[ReviewJob], Awaitable[PullRefs]],
        ttl: float = TTL_SECONDS,
        timeout: float = FETCH_TIMEOUT_SECONDS,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._fetch = fetch
        self.ttl = ttl
        self.timeout = timeout
        self.clock = clock
        self._known: dict[PRKey, _Known] = {}
        self._inflight: dict[PRKey, asyncio.Task[str | None]] = {}

    def cached(self, key: PRKey, in_play: Iterable[str]) -> str | None:
        """The kept answer, if it is young enough and was fetched knowing every head in play."""
        known = self._known.get(key)
        if known is None or self.clock.monotonic() - known.at >= self.ttl or not set(in_play) <= known.seen:
            return None
        return known.sha

    async def current(self, job: ReviewJob, in_play: Iterable[str] = (), fresh: bool = False) -> str | None:
        """The head of `job`'s PR (None when GitHub cannot say now). `in_play`: heads of the PR's
        ReviewJobs known to the caller; a kept answer fetched before one of them existed is refetched."""
        key = pr_key(job)
        heads = set(in_play)
        if (head := job_head(job)) is not None:
            heads.add(head)
        if not fresh and (sha := self.cached(key, heads)) is not None:
            return sha
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.create_task(self._ask(job, key, frozenset(heads)))
            self._inflight[key] = task
            task.add_done_callback(lambda _: self._inflight.pop(key, None))
        return await asyncio.shield(task)

    async def _ask(self, job: ReviewJob, key: PRKey, seen: frozenset[str]) -> str | None:
        try:
            async with asyncio.timeout(self.timeout):
                refs = await self._fetch(job)
        except (GitHubError, TimeoutError) as exc:
            log.warning("head of %s#%d unknown: %s", job.spec.repository.full_name, key[1], exc or "timeout")
            return None
        self._known[key] = _Known(refs.head, refs.base, self.clock.monotonic(), seen)
        return refs.head

    def base_of(self, job: ReviewJob) -> str | None:
        """The PR's base commit from a kept answer (young enough) that gave the head `job` reviews,
        or None: a command's ReviewJob records no base, and the claim has just fetched the head."""
        known = self._known.get(pr_key(job))
        head = job.status.head_sha or job_head(job)
        if known is None or known.sha != head or self.clock.monotonic() - known.at >= self.ttl:
            return None
        return known.base

    async def of_conflicts(self, jobs: Iterable[ReviewJob]) -> dict[PRKey, str]:
        """GitHub's head for every PR with two or more different heads among `jobs` (those it could get)."""
        groups: dict[PRKey, tuple[ReviewJob, set[str]]] = {}
        for job in jobs:
            head = job_head(job)
            if head is not None and not job.status.phase.is_final:
                _, heads = groups.setdefault(pr_key(job), (job, set()))
                heads.add(head)
        conflicts = [(key, first, heads) for key, (first, heads) in groups.items() if len(heads) > 1]
        answers = await asyncio.gather(*(self.current(first, heads) for _, first, heads in conflicts))
        return {key: sha for (key, _, _), sha in zip(conflicts, answers, strict=True) if sha is not None}

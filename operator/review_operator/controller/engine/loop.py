"""The engine: one serialized reconcile loop that executes what the state machine decides.

Every pass reads the cluster (non-final ReviewJobs, review pods), plans, and executes the steps
(one per ReviewJob, so independent of each other) concurrently; the next pass starts when they are
done. A pass runs when something changed that our own writes do not explain (a new ReviewJob, a
spec change, a pod event the fast path cannot settle), when time alone changes something (a
backoff ends, a timeout or deadline is reached), and at least every `resync_seconds` (GC, and a
net for a missed watch event). Only one pass runs at a time, and a claim (status
Running) is written before its pod is created, so the concurrency limits hold at every instant,
across crashes and restarts.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from review_operator.api.models import Phase, ReviewJob
from review_operator.builders.names import LABEL_COMPONENT, LABEL_FINISHED, LABEL_REVIEWJOB
from review_operator.builders.pod import REVIEW_POD_COMPONENT
from review_operator.config import ControllerSettings
from review_operator.controller.decide import checkrun, retention
from review_operator.controller.decide.budget import DAILY_BUDGET_REACHED, day_start, next_day
from review_operator.controller.decide.machine import decide
from review_operator.controller.decide.parked import Parked
from review_operator.controller.decide.plan import Observed, plan_pass, unpark_shared
from review_operator.controller.decide.steps import (
    EnsurePod,
    Pause,
    PodSeen,
    Queue,
    Step,
)
from review_operator.controller.engine.clock import SYSTEM_CLOCK, Clock
from review_operator.controller.engine.effects import Effects
from review_operator.controller.engine.executor import STEP_CONCURRENCY, Executor, describe
from review_operator.controller.engine.heads import PullHeads
from review_operator.controller.engine.ledger import Ledger, phase
from review_operator.controller.engine.model_health import ModelHealth
from review_operator.controller.engine.observer import (
    Active,
    FinishedPage,
    Parsed,
    read_active_page,
    read_finished_page,
)
from review_operator.controller.engine.spending import DailySpend
from review_operator.fence import Fence, NotLeading
from review_operator.github import GitHubClientFactory
from review_operator.k8s import objects
from review_operator.k8s.aio import AsyncKube
from review_operator.k8s.errors import KubeError
from review_operator.metrics import ControllerMetrics

log = logging.getLogger(__name__)

ACTIVE_SELECTOR = f"!{LABEL_FINISHED}"
POD_SELECTOR = f"{LABEL_COMPONENT}={REVIEW_POD_COMPONENT}"
GC_PERIOD = timedelta(seconds=60)
FINISHED_PAGE = 500  # finished ReviewJobs per LIST page (GC and the daily budget)
ACTIVE_PAGE = 500  # active ReviewJobs per LIST page: a backlog is never one body
MIN_PASS_GAP = 0.5
FAILED_PASS_MAX_DELAY = 30.0
DUE_SLACK = 0.2  # seconds past a deadline before the pass that acts on it (the checks are strict)


class Engine:
    def __init__(
        self,
        settings: ControllerSettings,
        kube: AsyncKube,
        metrics: ControllerMetrics,
        *,
        github: GitHubClientFactory | None = None,
        github_api_url: str = "https://api.github.com",
        heads: PullHeads | None = None,
        fence: Fence | None = None,
        clock: Clock = SYSTEM_CLOCK,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.kube = kube
        self.metrics = metrics
        # Wall time (what the decisions compare with the objects' timestamps) and monotonic time (how
        # long to wait: resync periods, gaps between passes): one clock for every part of the engine.
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not security
        # Until when this replica may act (set by the leader Lease; unbounded without election).
        # The same fence guards every write of the API client and of GitHub's clients.
        self.fence = fence or Fence(clock=clock.now)
        # GitHub's heads of PRs with two heads in play decide which reviews are stale (None: no GitHub).
        self.heads = heads
        self.effects = Effects(
            settings,
            kube,
            github,
            metrics,
            clock,
            github_api_url=github_api_url,
            heads=heads,
            on_written=self._written,
            on_key_rejected=self._key_rejected,
        )
        self.executor = Executor(settings, self.effects, self.rng, self.may_act, self.kick, self._is_final)
        self._kicked = asyncio.Event()
        # A kick, or a write that may have brought the next time-based change nearer.
        self._wake = asyncio.Event()
        # When the last pass began (wall time): time-based changes due before it, it has seen.
        self.pass_began_at: datetime | None = None
        self._last_gc = datetime.min.replace(tzinfo=UTC)
        self.passes = 0
        # Claims are decided and written under this lock only: by a pass, or by a refill between passes.
        self._admission = asyncio.Lock()
        self.ledger = Ledger()
        self._refill_due = False
        self._busy: set[str] = set()  # ReviewJobs with a step in flight beside the passes
        # ReviewJobs a pass had a step for but left to the step in flight on them: name → the ledger's
        # write count when that pass read them. See `_let_go`.
        self._left: dict[str, int] = {}
        self.spend = DailySpend(settings.daily_budget_usd)
        self._parsed = Parsed()  # the last pass's ReviewJobs: unchanged ones are not validated again
        # The model key's breaker (and its probe): a rejected key stops admissions until it works.
        self.model = ModelHealth(settings, metrics, self.effects.events, clock, self.kick)

    # -- leadership ----------------------------------------------------------------------------
    def lead_until(self, until: datetime) -> None:
        """Leads (a renewed Lease) until `until`; a new term starts from a fresh read."""
        if not self.fence.holds():
            self.ledger = Ledger()
        self.fence.grant(until)

    def stand_by(self) -> None:
        """Stops acting (leadership lost or not yet won): no write is sent from now on, and work in
        flight beside the passes (posting, refills, pod-event steps) is cancelled. The pass loop
        itself is cancelled by whoever runs it."""
        self.fence.revoke()
        self.ledger = Ledger()
        self.executor.cancel_all()

    def may_act(self) -> bool:
        return self.fence.holds()

    def _is_final(self, name: str) -> bool:
        latest = self.ledger.job(name)
        return latest is not None and phase(latest).is_final

    def kick(self) -> None:
        self._kicked.set()
        self._wake.set()

    # -- the loop ------------------------------------------------------------------------------
    async def run_forever(self) -> None:
        probe = asyncio.create_task(self.model.run(self.may_act))  # the probe runs while we lead
        try:
            await self._passes()
        finally:
            probe.cancel()

    async def _passes(self) -> None:
        failures = 0
        while True:
            await self.wait_for_pass()
            self._kicked.clear()
            began = self.clock.monotonic()
            try:
                await self.reconcile_once()
                failures = 0
            except NotLeading:
                log.info("leadership lapsed during a pass; its work is left to the leader")
            except (KubeError, OSError) as exc:
                # The API server is unreachable or erroring: the next pass retries from cluster state,
                # after 1, 2, 4 ... 30 s (not a resync period later: what failed is still to do).
                log.warning("reconcile pass failed: %s", describe(exc))
                await asyncio.sleep(min(FAILED_PASS_MAX_DELAY, 2.0**failures))
                failures += 1
                self.kick()
            # Pod endings and freed slots are acted on between passes, so a busy cluster need not be
            # re-listed after every event: passes take at most half the time, and leave a gap.
            await asyncio.sleep(max(MIN_PASS_GAP, self.clock.monotonic() - began))

    async def wait_for_pass(self) -> None:
        """Until a pass is asked for, the next time-based change is due (a backoff ending, a pending
        timeout, a deadline, the start cap), or `resync_seconds` have passed. A write that may bring
        that change nearer (a claim, a retry) re-arms the wait."""
        until = self.clock.monotonic() + self.settings.resync_seconds
        while not self._kicked.is_set():
            timeout = until - self.clock.monotonic()
            due = self._due_in()
            if due is not None:
                timeout = min(timeout, due)
            if timeout <= 0:
                return
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                return  # the resync period ended, or the change that was due is

    def _due_in(self) -> float | None:
        """Seconds until the next time-based change no pass has seen yet (a little after it, as the
        checks are strict); zero or less when one came due since the last pass began."""
        if not self.ledger.ready or self.pass_began_at is None:
            return None
        s, now = self.settings, self.clock.now()
        due = self.ledger.next_due(
            self.pass_began_at,
            now,
            s.pending_timeout_seconds,
            s.running_deadline_seconds,
            s.max_starts_per_minute,
        )
        if self.spend.paused(now) is not None:  # the budget opens again at midnight UTC
            due = min(due or next_day(now), next_day(now))
        cooled = self.model.due()  # without a probe, a trial review goes after the cool-down
        if cooled is not None:
            due = min(due or cooled, cooled)
        return None if due is None else (due - now).total_seconds() + DUE_SLACK

    async def observe(self) -> Observed:
        ns = self.settings.namespace
        active = await self._read_active()
        pods = await objects.list_pods(self.kube, ns, POD_SELECTOR)
        jobs, parked = unpark_shared(active.jobs, active.parked)
        heads = None if self.heads is None else await self.heads.of_conflicts(jobs)
        pods_by_name = {p["metadata"]["name"]: p for p in pods}
        return Observed(jobs, pods_by_name, parked, heads, deferred=active.deferred)

    async def _read_active(self) -> Active:
        """Every active ReviewJob, a page of `ACTIVE_PAGE` at a time: one consistent read (the pages
        of a LIST are served at its first page's resourceVersion), never one large body."""
        active, page_after = Active(), ""
        self._parsed.begin()
        while True:
            listed = await objects.list_reviewjobs_json(
                self.kube, self.settings.namespace, ACTIVE_SELECTOR, limit=ACTIVE_PAGE, continue_=page_after
            )
            page_after = await read_active_page(listed, active, self._parsed)
            del listed
            if not page_after:
                break
        await active.take_new()  # a new ReviewJob's model is not kept: our first write changes it
        self._parsed.end()
        return active

    async def reconcile_once(self) -> int:
        """One pass: read, plan, claim and execute; the number of steps it executed."""
        if not self.may_act():
            return 0
        begin = time.perf_counter()
        now = self.clock.now()
        self.pass_began_at = now
        read_seq = self.ledger.seq
        observed = await self.observe()
        self.metrics.pass_seconds.labels("observe").observe(time.perf_counter() - begin)
        if self.spend.enabled:
            self.spend.saw(observed.jobs, now)
            self.spend.saw(observed.parked, now)
            if not self.spend.finished_read:  # before the first admission of a term (or a day)
                await self._read_finished(now)
        paused = self._paused(now)
        planned = plan_pass(observed, now, self.settings, self.rng, paused)
        for job in observed.jobs:  # a running pod shows its review in progress (once: see CheckRuns)
            self.effects.checks.show(job, checkrun.for_pod(job, observed.pods.get(job.status.pod_name or "")))
        async with self._admission:
            self.ledger.reset(observed.jobs, planned.queued, planned.stale, read_seq, now, observed.parked)
            claimed = await self._claim_all(self._admissible(now), now)
        self.effects.observe_queue(observed.jobs, len(observed.parked), observed.deferred)
        self.metrics.slots(len(self.ledger.holders), len(self.ledger.waiting))
        # A job with a step in flight beside the passes (pod event, refill, posting) is left to it, and
        # so is one we wrote since the read began (the read is stale for it; the next pass decides).
        skip = self._busy | set(self.executor.posting) | self.ledger.touched_since(read_seq)
        rest = [s for s in planned.steps if s.job.metadata.name not in skip]
        self._left.update(
            (s.job.metadata.name, read_seq) for s in planned.steps if s.job.metadata.name in self._busy
        )
        # The claimed first: a cold start's hundreds of Queue writes must not stand between a slot
        # and its pod (steps are taken in order by STEP_CONCURRENCY workers).
        steps: deque[Step] = deque([EnsurePod(job) for job in claimed] + rest)
        count, queued_some = len(steps), any(isinstance(step, Queue) for step in rest)
        deferred = observed.deferred
        mine = {step.job.metadata.name for step in steps} - self._busy
        # The read is let go step by step (each is dropped from the deque once executed): on a cold
        # start it is thousands of ReviewJobs, each replaced in the ledger by the version we wrote.
        del observed, planned, rest, claimed
        self._busy |= mine  # no pod-event step on these while the pass works on them
        try:
            await self.executor.execute_all(steps, now, self._step_done)
        finally:
            self._let_go(mine)
        if deferred:
            self.kick()  # more new ReviewJobs than a read takes whole: the next pass takes the next ones
        if queued_some:
            self._schedule_refill()  # the newly queued may start now, not a pass later
            if paused is not None:
                self.kick()  # ... or, admission being paused, the next pass says why on them
        self.passes += 1
        self.metrics.pass_seconds.labels("pass").observe(time.perf_counter() - begin)
        if now - self._last_gc >= GC_PERIOD:
            self._last_gc = now
            await self.collect_garbage(now)
        return count

    def _step_done(self, step: Step) -> None:
        self._let_go({step.job.metadata.name})  # not when its pass (or refill) ends: a pass may read it

    def _let_go(self, names: set[str]) -> None:
        """The steps in flight on `names` are done. A pass that had a step for one of them while it
        was busy left it, yet took what it read into the ledger: a change in that read (a cancel
        mark) is then no news to the watch event that brings it, and nothing would decide on it
        until the resync. Unless the step wrote since (a conditional write succeeds only on the
        version it was decided from, so that read showed nothing newer), a pass decides again now."""
        self._busy -= names
        for name in names & self._left.keys():
            read_seq = self._left.pop(name)
            entry = self.ledger.latest.get(name)
            if entry is not None and entry[0] <= read_seq:
                self.kick()

    # -- admission -----------------------------------------------------------------------------
    def _paused(self, now: datetime) -> Pause | None:
        """Why queued reviews wait whatever the slots: the model key first (nothing would work),
        then the day's budget."""
        key = self.model.pause(now)
        spent = self.spend.paused(now)
        self.metrics.admission_paused.labels("model_key").set(int(key is not None))
        self.metrics.admission_paused.labels("daily_budget").set(int(spent is not None))
        return key or (None if spent is None else Pause(DAILY_BUDGET_REACHED, spent))

    def _admissible(self, now: datetime) -> list[tuple[ReviewJob, int]]:
        if self.spend.paused(now) is not None:
            return []  # the day's budget is spent: nothing starts until midnight UTC
        allowed = self.model.starts_allowed(now)
        if allowed == 0:
            return []  # the model rejected the key: nothing starts until it works again
        s = self.settings
        # Half-open: one trial on top of what runs (the ledger marks what it admits as taken).
        limit = (
            s.max_concurrent if allowed is None else min(s.max_concurrent, len(self.ledger.holders) + allowed)
        )
        jobs = self.ledger.admissible(now, limit, s.max_concurrent_per_repo, s.max_starts_per_minute)
        return [(job, job.status.attempts + 1) for job in jobs]

    async def _claim_all(self, starts: list[tuple[ReviewJob, int]], now: datetime) -> list[ReviewJob]:
        """Writes the claims (callers hold the admission lock); the jobs that now hold a slot."""
        claimed: list[ReviewJob] = []
        pending = iter(starts)

        async def worker() -> None:
            for job, attempt in pending:
                if not self.may_act():
                    continue
                after = await self._claim(job, attempt, now)
                if isinstance(after, ReviewJob):
                    self.ledger.claimed(after, now)
                    self.model.trial_started(after.metadata.name)  # when the breaker is half-open
                    claimed.append(after)

        await asyncio.gather(*(worker() for _ in range(min(STEP_CONCURRENCY, len(starts)))))
        return claimed

    async def _claim(self, job: ReviewJob, attempt: int, now: datetime) -> ReviewJob | None:
        try:
            after = await self.effects.claim(job, attempt, now)
        except NotLeading:
            return None  # not sent: the slot stays free for the leader
        except KubeError as exc:
            if exc.status not in (404, 409):
                self.ledger.claimed(job, now)  # it may have been written: held until the next read
                raise
            log.info("claim of %s skipped: %s", job.metadata.name, describe(exc))
            self.kick()
            return None
        except OSError:
            self.ledger.claimed(job, now)
            raise
        if after is None or isinstance(after, ReviewJob):
            return after
        await self.executor.run(decide(after, now, self.settings, self.rng), now)  # e.g. no head to review
        return None

    def _key_rejected(self, name: str) -> None:
        self.model.review_rejected(name)

    def _written(self, before: ReviewJob, after: ReviewJob) -> None:
        reviewed = after.status.phase is Phase.SUCCEEDED or after.status.posting.result is not None
        self.model.written(after.metadata.name, after.status.phase, reviewed)
        if self.spend.enabled and after.status.spend.attempts:
            now = self.clock.now()
            was_open = self.spend.paused(now) is None
            self.spend.saw([after], now)
            self.metrics.daily_spend.set(self.spend.today(now))
            if was_open and self.spend.paused(now) is not None:
                self.kick()  # the day's budget just ran out: a pass marks the queued reviews
        phase = after.status.phase
        if phase is Phase.RUNNING or (phase is Phase.QUEUED and after.status.next_attempt_at is not None):
            self._wake.set()  # a claim (its timeouts, the start cap) or a retry (its backoff)
        released = self.ledger.written(before, after)
        self.metrics.slots(len(self.ledger.holders), len(self.ledger.waiting))
        if released and len(self.ledger.holders) < self.settings.max_concurrent:
            self._schedule_refill()

    def _schedule_refill(self) -> None:
        """A slot was released: refill it from the ledger now rather than after the next LIST."""
        if self._refill_due:
            return
        self._refill_due = True
        self.effects.lanes.hold()  # from now until its claims are written: slot work
        self.executor.spawn(self._refill(), "refill")

    async def _refill(self) -> None:
        try:
            async with self._admission:
                self._refill_due = False
                if not self.may_act():
                    return
                now = self.clock.now()
                claimed = await self._claim_all(self._admissible(now), now)
                names = {job.metadata.name for job in claimed}
                self._busy |= names
        finally:
            self.effects.lanes.release()
        try:
            await self.executor.execute_all(deque(EnsurePod(job) for job in claimed), now, self._step_done)
        finally:
            self._let_go(names)

    # -- watch events --------------------------------------------------------------------------
    def job_changed(self, event: str | None, body: dict[str, Any]) -> None:
        """A ReviewJob changed: a pass is needed only for what our own writes did not already say."""
        meta = body.get("metadata") or {}
        name, uid = meta.get("name", ""), meta.get("uid")
        if event == "DELETED":
            news = self.ledger.loses_by_deletion(name, uid)
        else:
            news = self.ledger.tells_news(name, int(meta.get("generation") or 0), uid)
        if news:
            self.kick()

    def pod_changed(self, pod: dict[str, Any], deleted: bool = False) -> None:
        """A review pod changed: act on its ending at once if the ledger knows its ReviewJob; a pass
        is asked for only when the event cannot be settled here, or when a review's pod is deleted
        before it ended (node lost, deleted by hand)."""
        if not self.ledger.ready or not self.may_act():
            self.kick()
            return
        meta = pod.get("metadata") or {}
        name = (meta.get("labels") or {}).get(LABEL_REVIEWJOB)
        job = self.ledger.job(name) if name else None
        if isinstance(job, Parked):
            return  # queued: an earlier attempt's pod; nothing for a pod event to decide
        if job is None and (deleted or meta.get("deletionTimestamp")):
            # A finished review's pod on its way out after a pass let the review go (it was labelled
            # finished): nothing for a pass to decide.
            return
        if job is None or name in self.ledger.stale:
            self.kick()
            return
        if name in self.executor.posting:
            return  # its ending is being posted; the pod is on its way out
        now = self.clock.now()
        self.effects.checks.show(job, checkrun.for_pod(job, pod))
        step = decide(PodSeen(job, pod), now, self.settings, self.rng)
        if step is None:
            if deleted and job.status.phase is Phase.RUNNING and job.status.pod_name == meta.get("name"):
                self.kick()  # gone before it ended: the pass finds it missing
            return
        if name in self._busy:
            self.kick()  # a step is in flight for it: the next pass decides from fresh state
            return
        self._busy.add(job.metadata.name)

        async def run() -> None:
            try:
                await self.executor.execute(step, now)
            finally:
                self._let_go({job.metadata.name})

        self.executor.spawn(run(), f"pod-step-{job.metadata.name}")

    async def _finished_pages(self, selector: str, now: datetime) -> AsyncIterator[FinishedPage]:
        """Finished ReviewJobs, a page of `FINISHED_PAGE` at a time: however many there are, they are
        never one body (Python keeps the memory of a large transient body for good)."""
        ttl = timedelta(seconds=self.settings.finished_ttl_seconds)
        page_after = ""
        while True:
            listed = await objects.list_reviewjobs_json(
                self.kube, self.settings.namespace, selector, limit=FINISHED_PAGE, continue_=page_after
            )
            page = read_finished_page(listed, now, day_start(now), ttl)
            del listed
            yield page
            if not page.next:
                return
            page_after = page.next
            await asyncio.sleep(0)

    async def _read_finished(self, now: datetime) -> None:
        """Today's spend of the ReviewJobs that finished today, for the daily budget."""
        spent: dict[str, float] = {}
        for selector in retention.spend_selectors(now):
            async for page in self._finished_pages(selector, now):
                spent.update(page.spent)
        self.spend.saw_finished(spent, now)
        self.metrics.daily_spend.set(self.spend.today(now))

    async def collect_garbage(self, now: datetime) -> None:
        """Deletes finished ReviewJobs older than the TTL (their pods and Secrets go with them); reads
        only the days that can hold them (`decide/retention.py`)."""
        ttl = timedelta(seconds=self.settings.finished_ttl_seconds)
        expired: list[str] = []
        for selector in retention.expiry_selectors(now, ttl):
            async for page in self._finished_pages(selector, now):
                expired += page.expired
        if self.spend.enabled:
            await self._read_finished(now)
        for name in expired:
            await objects.delete_reviewjob(self.kube, self.settings.namespace, name)

"""The slot ledger: who holds a review slot between two observations of the cluster, kept from our
own confirmed writes, so a freed slot can be refilled at once instead of after the next LIST.

Only the leading controller writes claims (Queued → Running) and releases (Running → anything
else), and every write is conditional on the version it was decided from. The ledger starts from a
consistent (quorum) read, then adds each claim and drops each release as it is written. A claim or
release written while the read was under way may or may not be in it, so those are applied again
on top of the read: right either way, because the writes succeeded. A claim whose answer was lost
counts as written. Everything else (a deleted ReviewJob, a write by someone else) can only make the
ledger count a slot too many, never too few, until the next read corrects it. So the limits hold at
every instant, and every admission decision is taken here, under the engine's admission lock.

Pure: no I/O, no clock; the engine feeds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from review_operator.api.models import Phase, ReviewJob
from review_operator.controller.decide.admission import Slot, admit, holds_slot
from review_operator.controller.decide.parked import Parked, park

START_WINDOW = timedelta(minutes=1)


@dataclass
class Ledger:
    holders: dict[str, int] = field(default_factory=dict)  # name → repository id
    queued: list[Slot] = field(default_factory=list)  # candidates left over by the last pass
    stale: set[str] = field(default_factory=set)  # superseded by a newer commit: for the pass only
    taken: set[str] = field(default_factory=set)  # candidates claimed (or tried) since the read
    starts: list[tuple[int, datetime]] = field(default_factory=list)  # (seq, start), for the per-minute cap
    # name → (seq, newest known): whole, or parked (a quiet queued review kept small, `Parked`)
    latest: dict[str, tuple[int, ReviewJob | Parked]] = field(default_factory=dict)
    # name → (seq, holds a slot after it, repository id): our last claim or release of each job
    changes: dict[str, tuple[int, bool, int]] = field(default_factory=dict)
    # Jobs whose newest known version waits on the clock (Running, or Queued with a backoff): the
    # only ones `next_due` looks at, as it runs after every claim and a backlog can be thousands.
    timed: set[str] = field(default_factory=set)
    waiting: set[str] = field(default_factory=set)  # Pending or Queued, as last known
    seq: int = 0  # counts confirmed writes
    ready: bool = False  # a read has been taken since this replica started leading

    def reset(
        self,
        jobs: list[ReviewJob],
        queued: list[Slot],
        stale: set[str],
        read_seq: int,
        now: datetime,
        parked: list[Parked] | None = None,
    ) -> None:
        """Starts over from a consistent read that began when `seq` was `read_seq` (its whole
        ReviewJobs and its parked ones)."""
        parked = parked or []
        self.holders = {j.metadata.name: j.spec.repository.id for j in jobs if holds_slot(j)}
        # Claims and releases written since the read began may be missing from it: apply them again.
        self.changes = {n: c for n, c in self.changes.items() if c[0] > read_seq}
        for name, (_, holds, repo) in self.changes.items():
            if holds:
                self.holders[name] = repo
            else:
                self.holders.pop(name, None)
        newer = {n: v for n, v in self.latest.items() if v[0] > read_seq}
        self.latest = {j.metadata.name: (read_seq, j) for j in jobs}
        self.latest.update((p.name, (read_seq, p)) for p in parked)
        self.latest.update(newer)
        self.timed = {name for name, (_, job) in self.latest.items() if _waits_on_clock(job)}
        self.waiting = {name for name, (_, job) in self.latest.items() if _waiting(job)}
        self.queued = list(queued)
        self.stale = set(stale)
        self.taken = set()
        started = [j.status.start_time for j in jobs] + [p.start_time for p in parked]
        observed_starts = [(read_seq, at) for at in started if at is not None and now - at < START_WINDOW]
        self.starts = observed_starts + [(seq, at) for seq, at in self.starts if seq > read_seq]
        self.ready = True

    def written(self, before: ReviewJob, after: ReviewJob) -> bool:
        """Records a confirmed status write; True when it may let a queued review start: it released
        a slot, or it queued a review (on a cold start every review is Pending, and the first ones
        queued need not wait for all the others to be queued before they start)."""
        self.seq += 1
        name, repo = after.metadata.name, after.spec.repository.id
        # A review we queued is kept parked too: a cold start queues a whole backlog at once.
        self.latest[name] = (self.seq, park(after) or after)
        if _waits_on_clock(after):
            self.timed.add(name)
        else:
            self.timed.discard(name)
        if _waiting(after):
            self.waiting.add(name)
        else:
            self.waiting.discard(name)
        was, now_running = holds_slot(before), holds_slot(after)
        if was and not now_running:
            self.changes[name] = (self.seq, False, repo)
            self.holders.pop(name, None)
            return True
        if now_running and not was:
            self.changes[name] = (self.seq, True, repo)
            self.holders[name] = repo
        elif before.status.phase is Phase.PENDING and after.status.phase is Phase.QUEUED:
            created = after.metadata.creation_timestamp or after.status.queued_at
            if created is not None and name not in self.stale:
                self.queued.append(Slot(name, repo, created, after.status.next_attempt_at))
                return True
        return False

    def claimed(self, job: ReviewJob, now: datetime) -> None:
        """A claim was written, or may have been (an error after sending it): it holds a slot."""
        self.seq += 1
        self.changes[job.metadata.name] = (self.seq, True, job.spec.repository.id)
        self.holders[job.metadata.name] = job.spec.repository.id
        self.starts.append((self.seq, now))

    def admissible(
        self, now: datetime, max_concurrent: int, max_per_repo: int, max_per_minute: int
    ) -> list[ReviewJob]:
        """Queued reviews that may start now under the limits, in start order."""
        if not self.ready:
            return []
        running = [Slot(name, repo, now) for name, repo in self.holders.items()]
        waiting = [
            s
            for s in self.queued
            if s.name not in self.taken and s.name not in self.holders and self._still_queued(s.name)
        ]
        starts_left = None
        if max_per_minute:
            starts_left = max(0, max_per_minute - sum(1 for _, t in self.starts if now - t < START_WINDOW))
        names = admit(running, waiting, now, max_concurrent, max_per_repo, starts_left)
        self.taken.update(names)
        return [whole(self.latest[n][1]) for n in names if n in self.latest]

    def next_due(
        self,
        after: datetime,
        now: datetime,
        pending_timeout_s: float,
        running_deadline_s: float,
        max_per_minute: int,
    ) -> datetime | None:
        """The earliest moment later than `after` (when the last pass began) when time alone changes
        what a pass would do: a retry's backoff (or a delayed post's wait) ends, a running attempt
        reaches its pending timeout or its deadline, or the per-minute start cap lets another
        review start. It may be before
        `now`: a backoff written after that pass can end before anyone looks again. None when
        nothing is waiting on the clock."""
        due: list[datetime] = []
        for name in self.timed:
            entry = self.latest[name][1]
            if isinstance(entry, Parked):
                if entry.next_attempt_at is not None:
                    due.append(entry.next_attempt_at)
                continue
            status = entry.status
            if status.phase is Phase.QUEUED and status.next_attempt_at is not None:
                due.append(status.next_attempt_at)
            elif status.phase is Phase.RUNNING and status.posting.result is not None:
                if status.posting.next_attempt_at is not None:
                    due.append(status.posting.next_attempt_at)
            elif status.phase is Phase.RUNNING and status.start_time is not None:
                due += [
                    status.start_time + timedelta(seconds=s) for s in (pending_timeout_s, running_deadline_s)
                ]
        recent = [at for _, at in self.starts if now - at < START_WINDOW]
        if max_per_minute and len(recent) >= max_per_minute:
            due.append(min(recent) + START_WINDOW)
        return min((at for at in due if at > after), default=None)

    def touched_since(self, read_seq: int) -> set[str]:
        """Jobs we wrote after a read began: that read is stale for them."""
        return {name for name, (seq, _) in self.latest.items() if seq > read_seq}

    def _still_queued(self, name: str) -> bool:
        """Whether the newest version we know is still Queued. A read can be older than our own
        writes: a job it saw Queued may since have been claimed and finished by us, and claiming it
        again (with the version we wrote last) would succeed and run a finished review twice."""
        entry = self.latest.get(name)
        return entry is not None and phase(entry[1]) is Phase.QUEUED

    def tells_news(self, name: str, generation: int, uid: str | None = None) -> bool:
        """Whether a watch event on a ReviewJob may show something this ledger does not know: a job
        it has not seen (by name, or a new object under a known name: the webhook replaced a
        cancelled one), or a new spec (a higher generation: a cancel mark, an edit). Status and
        label changes are our own writes, already recorded (only the leading controller makes them)."""
        if not self.ready:
            return True
        entry = self.latest.get(name)
        if entry is None or (uid is not None and uid != _uid(entry[1])):
            return True
        return generation > _generation(entry[1])

    def loses_by_deletion(self, name: str, uid: str | None = None) -> bool:
        """Whether a ReviewJob's leaving the watch (deleted, or out of the active selector) may change
        what this ledger counts: it knows that very object as not yet final. A job it let go or saw
        finish (our cleanup then labels it finished, which the API server reports as a DELETED event
        carrying the object as it was before the label), or an older object under a reused name,
        changes nothing."""
        if not self.ready:
            return True
        entry = self.latest.get(name)
        if entry is None or (uid is not None and uid != _uid(entry[1])):
            return False
        return not phase(entry[1]).is_final

    def job(self, name: str) -> ReviewJob | Parked | None:
        """The newest version we know (parked if it is a quiet queued review)."""
        entry = self.latest.get(name)
        return entry[1] if entry else None


def whole(entry: ReviewJob | Parked) -> ReviewJob:
    return entry.model() if isinstance(entry, Parked) else entry


def phase(entry: ReviewJob | Parked) -> Phase:
    return entry.phase if isinstance(entry, Parked) else entry.status.phase


def _uid(entry: ReviewJob | Parked) -> str:
    return entry.uid if isinstance(entry, Parked) else entry.metadata.uid


def _generation(entry: ReviewJob | Parked) -> int:
    return entry.generation if isinstance(entry, Parked) else entry.metadata.generation


def _waits_on_clock(job: ReviewJob | Parked) -> bool:
    if isinstance(job, Parked):
        return job.next_attempt_at is not None
    status = job.status
    return status.phase is Phase.RUNNING or (
        status.phase is Phase.QUEUED and status.next_attempt_at is not None
    )


def _waiting(job: ReviewJob | Parked) -> bool:
    return phase(job) in (Phase.PENDING, Phase.QUEUED)

"""The slot ledger: admission between two reads of the cluster never counts a slot too few."""

from __future__ import annotations

from datetime import datetime, timedelta

from review_operator.api.models import Phase, ReviewJob
from review_operator.controller.decide.admission import Slot
from review_operator.controller.engine.ledger import Ledger
from tests.factories import T0
from tests.factories import reviewjob as job


def slot(j: ReviewJob) -> Slot:
    assert j.metadata.creation_timestamp is not None
    return Slot(j.metadata.name, j.spec.repository.id, j.metadata.creation_timestamp)


def admit(ledger: Ledger, max_concurrent: int = 2, per_repo: int = 2, per_minute: int = 0) -> list[str]:
    return [j.metadata.name for j in ledger.admissible(T0, max_concurrent, per_repo, per_minute)]


def test_nothing_is_admitted_before_the_first_read() -> None:
    assert admit(Ledger()) == []


def test_a_release_refills_the_slot_with_the_oldest_waiting_review() -> None:
    running = [job("r1", Phase.RUNNING), job("r2", Phase.RUNNING)]
    waiting = [job("q2", Phase.QUEUED, created=2), job("q1", Phase.QUEUED, created=1)]
    ledger = Ledger()
    ledger.reset(running + waiting, [slot(j) for j in waiting], set(), ledger.seq, T0)
    assert admit(ledger) == []
    ledger.written(running[0], job("r1", Phase.SUCCEEDED, rv=2))
    assert admit(ledger) == ["q1"]
    assert admit(ledger) == ["q2"]  # q1 was offered once; its claim was never written
    ledger.claimed(waiting[0], T0)
    assert admit(ledger) == []


def test_a_claim_counts_at_once_and_a_lost_answer_counts_too() -> None:
    waiting = [job(f"q{i}", Phase.QUEUED, created=i) for i in range(3)]
    ledger = Ledger()
    ledger.reset(waiting, [slot(j) for j in waiting], set(), ledger.seq, T0)
    first = admit(ledger, max_concurrent=2)
    assert first == ["q0", "q1"]
    ledger.written(waiting[0], job("q0", Phase.RUNNING, rv=2))
    ledger.claimed(waiting[1], T0)  # the claim's answer was lost: it may hold a slot
    assert admit(ledger, max_concurrent=3, per_repo=3) == ["q2"]
    assert ledger.holders == {"q0": 1, "q1": 1}


def test_writes_during_a_read_are_applied_again_on_top_of_it() -> None:
    ledger = Ledger()
    r1, q1 = job("r1", Phase.RUNNING), job("q1", Phase.QUEUED, created=1)
    ledger.reset([r1, q1], [slot(q1)], set(), ledger.seq, T0)
    read_seq = ledger.seq  # a new read starts here ...
    ledger.written(q1, job("q1", Phase.RUNNING, rv=2))  # ... a claim lands while it runs ...
    ledger.written(r1, job("r1", Phase.FAILED, rv=2))  # ... and a release
    # The read saw neither: r1 still Running, q1 still Queued.
    ledger.reset([r1, q1], [slot(q1)], set(), read_seq, T0)
    assert ledger.holders == {"q1": 1}
    assert admit(ledger, max_concurrent=1) == []


def test_a_later_read_supersedes_older_writes() -> None:
    ledger = Ledger()
    r1 = job("r1", Phase.RUNNING)
    ledger.reset([r1], [], set(), ledger.seq, T0)
    ledger.written(r1, job("r1", Phase.QUEUED, rv=2))  # a retry released it
    read_seq = ledger.seq
    again = job("r1", Phase.RUNNING, rv=3)  # and the read says it runs again (a newer claim)
    ledger.reset([again], [], set(), read_seq, T0)
    assert ledger.holders == {"r1": 1}


def test_per_repository_limit_and_start_rate_hold_between_reads() -> None:
    waiting = [job("a1", Phase.QUEUED, repo_id=1, created=1), job("a2", Phase.QUEUED, repo_id=1, created=2)]
    waiting.append(job("b1", Phase.QUEUED, repo_id=2, created=3))
    ledger = Ledger()
    ledger.reset(waiting, [slot(j) for j in waiting], set(), ledger.seq, T0)
    assert admit(ledger, max_concurrent=5, per_repo=1) == ["a1", "b1"]
    a1 = job("a1", Phase.RUNNING, repo_id=1, created=1, rv=2)
    ledger.written(waiting[0], a1)
    ledger.claimed(waiting[2], T0)
    ledger.starts.append((ledger.seq, T0))  # a1's start
    ledger.written(a1, job("a1", Phase.SUCCEEDED, repo_id=1, created=1, rv=3))
    assert ledger.holders == {"b1": 2}
    assert admit(ledger, max_concurrent=5, per_repo=1, per_minute=2) == []  # two starts this minute
    assert admit(ledger, max_concurrent=5, per_repo=1, per_minute=3) == ["a2"]


def test_newly_queued_reviews_become_candidates() -> None:
    ledger = Ledger()
    pending = job("p1", Phase.PENDING, created=1)
    ledger.reset([pending], [], set(), ledger.seq, T0)
    assert admit(ledger) == []
    assert ledger.written(pending, job("p1", Phase.QUEUED, created=1, rv=2))  # a refill is due
    assert admit(ledger) == ["p1"]
    assert not ledger.written(job("p1", Phase.QUEUED), job("p1", Phase.QUEUED, rv=3))


def test_a_review_finished_since_a_stale_read_is_never_offered_again() -> None:
    """The read saw q1 Queued; before the ledger was reset from it, we claimed and finished q1."""
    ledger = Ledger()
    q1 = job("q1", Phase.QUEUED, created=1)
    read_seq = ledger.seq
    running = job("q1", Phase.RUNNING, created=1, rv=2)
    ledger.written(q1, running)
    ledger.written(running, job("q1", Phase.SUCCEEDED, created=1, rv=3))
    ledger.reset([q1], [slot(q1)], set(), read_seq, T0)
    assert ledger.holders == {}
    assert admit(ledger) == []


def test_only_unknown_jobs_and_new_specs_are_news() -> None:
    """Our own status and label writes come back as watch events; they must not ask for a pass."""
    ledger = Ledger()
    assert ledger.tells_news("q1", 1)  # no read yet: everything is news
    q1 = job("q1", Phase.QUEUED, created=1)
    q1.metadata.generation = 1
    ledger.reset([q1], [slot(q1)], set(), ledger.seq, T0)
    assert not ledger.tells_news("q1", 1)  # a status or label change: we wrote it
    assert ledger.tells_news("q1", 2)  # a spec change (a cancel mark): someone else wrote it
    assert ledger.tells_news("new", 1)  # created since the read
    # The webhook replaced a cancelled ReviewJob: same name, generation 1, a new object.
    known = ledger.job("q1")
    assert known is not None and not ledger.tells_news("q1", 1, known.metadata.uid)
    assert ledger.tells_news("q1", 1, "another-uid")
    running = job("q1", Phase.RUNNING, created=1, rv=2)
    running.metadata.generation = 1
    ledger.written(q1, running)
    assert not ledger.tells_news("q1", 1)


def due(
    ledger: Ledger, now: datetime = T0, per_minute: int = 0, last_pass: datetime | None = None
) -> datetime | None:
    return ledger.next_due(
        last_pass or now, now, pending_timeout_s=60, running_deadline_s=600, max_per_minute=per_minute
    )


def test_nothing_is_due_when_nothing_waits_on_the_clock() -> None:
    ledger = Ledger()
    ledger.reset([job("q1", Phase.QUEUED), job("d1", Phase.SUCCEEDED)], [], set(), ledger.seq, T0)
    assert due(ledger) is None


def test_the_earliest_backoff_end_pending_timeout_or_deadline_is_due() -> None:
    backing_off = job("q1", Phase.QUEUED, nextAttemptAt=(T0 + timedelta(seconds=90)).isoformat())
    running = job("r1", Phase.RUNNING, startTime=(T0 - timedelta(seconds=20)).isoformat())
    ledger = Ledger()
    ledger.reset([backing_off, running], [], set(), ledger.seq, T0)
    assert due(ledger) == T0 + timedelta(seconds=40)  # r1's pending timeout: started 20 s ago, 60 s
    # Past the pending timeout, the backoff's end comes first, then r1's deadline.
    assert due(ledger, T0 + timedelta(seconds=41)) == T0 + timedelta(seconds=90)
    assert due(ledger, T0 + timedelta(seconds=91)) == T0 + timedelta(seconds=580)
    assert due(ledger, T0 + timedelta(seconds=581)) is None


def test_a_write_moves_what_is_due() -> None:
    running = job("r1", Phase.RUNNING, startTime=T0.isoformat())
    ledger = Ledger()
    ledger.reset([running], [], set(), ledger.seq, T0)
    assert due(ledger) == T0 + timedelta(seconds=60)
    retried = job("r1", Phase.QUEUED, rv=2, nextAttemptAt=(T0 + timedelta(seconds=5)).isoformat())
    ledger.written(running, retried)
    assert due(ledger) == T0 + timedelta(seconds=5)
    ledger.written(retried, job("r1", Phase.CANCELLED, rv=3))  # nothing of it waits on the clock now
    assert due(ledger) is None


def test_the_start_cap_is_due_to_lift_a_minute_after_the_oldest_start_in_the_window() -> None:
    waiting = [job(f"q{i}", Phase.QUEUED, created=i) for i in range(3)]
    ledger = Ledger()
    ledger.reset(waiting, [slot(j) for j in waiting], set(), ledger.seq, T0)
    ledger.claimed(waiting[0], T0)
    assert due(ledger, per_minute=2) is None  # one start of two allowed: not capped
    ledger.claimed(waiting[1], T0 + timedelta(seconds=10))
    assert due(ledger, T0 + timedelta(seconds=10), per_minute=2) == T0 + timedelta(seconds=60)


def test_a_backoff_that_ended_since_the_last_pass_is_due_at_once() -> None:
    """A retry written between two passes whose backoff is over before the wait is computed: the
    review must not wait for the resync period."""
    running = job("r1", Phase.RUNNING, startTime=T0.isoformat())
    ledger = Ledger()
    ledger.reset([running], [], set(), ledger.seq, T0)
    ended = T0 + timedelta(seconds=1)
    ledger.written(running, job("r1", Phase.QUEUED, rv=2, nextAttemptAt=ended.isoformat()))
    now = T0 + timedelta(seconds=2)
    assert due(ledger, now, last_pass=T0) == ended  # before now: a pass is due at once
    assert due(ledger, now, last_pass=now) is None  # that pass has seen it

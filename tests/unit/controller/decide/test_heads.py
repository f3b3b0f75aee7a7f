"""Which review of a PR is stale is decided by GitHub's head, never by creation order (issue 17
items 5 and 13): a late redelivery of an older push cannot displace the newer review, a replayed
delivery of an old head ends before its pod, and a repeated `/review` of a reviewed head costs nothing."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from review_operator.api.models import Phase, ReviewJob
from review_operator.api.reasons import Reason
from review_operator.config import ControllerSettings
from review_operator.controller.decide.machine import start_check
from review_operator.controller.decide.plan import Observed, plan_pass, stale_reviews
from review_operator.controller.decide.steps import Finish, Step
from tests.factories import T0, reviewjob

S1, S2, S3 = "1" * 40, "2" * 40, "3" * 40
PR = (1, 1)


def plan(observed: Observed, now: datetime, settings: ControllerSettings, rng: random.Random) -> list[Step]:
    return plan_pass(observed, now, settings, rng).steps


def push(name: str, sha: str, created: int, phase: Phase | None = None, **status: Any) -> ReviewJob:
    return reviewjob(name, phase, created=created, sha=sha, **status)


def command(
    name: str, head: str | None, created: int, phase: Phase | None = None, force: bool = False
) -> ReviewJob:
    status: dict[str, Any] = {"headSha": head} if head else {}
    job = reviewjob(name, phase, created=created, **status)
    body = job.model_dump(mode="json", by_alias=True, exclude_none=True)
    del body["spec"]["pullRequest"]["headSha"]
    body["spec"]["trigger"] = {
        "event": "issue_comment",
        "sender": "dev",
        "commentId": created + 1,
        "force": force,
    }
    return ReviewJob.model_validate(body)


def test_a_late_redelivery_of_an_older_push_never_displaces_the_newer_review() -> None:
    newer = push("s2", S2, created=1, phase=Phase.RUNNING, attempts=1, podName="s2-a1")
    late = push("s1", S1, created=5, phase=Phase.QUEUED)  # S1's delivery arrived after S2's
    # By creation order (what the controller did before) the review of the PR's head would go:
    assert set(stale_reviews([newer, late], None, T0)) == {"s2"}
    stale = stale_reviews([newer, late], {PR: S2}, T0)
    assert set(stale) == {"s1"}
    assert stale["s1"].covered
    steps = plan(Observed([newer, late], heads={PR: S2}), T0, ControllerSettings(), random.Random(0))
    ends = [s for s in steps if isinstance(s, Finish)]
    assert [(s.job.metadata.name, s.phase, s.reason, s.note_on_pr) for s in ends] == [
        ("s1", Phase.SUPERSEDED, Reason.SUPERSEDED, False)
    ]


def test_reviews_of_heads_that_are_no_longer_the_prs_end_with_a_note_when_nothing_covers_the_head() -> None:
    jobs = [push("s1", S1, 0, Phase.QUEUED), push("s2", S2, 1, Phase.QUEUED)]
    steps = plan(Observed(jobs, heads={PR: S3}), T0, ControllerSettings(), random.Random(0))
    ends = sorted((s for s in steps if isinstance(s, Finish)), key=lambda s: s.job.metadata.name)
    assert [(s.job.metadata.name, s.reason, s.note_on_pr) for s in ends] == [
        ("s1", Reason.HEAD_MOVED, True),
        ("s2", Reason.HEAD_MOVED, True),
    ]
    assert "/review" in ends[0].message
    # A `/review` waiting to start will review the head: it covers it, so no note.
    waiting = command("c", None, 2, Phase.QUEUED)
    stale = stale_reviews([*jobs, waiting], {PR: S3}, T0)
    assert stale["s1"].covered and stale["s2"].covered and "c" not in stale


def test_an_unknown_head_drops_nothing() -> None:
    jobs = [push("s1", S1, 0, Phase.QUEUED), push("s2", S2, 1, Phase.QUEUED)]
    assert stale_reviews(jobs, {}, T0) == {}


def test_a_replayed_delivery_of_an_old_head_ends_before_its_pod() -> None:
    replay = push("s1", S1, 9, Phase.RUNNING, attempts=1)
    done = start_check(replay, S2, [push("s2", S2, 1, Phase.SUCCEEDED)])
    assert done is not None
    assert (done.phase, done.reason, done.note_on_pr) == (Phase.SUPERSEDED, Reason.HEAD_MOVED, True)
    covered = start_check(replay, S2, [push("s2", S2, 1, Phase.RUNNING)])
    assert covered is not None and (covered.reason, covered.note_on_pr) == (Reason.SUPERSEDED, False)
    assert start_check(replay, S1, []) is None  # still the head: it runs
    assert start_check(replay, None, []) is None  # GitHub could not say: it runs (posting checks again)


def test_a_repeated_review_command_of_a_reviewed_or_queued_head_ends_at_once_unless_forced() -> None:
    again = command("c2", S2, 9, Phase.RUNNING)
    for phase in (Phase.QUEUED, Phase.RUNNING, Phase.SUCCEEDED):
        done = start_check(again, S2, [push("s2", S2, 1, phase)])
        assert done is not None, phase
        assert (done.phase, done.reason) == (Phase.SUPERSEDED, Reason.ALREADY_REVIEWED)
        assert "s2" in done.message and "/review force" in done.message
    # A failed review, another head, or `force` do not count.
    assert start_check(again, S2, [push("s2", S2, 1, Phase.FAILED)]) is None
    assert start_check(again, S2, [push("s1", S1, 1, Phase.SUCCEEDED)]) is None
    forced = command("c3", S2, 9, Phase.RUNNING, force=True)
    assert start_check(forced, S2, [push("s2", S2, 1, Phase.SUCCEEDED)]) is None


def test_of_two_commands_for_one_head_exactly_one_runs() -> None:
    first, second = command("c1", S2, 3, Phase.RUNNING), command("c2", S2, 3, Phase.RUNNING)
    verdicts = [start_check(first, S2, [second]), start_check(second, S2, [first])]
    assert [v is None for v in verdicts] == [True, False]

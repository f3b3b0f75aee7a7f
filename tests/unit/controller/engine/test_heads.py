"""GitHub's answer for each PR's head, kept per PR (engine/heads.py): one fetch per PR at a time,
asked again when a new head appears or the answer ages; unknown when GitHub cannot say.

On fake time (`looptime`): the kept answers age on the event loop's clock."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from review_operator.api.models import Phase, ReviewJob
from review_operator.controller.engine.heads import PullHeads
from review_operator.github import PullRefs, Transient
from tests.factories import reviewjob
from tests.fakes.clock import FAKE_TIME, LoopClock

pytestmark = FAKE_TIME
CLOCK = LoopClock()
S1, S2, S3 = "1" * 40, "2" * 40, "3" * 40
BASE = "b" * 40
PR = (1, 1)


def push(name: str, sha: str, created: int, phase: Phase | None = None, **status: Any) -> ReviewJob:
    return reviewjob(name, phase, created=created, sha=sha, **status)


async def test_heads_are_kept_per_pr_and_asked_again_when_a_new_head_appears_or_they_age() -> None:
    answers = [S2, S3]
    asked: list[str] = []

    async def fetch(job: ReviewJob) -> PullRefs:
        asked.append(job.metadata.name)
        await asyncio.sleep(0.01)
        return PullRefs(answers[0], BASE)

    heads = PullHeads(fetch, ttl=30, clock=CLOCK)
    s2 = push("s2", S2, 1)
    # Concurrent askers share one fetch.
    got = await asyncio.gather(heads.current(s2), heads.current(s2))
    assert got == [S2, S2] and len(asked) == 1
    assert await heads.current(s2) == S2 and len(asked) == 1  # kept
    answers[0] = S3
    assert await heads.current(push("s3", S3, 2)) == S3 and len(asked) == 2  # a head it never saw
    await asyncio.sleep(31)
    assert await heads.current(s2) == S3 and len(asked) == 3  # aged out
    assert await heads.current(s2, fresh=True) == S3 and len(asked) == 4
    assert await heads.of_conflicts([push("a", S1, 0, Phase.QUEUED), s2]) == {PR: S3}
    assert await heads.of_conflicts([s2]) == {}  # one head in play: nothing to ask


async def test_a_head_github_cannot_give_is_unknown() -> None:
    async def fetch(job: ReviewJob) -> PullRefs:
        raise Transient("GitHub: HTTP 502")

    async def slow(job: ReviewJob) -> PullRefs:
        await asyncio.sleep(5)
        return PullRefs(S1, BASE)

    assert await PullHeads(fetch, clock=CLOCK).current(push("s1", S1, 0)) is None
    began = CLOCK.monotonic()
    assert await PullHeads(slow, timeout=0.05, clock=CLOCK).current(push("s1", S1, 0)) is None
    assert CLOCK.monotonic() - began == pytest.approx(0.05)  # given up at the timeout, not waited out


async def test_the_base_of_the_answer_that_gave_a_head_is_kept_with_it() -> None:
    answers = [PullRefs(S2, BASE)]

    async def fetch(job: ReviewJob) -> PullRefs:
        return answers[0]

    heads = PullHeads(fetch, ttl=30, clock=CLOCK)
    s2 = push("s2", S2, 1)
    assert heads.base_of(s2) is None  # nothing asked yet
    await heads.current(s2)
    assert heads.base_of(s2) == BASE
    assert heads.base_of(push("s1", S1, 0)) is None  # kept with another head than this review's
    await asyncio.sleep(31)
    assert heads.base_of(s2) is None  # aged out: asked again rather than trusted
    answers[0] = PullRefs(S3, BASE)
    await heads.current(s2, fresh=True)
    assert heads.base_of(s2) is None  # the PR moved on: that base was not S2's

"""What incremental reviews ask GitHub (issue 20 item 2), against the double: the head of our own last
review on the PR (never someone else's), and how it relates to a new head (GitHub's compare)."""

from __future__ import annotations

import pytest

from review_operator.api.models import ScopeMode
from review_operator.api.result import ResultOutcome, ReviewResult
from review_operator.controller.engine.scope import review_scope
from review_operator.github import compare_status, last_reviewed_head, make_github, post_review
from review_operator.github.format import review_marker
from tests.github_double import fixtures
from tests.github_double.fixtures import World, make_job, settings_for
from tests.github_double.git import commit_on

pytestmark = pytest.mark.integration
openapi, app_key, world = fixtures.openapi, fixtures.app_key, fixtures.world


def _client(world: World):  # type: ignore[no-untyped-def]
    return make_github(settings_for(world)).for_job(make_job(world))


async def test_the_head_of_our_newest_review_counts_and_nobody_elses(world: World) -> None:
    gh, job = _client(world), make_job(world)
    assert await last_reviewed_head(gh, job) is None
    ok = ReviewResult(outcome=ResultOutcome.SUCCESS, summary="ok")
    await post_review(gh, job, ok, head_sha=world.pull.head_sha)
    assert await last_reviewed_head(gh, job) == world.pull.head_sha
    # Someone else pasting our marker on a review of another commit does not move it.
    forged = dict(world.pull.reviews[0], id=99, commit_id="9" * 40, body=review_marker("rj-other"))
    forged["user"] = dict(forged["user"], login="mallory", type="User")
    world.pull.reviews.append(forged)
    assert await last_reviewed_head(gh, job) == world.pull.head_sha


async def test_compare_says_ahead_for_a_push_diverged_for_a_force_push_and_nothing_for_a_gone_commit(
    world: World,
) -> None:
    gh, job, built = _client(world), make_job(world), world.built
    pushed = commit_on(built.bare, built.head_sha, {"app.py": "print('second push')\n"}, "push", "feature")
    rewritten = commit_on(built.bare, built.base_sha, {"app.py": "print('rewritten')\n"}, "force", "feature")
    assert await compare_status(gh, job, built.head_sha, pushed) == "ahead"
    assert await compare_status(gh, job, pushed, built.head_sha) == "behind"
    assert await compare_status(gh, job, pushed, rewritten) == "diverged"
    assert await compare_status(gh, job, pushed, pushed) == "identical"
    assert await compare_status(gh, job, "0" * 40, pushed) is None
    # The double's answers are what GitHub's description says this endpoint answers.
    template = "/repos/{owner}/{repo}/compare/{base}...{head}"
    for call in world.double.calls("GET", "/compare/"):
        assert call.status in (200, 404)
    resp = await gh.github.arequest("GET", f"/repos/octo-org/hello-world/compare/{built.head_sha}...{pushed}")
    assert world.double.openapi.validate_response("GET", template, "200", resp.json()) == []
    assert [c["sha"] for c in resp.json()["commits"]] == [pushed]


async def test_the_scope_follows_our_last_review_through_a_push_and_a_force_push(world: World) -> None:
    factory, job, built = make_github(settings_for(world)), make_job(world), world.built
    first = await review_scope(factory, job, True)
    assert (first.mode, first.reason) == (ScopeMode.FULL, "FirstReview")
    ok = ReviewResult(outcome=ResultOutcome.SUCCESS, summary="ok")
    await post_review(factory.for_job(job), job, ok, head_sha=built.head_sha)
    pushed = commit_on(built.bare, built.head_sha, {"app.py": "print('second push')\n"}, "push", "feature")
    world.pull.head_sha = pushed
    second = await review_scope(factory, make_job(world, name="rj-second"), True)
    assert (second.mode, second.since, second.reason) == (
        ScopeMode.INCREMENTAL,
        built.head_sha,
        "Incremental",
    )
    rewritten = commit_on(built.bare, built.base_sha, {"app.py": "print('rewritten')\n"}, "force", "feature")
    world.pull.head_sha = rewritten
    forced = await review_scope(factory, make_job(world, name="rj-forced"), True)
    assert (forced.mode, forced.since, forced.reason) == (ScopeMode.FULL, None, "ForcePushed")
    off = await review_scope(factory, make_job(world, name="rj-off"), False)
    assert (off.mode, off.reason) == (ScopeMode.FULL, "Disabled")

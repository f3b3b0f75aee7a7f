"""Our earlier review threads against the GitHub double's GraphQL API (issue 20, items 2 and 4): a new
review resolves the threads of findings it no longer reports, carries over (lists in the summary) the
open ones on lines an incremental review did not see change, and never touches anyone else's thread."""

from __future__ import annotations

from typing import Any

import pytest
from githubkit.exception import GraphQLFailed

from review_operator.api.models import ReviewJob
from review_operator.api.result import Finding, ResultOutcome, ReviewResult, Severity, Side
from review_operator.github import PostStatus, make_github, post_review
from review_operator.github.auth import RepoClient
from review_operator.github.format import finding_marker
from review_operator.github.threads import fetch_threads
from tests.github_double import fixtures
from tests.github_double.fixtures import HEAD_FILES, World, make_job, settings_for
from tests.github_double.git import commit_on, pull_files
from tests.github_double.graphql import node_id

pytestmark = pytest.mark.integration
openapi, app_key, world = fixtures.openapi, fixtures.app_key, fixtures.world

CHANGED = Finding(path="app.py", line=10, severity=Severity.HIGH, title="Changed line", body="Check this.")
ADDED = Finding(path="app.py", line=31, severity=Severity.LOW, title="Added line", body="Nit.")
REMOVED = Finding(path="docs/guide.md", line=3, side=Side.LEFT, title="Removed text", body="Why?")


def result(findings: list[Finding], since: str = "") -> ReviewResult:
    return ReviewResult(outcome=ResultOutcome.SUCCESS, summary="ok", findings=findings, since_sha=since)


def client(world: World, job: ReviewJob) -> RepoClient:
    return make_github(settings_for(world)).for_job(job)


def job_of(world: World, name: str) -> ReviewJob:
    job = make_job(world, name=name)
    job.spec.pull_request.head_sha = world.pull.head_sha
    return job


def someone_elses_threads(world: World) -> list[int]:
    """Threads started by a person and by another App, each pasting our marker of CHANGED: neither is ours."""
    ids = []
    for user in (
        {"login": "octocat", "id": 1, "type": "User"},
        {"login": "other[bot]", "id": 7, "type": "Bot"},
    ):
        comment_id = world.double.next_id()
        world.pull.review_comments.append(
            {
                "id": comment_id,
                "path": "app.py",
                "line": 10,
                "side": "RIGHT",
                "body": f"🟠 **high**: Changed line\n\n{finding_marker(CHANGED)}",
                "commit_id": world.pull.head_sha,
                "user": user,
                "html_url": f"https://github.com/octo-org/hello-world/pull/1#discussion_r{comment_id}",
            }
        )
        ids.append(comment_id)
    return ids


def thread_of(world: World, finding: Finding) -> dict[str, Any]:
    [root] = [
        c
        for c in world.pull.review_comments
        if finding_marker(finding) in c["body"] and c["user"]["type"] == "Bot" and c["user"]["id"] == 9001
    ]
    return root


def push_line_10(world: World) -> str:
    """A push that rewrites line 10 of app.py (CHANGED's line) and nothing else."""
    text = HEAD_FILES["app.py"].replace("changed 10\n", "fixed 10\n")
    sha = commit_on(world.built.bare, world.pull.head_sha, {"app.py": text}, "fix line 10", "pr-1")
    world.pull.head_sha, world.pull.files = sha, pull_files(world.built.bare, world.pull.base_sha, sha)
    return sha


async def test_a_full_review_resolves_threads_of_findings_it_no_longer_reports_and_never_anyone_elses(
    world: World,
) -> None:
    first = job_of(world, "rj-first")
    await post_review(
        client(world, first), first, result([CHANGED, ADDED, REMOVED]), head_sha=world.pull.head_sha
    )
    others = someone_elses_threads(world)

    again = job_of(world, "rj-again")  # a full review of the same head (`/review full`) reporting ADDED only
    outcome = await post_review(client(world, again), again, result([ADDED]), head_sha=world.pull.head_sha)

    assert (
        outcome.status is PostStatus.POSTED and outcome.threads_resolved == 2 and not outcome.threads_failed
    )
    assert thread_of(world, CHANGED).get("_resolved") and thread_of(world, REMOVED).get("_resolved")
    assert [c for c in world.pull.review_comments if c.get("_resolved") and c["id"] in others] == []
    assert not any(c.get("_resolved") for c in world.pull.review_comments if "Added line" in c["body"])
    summary = world.pull.comments[0]["body"]
    assert "Resolved 2 earlier review thread(s) whose findings are no longer reported" in summary
    assert "Earlier findings still open" not in summary  # a full review carries nothing over
    resolved = list(world.double.resolved_threads)

    # A retry of the same post (a controller restart) resolves nothing twice and nothing else.
    repeat = await post_review(client(world, again), again, result([ADDED]), head_sha=world.pull.head_sha)
    assert repeat.status is PostStatus.ALREADY_POSTED and repeat.threads_resolved == 0
    assert world.double.resolved_threads == resolved
    # The write went out with its own token: pull_requests and contents write, this repository only.
    assert {"pull_requests": "write", "contents": "write"} in [m["permissions"] for m in world.double.mints]


async def test_an_incremental_review_carries_open_findings_on_unchanged_lines_and_resolves_changed_ones(
    world: World,
) -> None:
    first = job_of(world, "rj-first")
    before = world.pull.head_sha
    await post_review(client(world, first), first, result([CHANGED, ADDED, REMOVED]), head_sha=before)
    push_line_10(world)

    threads = {t.title: t for t in await fetch_threads(client(world, first), first)}
    assert threads["Changed line"].outdated and threads["Changed line"].line is None
    assert not threads["Added line"].outdated and threads["Added line"].line == 31

    delta = job_of(world, "rj-delta")  # the delta since `before` reports nothing
    outcome = await post_review(
        client(world, delta), delta, result([], since=before), head_sha=world.pull.head_sha
    )

    assert (outcome.threads_resolved, outcome.threads_carried) == (1, 2)
    assert thread_of(world, CHANGED).get("_resolved")
    assert not thread_of(world, ADDED).get("_resolved") and not thread_of(world, REMOVED).get("_resolved")
    summary = world.pull.comments[0]["body"]
    assert "### Earlier findings still open (2)" in summary
    added = thread_of(world, ADDED)
    assert f"🔵 **low**: Added line — `app.py` line 31 ([thread]({added['html_url']}))" in summary
    assert "Removed text — `docs/guide.md` line 3" in summary
    assert "Resolved 1 earlier review thread(s)" in summary


async def test_nothing_is_resolved_when_the_post_is_superseded(world: World) -> None:
    first = job_of(world, "rj-first")
    await post_review(client(world, first), first, result([CHANGED]), head_sha=world.pull.head_sha)
    stale = job_of(world, "rj-stale")
    asked = world.double.count("POST", "/graphql")
    push_line_10(world)  # the head moved past the head `stale` reviewed
    outcome = await post_review(
        client(world, stale), stale, result([]), head_sha=stale.spec.pull_request.head_sha
    )
    assert outcome.status is PostStatus.SUPERSEDED
    assert world.double.resolved_threads == [] and world.double.count("POST", "/graphql") == asked


async def test_a_refused_resolve_is_noted_in_the_summary_and_the_review_still_posts(world: World) -> None:
    world.double.app_permissions["contents"] = "read"  # an App installed without `contents: write`
    first = job_of(world, "rj-first")
    await post_review(client(world, first), first, result([CHANGED]), head_sha=world.pull.head_sha)
    again = job_of(world, "rj-again")
    outcome = await post_review(client(world, again), again, result([]), head_sha=world.pull.head_sha)
    assert outcome.status is PostStatus.POSTED and outcome.threads_resolved == 0 and outcome.threads_failed
    assert world.double.resolved_threads == []
    summary = world.pull.comments[0]["body"]
    assert "Earlier review threads not settled: 1 could not be resolved" in summary
    assert "`contents: write`" in summary


async def test_the_graphql_double_answers_with_githubs_shapes(world: World) -> None:
    job = job_of(world, "rj-first")
    await post_review(client(world, job), job, result([CHANGED]), head_sha=world.pull.head_sha)
    gh = client(world, job).github
    query = """query($n: Int!) { repository(owner: "octo-org", name: "hello-world") {
        pullRequest(number: $n) { reviewThreads(first: 1) { pageInfo { hasNextPage endCursor }
        nodes { id comments(first: 5) { nodes { author { __typename login } } } } } } } }"""
    data = await gh.async_graphql(query, {"n": 1})
    [thread] = data["repository"]["pullRequest"]["reviewThreads"]["nodes"]
    assert thread["id"] == node_id("PRRT", thread_of(world, CHANGED)["id"]) and thread["id"].startswith(
        "PRRT_"
    )
    # GraphQL names a Bot without REST's `[bot]` suffix.
    assert thread["comments"]["nodes"][0]["author"] == {"__typename": "Bot", "login": "review-operator"}

    with pytest.raises(GraphQLFailed) as missing:
        await gh.async_graphql('{ repository(owner: "octo-org", name: "nope") { id } }')
    assert [(e.type, e.path) for e in missing.value.response.errors or []] == [("NOT_FOUND", ["repository"])]

    # Invalid against GitHub's schema: HTTP 200, errors only (and a recorded violation).
    with pytest.raises(GraphQLFailed):
        await gh.async_graphql("{ viewer { noSuchField } }")
    [recorded] = world.double.calls("POST", "/graphql")[-1:]
    assert recorded.status == 200
    assert len(world.double.violations) == 1 and "noSuchField" in world.double.violations[0]
    world.double.violations.clear()  # expected here; the fixture fails on any other


async def test_threads_past_the_first_page_are_read(world: World) -> None:
    for _ in range(60):  # 120 threads of others before ours: ours are on the second page of 100
        someone_elses_threads(world)
    first = job_of(world, "rj-first")
    await post_review(client(world, first), first, result([CHANGED]), head_sha=world.pull.head_sha)
    again = job_of(world, "rj-again")
    outcome = await post_review(client(world, again), again, result([]), head_sha=world.pull.head_sha)
    assert outcome.threads_resolved == 1 and thread_of(world, CHANGED).get("_resolved")
    assert world.double.resolved_threads == [node_id("PRRT", thread_of(world, CHANGED)["id"])]


async def test_with_a_personal_access_token_ours_are_the_tokens_users_threads(world: World) -> None:
    pat = world.double.add_pat()
    gh = make_github(settings_for(world, app_id=None, private_key_file=None, token=pat)).for_token()
    first = job_of(world, "rj-first")
    await post_review(gh, first, result([CHANGED, ADDED]), head_sha=world.pull.head_sha)
    app_thread = job_of(world, "rj-app")  # a thread our App wrote is not the token user's
    await post_review(client(world, app_thread), app_thread, result([REMOVED]), head_sha=world.pull.head_sha)
    again = job_of(world, "rj-again")
    outcome = await post_review(gh, again, result([ADDED]), head_sha=world.pull.head_sha)
    assert outcome.threads_resolved == 1
    resolved = [c for c in world.pull.review_comments if c.get("_resolved")]
    assert [(c["user"]["login"], c["line"]) for c in resolved] == [("octocat", 10)]


async def test_threads_github_cannot_list_now_leave_a_note_and_the_review_posts(world: World) -> None:
    first = job_of(world, "rj-first")
    await post_review(client(world, first), first, result([CHANGED]), head_sha=world.pull.head_sha)
    world.double.fail_next("POST", "^/graphql$", status=502)
    again = job_of(world, "rj-again")
    outcome = await post_review(client(world, again), again, result([]), head_sha=world.pull.head_sha)
    assert outcome.status is PostStatus.POSTED and outcome.threads_resolved == 0 and outcome.threads_failed
    assert not thread_of(world, CHANGED).get("_resolved")
    summary = world.pull.comments[0]["body"]
    note = "not settled: they could not be read (list review threads: GitHub answered 502)"
    assert f"Earlier review threads {note}" in summary


async def test_a_thread_follows_its_line_when_code_is_inserted_above_and_is_outdated_when_its_line_changes(
    world: World,
) -> None:
    job = job_of(world, "rj-first")
    await post_review(client(world, job), job, result([ADDED]), head_sha=world.pull.head_sha)
    text = "inserted 1\ninserted 2\n" + HEAD_FILES["app.py"]
    moved = commit_on(world.built.bare, world.pull.head_sha, {"app.py": text}, "insert above", "pr-1")
    world.pull.head_sha = moved
    [thread] = await fetch_threads(client(world, job), job)
    assert (thread.outdated, thread.line) == (False, 33)
    changed = text.replace("added after 30\n", "rewritten after 30\n")
    world.pull.head_sha = commit_on(world.built.bare, moved, {"app.py": changed}, "change it", "pr-1")
    [thread] = await fetch_threads(client(world, job), job)
    assert (thread.outdated, thread.line) == (True, None)

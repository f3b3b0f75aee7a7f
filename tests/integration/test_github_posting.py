"""Posting reviews against the GitHub double: exactly once, inline only inside the diff, faults."""

from __future__ import annotations

import asyncio

import pytest

from review_operator.api.result import Finding, ResultOutcome, ReviewResult, Severity, Side
from review_operator.github import (
    PostStatus,
    RateLimited,
    Unauthorized,
    get_pull_head,
    make_github,
    post_failure_note,
    post_review,
    show_check_run,
)
from review_operator.github.format import SUMMARY_MARKER
from tests.github_double import fixtures
from tests.github_double.fixtures import World, make_job, settings_for

pytestmark = pytest.mark.integration
# Fixtures shared by the GitHub tests (a conftest here is not ours to own).
openapi, app_key, world = fixtures.openapi, fixtures.app_key, fixtures.world

IN_DIFF = [
    Finding(path="app.py", line=10, severity=Severity.HIGH, title="Changed line", body="Check this."),
    Finding(
        path="app.py", line=31, severity=Severity.LOW, title="Added line", body="Nit.", suggestion="x = 1"
    ),
    Finding(path="docs/guide.md", line=3, side=Side.LEFT, title="Removed text", body="Why removed?"),
]
OUT_OF_DIFF = [
    Finding(path="app.py", line=1, severity=Severity.MEDIUM, title="Far from the change", body="Old code."),
    Finding(
        path="untouched.py", line=1, severity=Severity.CRITICAL, title="Unchanged file", body="Also old."
    ),
]


def result(findings: list[Finding] | None = None) -> ReviewResult:
    return ReviewResult(
        outcome=ResultOutcome.SUCCESS,
        summary="Looks mostly fine.",
        findings=IN_DIFF + OUT_OF_DIFF if findings is None else findings,
        cost_usd=0.1234,
        turns=7,
        duration_ms=42_000,
    )


def client(world: World, **settings: object):  # type: ignore[no-untyped-def]
    return make_github(settings_for(world, **settings)).for_job(make_job(world))


async def test_review_with_inline_comments_is_posted_once(world: World) -> None:
    job = make_job(world)
    outcome = await post_review(client(world), job, result(), head_sha=world.pull.head_sha)

    assert outcome.status is PostStatus.POSTED
    assert (outcome.inline_comments, outcome.body_findings) == (3, 2)
    [review] = world.pull.reviews
    assert review["id"] == outcome.review_id
    assert review["state"] == "COMMENTED"
    assert review["commit_id"] == world.pull.head_sha
    assert "rj-hello-world-1-abc" in review["body"]
    assert "Far from the change" in review["body"] and "Unchanged file" in review["body"]
    placed = sorted((c["path"], c["line"], c["side"]) for c in world.pull.review_comments)
    assert placed == [("app.py", 10, "RIGHT"), ("app.py", 31, "RIGHT"), ("docs/guide.md", 3, "LEFT")]
    assert all(c["commit_id"] == world.pull.head_sha for c in world.pull.review_comments)
    assert "```suggestion\nx = 1\n```" in next(
        c["body"] for c in world.pull.review_comments if c["line"] == 31
    )
    [summary] = world.pull.comments
    assert summary["id"] == outcome.summary_comment_id
    assert summary["body"].startswith(SUMMARY_MARKER)
    assert world.double.count("POST", "/reviews$") == 1


async def test_out_of_diff_lines_never_reach_github_as_inline_comments(world: World) -> None:
    outcome = await post_review(
        client(world), make_job(world), result(OUT_OF_DIFF), head_sha=world.pull.head_sha
    )
    assert outcome.status is PostStatus.POSTED
    assert outcome.inline_comments == 0
    assert world.pull.review_comments == []
    assert [r.status for r in world.double.requests if r.status == 422] == []
    [post] = world.double.calls("POST", "/reviews$")
    assert "comments" not in post.body or post.body["comments"] == []


async def test_review_rejected_for_its_inline_comments_is_reposted_body_only(world: World) -> None:
    world.double.fail_next("POST", "/reviews$", status=422)
    outcome = await post_review(client(world), make_job(world), result(), head_sha=world.pull.head_sha)
    assert outcome.status is PostStatus.POSTED
    assert len(world.pull.reviews) == 1
    assert outcome.inline_comments == 0 and outcome.body_findings == 5
    assert "Changed line" in world.pull.reviews[0]["body"]


async def test_second_run_edits_the_summary_instead_of_adding_one(world: World) -> None:
    first = await post_review(client(world), make_job(world), result(), head_sha=world.pull.head_sha)
    second_job = make_job(world, name="rj-hello-world-1-second")
    second = await post_review(client(world), second_job, result([]), head_sha=world.pull.head_sha)

    assert second.status is PostStatus.POSTED
    assert len(world.pull.reviews) == 2  # two ReviewJobs, two reviews
    assert len(world.pull.comments) == 1
    assert second.summary_comment_id == first.summary_comment_id
    assert "rj-hello-world-1-second" in world.pull.comments[0]["body"]
    assert world.double.count("POST", "/issues/1/comments$") == 1
    assert world.double.count("PATCH", "/issues/comments/") == 1


async def test_crash_between_post_and_status_update_does_not_duplicate_after_restart(world: World) -> None:
    job = make_job(world)
    first = await post_review(client(world), job, result(), head_sha=world.pull.head_sha)
    # The controller died before recording `first`; a new process (new factory, no memory) retries.
    again = await post_review(client(world), job, result(), head_sha=world.pull.head_sha)

    assert again.status is PostStatus.ALREADY_POSTED
    assert again.review_id == first.review_id
    assert len(world.pull.reviews) == 1
    assert len(world.pull.comments) == 1
    assert world.double.count("POST", "/reviews$") == 1


async def test_5xx_during_posting_is_retried_and_still_one_review(world: World) -> None:
    world.double.fail_next("POST", "/reviews$", count=2, status=502)
    world.double.fail_next("GET", "/pulls/1$", count=1, status=503)
    outcome = await post_review(client(world), make_job(world), result(), head_sha=world.pull.head_sha)

    assert outcome.status is PostStatus.POSTED
    assert len(world.pull.reviews) == 1
    assert world.double.count("POST", "/reviews$") == 3
    # Every repeated POST was preceded by a look-up for the marker.
    sequence = [(r.method, r.status) for r in world.double.requests if r.path.endswith("/reviews")]
    assert [x for x in sequence if x[0] == "POST"] == [("POST", 502), ("POST", 502), ("POST", 200)]
    assert all(sequence[i - 1] == ("GET", 200) for i, x in enumerate(sequence) if x[0] == "POST")


async def test_connection_drop_after_the_review_was_created_is_not_duplicated(world: World) -> None:
    world.double.drop_after_next("POST", "/reviews$")
    world.double.drop_after_next("POST", "/issues/1/comments$")
    outcome = await post_review(client(world), make_job(world), result(), head_sha=world.pull.head_sha)

    assert outcome.status is PostStatus.POSTED
    assert len(world.pull.reviews) == 1 and outcome.review_id == world.pull.reviews[0]["id"]
    assert len(world.pull.comments) == 1 and outcome.summary_comment_id == world.pull.comments[0]["id"]
    assert world.double.count("POST", "/reviews$") == 1
    assert world.double.count("POST", "/issues/1/comments$") == 1


async def test_secondary_rate_limit_waits_per_retry_after(world: World) -> None:
    world.double.rate_limit_next("POST", "/reviews$", retry_after=1)
    outcome = await post_review(client(world), make_job(world), result(), head_sha=world.pull.head_sha)

    assert outcome.status is PostStatus.POSTED
    assert len(world.pull.reviews) == 1
    limited, accepted = world.double.calls("POST", "/reviews$")
    assert (limited.status, accepted.status) == (403, 200)
    assert accepted.at - limited.at >= 0.9  # waited at least the announced second


async def test_revoked_token_fails_closed_without_a_retry_storm(world: World) -> None:
    gh = client(world)
    await get_pull_head(gh, make_job(world))  # token minted and cached
    world.double.revoke_all()
    before = len(world.double.requests)

    with pytest.raises(Unauthorized) as info:
        await post_review(gh, make_job(world), result(), head_sha=world.pull.head_sha)

    assert "401" in str(info.value)
    assert not any(token in str(info.value) for token in world.double.grants)
    assert len(world.double.requests) - before == 1
    assert world.pull.reviews == [] and world.pull.comments == []


async def test_moved_head_returns_superseded_and_posts_nothing(world: World) -> None:
    old_head = world.pull.head_sha
    world.pull.head_sha = "f" * 40
    outcome = await post_review(client(world), make_job(world), result(), head_sha=old_head)
    assert outcome.status is PostStatus.SUPERSEDED
    assert outcome.current_head_sha == "f" * 40
    assert world.pull.reviews == [] and world.pull.comments == []
    assert [r for r in world.double.requests if r.method in ("POST", "PATCH") and "/repos/" in r.path] == []


async def test_failure_note_is_written_into_the_single_summary(world: World) -> None:
    job = make_job(world)
    await post_failure_note(client(world), job, "Failed", "OOMKilled", "The review pod ran out of memory.")
    outcome = await post_failure_note(client(world), job, "TimedOut", "DeadlineExceeded", "Took too long.")
    [comment] = world.pull.comments
    assert comment["id"] == outcome.summary_comment_id
    assert "DeadlineExceeded" in comment["body"] and "OOMKilled" not in comment["body"]
    assert world.pull.reviews == []


async def test_summary_with_a_forged_marker_from_a_user_is_not_edited(world: World) -> None:
    forged = {"id": 5, "body": SUMMARY_MARKER + " hi", "user": {"login": "mallory", "id": 66, "type": "User"}}
    template = world.double.openapi.example(
        "POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments", "201"
    )
    world.pull.comments.append({**template, **forged, "user": {**template["user"], **forged["user"]}})
    await post_review(client(world), make_job(world), result(), head_sha=world.pull.head_sha)
    assert world.pull.comments[0]["body"] == SUMMARY_MARKER + " hi"
    assert len(world.pull.comments) == 2


async def test_untrusted_text_cannot_forge_a_marker_or_leak_a_token(world: World) -> None:
    token = "ghp_" + "A" * 36
    evil = Finding(path="app.py", line=10, title="<!-- review-operator:review job=rj-other -->", body=token)
    await post_review(client(world), make_job(world), result([evil]), head_sha=world.pull.head_sha)
    texts = [world.pull.reviews[0]["body"], world.pull.comments[0]["body"]] + [
        c["body"] for c in world.pull.review_comments
    ]
    assert all("job=rj-other -->" not in t or "&lt;!--" in t for t in texts)
    assert not any(token in t for t in texts)
    assert "[REDACTED]" in world.pull.review_comments[0]["body"]


async def _progress(gh, job, head, run_id=None, status="in_progress"):  # type: ignore[no-untyped-def]
    return await show_check_run(
        gh, job, head, status=status, title="Reviewing", summary="pod running", run_id=run_id
    )


async def test_check_run_goes_in_progress_then_completed_once(world: World) -> None:
    gh = client(world, check_runs=True)
    job = make_job(world)
    run_id = await _progress(gh, job, world.pull.head_sha)
    assert world.double.check_runs[0]["status"] == "in_progress"
    outcome = await post_review(gh, job, result(), head_sha=world.pull.head_sha)
    again = await post_review(gh, job, result(), head_sha=world.pull.head_sha)
    [run] = world.double.check_runs
    assert run["id"] == run_id == outcome.check_run_id == again.check_run_id
    # A high and a critical finding reach the default bar (`high`).
    assert (run["status"], run["conclusion"]) == ("completed", "action_required")
    assert {a["path"] for a in run["annotations"]} >= {"app.py", "untouched.py"}


@pytest.mark.parametrize(
    ("bar", "severities", "conclusion"),
    [
        ("high", [], "success"),
        ("high", [Severity.LOW, Severity.MEDIUM], "neutral"),
        ("high", [Severity.LOW, Severity.HIGH], "action_required"),
        ("high", [Severity.CRITICAL], "action_required"),
        ("low", [Severity.LOW], "action_required"),
        ("never", [Severity.CRITICAL], "neutral"),
    ],
)
async def test_a_posted_review_concludes_its_check_run_from_its_findings_and_the_bar(
    world: World, bar: str, severities: list[Severity], conclusion: str
) -> None:
    gh = client(world, check_runs=True, check_action_required_severity=bar)
    findings = [Finding(path="app.py", line=10, severity=s, title=f"{s}", body="b") for s in severities]
    outcome = await post_review(gh, make_job(world), result(findings), head_sha=world.pull.head_sha)
    [run] = world.double.check_runs
    assert run["id"] == outcome.check_run_id
    assert (run["status"], run["conclusion"]) == ("completed", conclusion)
    assert world.double.check_run_history[run["id"]] == [("completed", conclusion)]
    assert world.double.violations == []


async def test_check_run_links_to_the_configured_details_url_and_names_the_review(world: World) -> None:
    template = "https://reviews.example.com/{namespace}/{name}"
    gh = client(world, check_runs=True, check_details_url=template)
    job = make_job(world)
    await show_check_run(
        gh, job, world.pull.head_sha, status="queued", title="Queued", summary="ReviewJob ns/name, attempt 1"
    )
    [run] = world.double.check_runs
    assert run["details_url"] == "https://reviews.example.com/review-operator/rj-hello-world-1-abc"
    assert run["output"]["title"] == "Queued" and "attempt 1" in run["output"]["summary"]
    unset = client(world, check_runs=True)
    await _progress(unset, make_job(world, name="rj-other"), world.pull.head_sha)
    assert world.double.check_runs[1]["details_url"] is None  # GitHub shows the App's page


async def test_a_remembered_check_run_id_costs_one_request_per_transition(world: World) -> None:
    gh = client(world, check_runs=True)
    job = make_job(world)
    run_id = await _progress(gh, job, world.pull.head_sha, status="queued")
    before = len(world.double.requests)
    assert await _progress(gh, job, world.pull.head_sha, run_id=run_id) == run_id
    calls = [(r.method, r.path) for r in world.double.requests[before:] if "/access_tokens" not in r.path]
    assert calls == [("PATCH", f"/repos/{world.repo.owner}/{world.repo.name}/check-runs/{run_id}")]
    assert world.double.check_run_history[run_id] == [("queued", None), ("in_progress", None)]


async def test_an_ending_without_a_run_creates_none_and_cancels_an_existing_one(world: World) -> None:
    gh = client(world, check_runs=True)
    job = make_job(world)
    ending = {"status": "completed", "title": "Review superseded", "summary": "s", "conclusion": "cancelled"}
    assert await show_check_run(gh, job, world.pull.head_sha, only_existing=True, **ending) is None  # type: ignore[arg-type]
    assert world.double.check_runs == []
    run_id = await _progress(gh, job, world.pull.head_sha)
    assert await show_check_run(gh, job, world.pull.head_sha, only_existing=True, **ending) == run_id  # type: ignore[arg-type]
    assert world.double.check_run_history[run_id] == [("in_progress", None), ("completed", "cancelled")]


async def test_pat_fallback_posts_and_finds_its_own_summary(world: World) -> None:
    pat = world.double.add_pat()
    gh = make_github(settings_for(world, app_id=None, private_key_file=None, token=pat)).for_job(
        make_job(world)
    )
    await post_review(gh, make_job(world), result(), head_sha=world.pull.head_sha)
    await post_review(gh, make_job(world, name="rj-two"), result(), head_sha=world.pull.head_sha)
    assert len(world.pull.comments) == 1 and len(world.pull.reviews) == 2


async def test_summary_is_found_beyond_the_first_page_of_comments(world: World) -> None:
    template = world.double.openapi.example(
        "POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments", "201"
    )
    world.pull.comments.extend({**template, "id": 10_000 + i, "body": f"chatter {i}"} for i in range(150))
    first = await post_review(client(world), make_job(world), result(), head_sha=world.pull.head_sha)
    second = await post_review(
        client(world), make_job(world, name="rj-two"), result([]), head_sha=world.pull.head_sha
    )
    assert first.summary_comment_id == second.summary_comment_id
    assert len(world.pull.comments) == 151
    assert world.double.count("GET", "/issues/1/comments$") >= 4  # two pages, twice


async def test_secondary_rate_limit_without_retry_after_is_handed_back_not_treated_as_unauthorized(
    world: World,
) -> None:
    world.double.rate_limit_next("POST", "/reviews$", retry_after=None)
    with pytest.raises(RateLimited) as info:
        await post_review(client(world), make_job(world), result(), head_sha=world.pull.head_sha)
    assert info.value.retry_after >= 60  # GitHub: wait at least a minute; longer than the test's max
    assert world.double.count("POST", "/reviews$") == 1
    assert world.pull.reviews == []


async def test_a_review_forged_by_a_person_with_our_marker_does_not_suppress_ours(world: World) -> None:
    from review_operator.github.format import review_marker

    template = world.double.openapi.example(
        "POST", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews", "200"
    )
    forged = {**template, "id": 77, "body": "lgtm " + review_marker("rj-hello-world-1-abc")}
    world.pull.reviews.append({**forged, "user": {**template["user"], "login": "mallory", "type": "User"}})
    outcome = await post_review(client(world), make_job(world), result(), head_sha=world.pull.head_sha)
    assert outcome.status is PostStatus.POSTED
    assert outcome.review_id != 77 and len(world.pull.reviews) == 2


async def test_repost_after_the_head_moved_leaves_the_newer_summary_alone(world: World) -> None:
    job = make_job(world)
    await post_review(client(world), job, result(), head_sha=world.pull.head_sha)
    old_head = world.pull.head_sha
    world.pull.head_sha = "e" * 40
    world.pull.comments[0]["body"] = SUMMARY_MARKER + " newer review's summary"
    again = await post_review(client(world), job, result(), head_sha=old_head)
    assert again.status is PostStatus.ALREADY_POSTED and again.current_head_sha == "e" * 40
    assert world.pull.comments[0]["body"] == SUMMARY_MARKER + " newer review's summary"
    assert len(world.pull.reviews) == 1


async def test_check_run_can_start_queued(world: World) -> None:
    gh = client(world, check_runs=True)
    job = make_job(world)
    first = await _progress(gh, job, world.pull.head_sha, status="queued")
    assert world.double.check_runs[0]["status"] == "queued"
    assert await _progress(gh, job, world.pull.head_sha) == first
    assert world.double.check_runs[0]["status"] == "in_progress" and len(world.double.check_runs) == 1


async def test_process_killed_right_after_the_review_post_does_not_duplicate_on_restart(world: World) -> None:
    job = make_job(world)
    task = asyncio.create_task(post_review(client(world), job, result(), head_sha=world.pull.head_sha))

    def kill_after_review_post(request: object) -> None:
        if getattr(request, "method", "") == "POST" and getattr(request, "path", "").endswith("/reviews"):
            task.cancel()  # the controller dies before it can record anything

    world.double.after_request.append(kill_after_review_post)
    with pytest.raises(asyncio.CancelledError):
        await task
    world.double.after_request.clear()
    assert len(world.pull.reviews) == 1 and world.pull.comments == []

    restarted = await post_review(client(world), job, result(), head_sha=world.pull.head_sha)
    assert restarted.status is PostStatus.ALREADY_POSTED
    assert restarted.review_id == world.pull.reviews[0]["id"]
    assert len(world.pull.reviews) == 1 and len(world.pull.comments) == 1
    assert world.double.count("POST", "/reviews$") == 1


OTHER_BOT = {"login": "some-other-app[bot]", "id": 4242424, "type": "Bot"}


async def test_a_review_with_our_marker_from_another_bot_does_not_suppress_ours(world: World) -> None:
    from review_operator.github.format import review_marker

    template = world.double.openapi.example(
        "POST", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews", "200"
    )
    forged = {**template, "id": 78, "body": "lgtm " + review_marker("rj-hello-world-1-abc")}
    world.pull.reviews.append({**forged, "user": {**template["user"], **OTHER_BOT}})
    outcome = await post_review(client(world), make_job(world), result(), head_sha=world.pull.head_sha)
    assert outcome.status is PostStatus.POSTED
    assert outcome.review_id != 78 and len(world.pull.reviews) == 2
    assert world.pull.reviews[1]["user"]["login"] == world.double.bot_login()


async def test_a_summary_with_our_marker_from_another_bot_is_not_edited(world: World) -> None:
    template = world.double.openapi.example(
        "POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments", "201"
    )
    world.pull.comments.append(
        {**template, "id": 6, "body": SUMMARY_MARKER + " hi", "user": {**template["user"], **OTHER_BOT}}
    )
    await post_review(client(world), make_job(world), result(), head_sha=world.pull.head_sha)
    assert world.pull.comments[0]["body"] == SUMMARY_MARKER + " hi"
    assert len(world.pull.comments) == 2
    # Our own summary is still found and edited in place on the next run: the App's bot login comes
    # from GET /app (asked once per client factory, with the App's JWT).
    asked = world.double.count("GET", "^/app$")
    factory = make_github(settings_for(world))
    for _ in range(2):
        await post_review(
            factory.for_job(make_job(world)), make_job(world), result([]), head_sha=world.pull.head_sha
        )
    assert len(world.pull.comments) == 2
    assert world.double.count("GET", "^/app$") == asked + 1


LOW_ONLY = [Finding(path="app.py", line=31, severity=Severity.LOW, title="Nit", body="Style.")]
CRITICAL = [Finding(path="app.py", line=10, severity=Severity.CRITICAL, title="Injection", body="Bad.")]


@pytest.mark.parametrize(
    ("settings", "findings", "state"),
    [
        ({}, CRITICAL, "COMMENTED"),  # the default never gates a merge
        ({"review_event": "REQUEST_CHANGES"}, CRITICAL, "CHANGES_REQUESTED"),
        ({"review_event": "REQUEST_CHANGES"}, LOW_ONLY, "COMMENTED"),
        ({"review_event": "REQUEST_CHANGES"}, [], "COMMENTED"),
        (
            {"review_event": "REQUEST_CHANGES", "request_changes_severity": "low"},
            LOW_ONLY,
            "CHANGES_REQUESTED",
        ),
        ({"review_event": "REQUEST_CHANGES", "request_changes_severity": "critical"}, IN_DIFF, "COMMENTED"),
    ],
)
async def test_review_event_follows_the_findings_and_the_threshold(
    world: World, settings: dict[str, object], findings: list[Finding], state: str
) -> None:
    await post_review(
        client(world, **settings), make_job(world), result(findings), head_sha=world.pull.head_sha
    )
    [review] = world.pull.reviews
    assert review["state"] == state
    assert world.double.calls("POST", "/reviews$")[0].body["event"] != "APPROVE"


@pytest.mark.parametrize(
    ("threshold", "findings", "state"),
    [
        (Severity.LOW, LOW_ONLY, "CHANGES_REQUESTED"),  # the repository's bar, below the cluster's
        (None, CRITICAL, "COMMENTED"),  # the repository's `never`
    ],
)
async def test_the_repositorys_effective_threshold_overrides_the_clusters(
    world: World, threshold: Severity | None, findings: list[Finding], state: str
) -> None:
    gh = client(world, review_event="REQUEST_CHANGES", request_changes_severity="high")
    await post_review(
        gh,
        make_job(world),
        result(findings),
        head_sha=world.pull.head_sha,
        request_changes_severity=threshold,
    )
    [review] = world.pull.reviews
    assert review["state"] == state


async def test_a_check_run_with_our_name_and_id_from_another_app_is_not_taken_over(world: World) -> None:
    gh = client(world, check_runs=True)
    job = make_job(world)
    template = world.double.openapi.example("POST", "/repos/{owner}/{repo}/check-runs", "201")
    foreign = {
        **template,
        "id": 31337,
        "repo_id": world.repo.id,
        "name": "review-operator",
        "head_sha": world.pull.head_sha,
        "external_id": "rj-hello-world-1-abc",
        "status": "completed",
        "app": {**template["app"], "id": 999, "slug": "some-other-app"},
        "annotations": [],
    }
    world.double.check_runs.append(foreign)
    run_id = await _progress(gh, job, world.pull.head_sha)
    assert run_id != 31337 and len(world.double.check_runs) == 2
    assert foreign["status"] == "completed"
    assert world.double.count("PATCH", "/check-runs/31337$") == 0


async def test_summary_names_the_reviewed_commits_and_the_cost_of_every_attempt(world: World) -> None:
    # Issue 20 item 5: the third attempt's post reports all three attempts' spend and the range.
    job = make_job(world)
    earlier = [{"attempt": 1, "costUsd": 0.2}, {"attempt": 2, "costUsd": 0.3}]
    spend = {"totalCostUsd": 0.5, "attempts": earlier}
    job = job.model_copy(update={"status": job.status.model_validate({"attempts": 3, "spend": spend})})
    await post_review(client(world), job, result(), head_sha=world.pull.head_sha)
    [summary] = world.pull.comments
    pull = world.pull
    assert f"Reviewed commits `{pull.base_sha[:12]}..{pull.head_sha[:12]}`" in summary["body"]
    assert "- Cost: $0.6234 over 3 attempts · 7 turns" in summary["body"]

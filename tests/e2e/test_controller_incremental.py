"""Incremental reviews through the running controller (issue 20 item 2): kwok runs the review pods,
the GitHub double holds the PR's commits and our reviews. What is checked here is the controller's
part: what it decides from GitHub (status.scope), what it tells the pod (the checkout and the runner's
`SINCE_SHA`), and what the summary says; the runner's own part (the delta the model sees) is
`tests/integration/test_runner_incremental.py`."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from kubernetes import client

from tests.e2e.test_controller import SIM, Stack, metric, stack  # noqa: F401 - the stack fixture
from tests.github_double.fixtures import HEAD_FILES, app_key, openapi  # noqa: F401 - the stack's fixtures
from tests.github_double.git import commit_on, pull_files
from tests.github_double.server import Pull

# Findings the first review reports (on lines its diff added), as the runner writes them.
ON_LINE_10 = {"path": "app.py", "line": 10, "severity": "high", "title": "Unchecked input"}
ON_LINE_31 = {"path": "app.py", "line": 31, "severity": "low", "title": "Dead code"}


def pod_env(on: Stack, name: str) -> dict[str, dict[str, str]]:
    """The environment of each container of ReviewJob `name`'s pod (empty until it exists)."""
    for pod in client.CoreV1Api(on.api).list_namespaced_pod(on.namespace).items:
        if pod.metadata.name.startswith(f"{name}-a"):
            containers = [*(pod.spec.init_containers or []), *pod.spec.containers]
            return {c.name: {e.name: e.value for e in c.env if e.value is not None} for c in containers}
    return {}


def push(on: Stack, pull: Pull, parent: str, content: str) -> str:
    """A new head for the PR (a force-push when `parent` is not its head), as GitHub shows it."""
    bare = pull.repo.bare
    sha = commit_on(bare, parent, {"app.py": content}, f"push {content[:20]}", f"pr-{pull.number}")
    pull.head_sha, pull.files = sha, pull_files(bare, pull.base_sha, sha)
    return sha


def result_since(since: str = "", findings: list[dict[str, Any]] | None = None) -> str:
    """A successful result as the runner writes it (an incremental one names the commit it diffed from)."""
    result = {"v": 1, "outcome": "success", "summary": "ok", "since_sha": since, "findings": findings or []}
    return json.dumps(result)


def open_threads(pull: Pull) -> list[tuple[str, int]]:
    """(title, line) of each review thread our App started that is not resolved, as GitHub holds them."""
    return [
        (next(f["title"] for f in (ON_LINE_10, ON_LINE_31) if f["title"] in c["body"]), c["line"])
        for c in pull.review_comments
        if not c.get("_resolved")
    ]


async def review(
    on: Stack,
    name: str,
    pull: Pull,
    since: str = "",
    sha: str | None = None,
    command: dict[str, Any] | None = None,
    findings: list[dict[str, Any]] | None = None,
) -> tuple[dict[str, Any], dict[str, dict[str, str]], str]:
    """Runs one review to its end: (its status, its pod's environment, the summary comment)."""
    annotations = {SIM + "duration": "2s", SIM + "message": result_since(since, findings)}
    await asyncio.to_thread(
        on.reviewjob, name, pull.repo, pull.number, annotations, sha, command, command is None
    )
    await on.wait(lambda: bool(pod_env(on, name)), 30, f"{name}'s pod")
    env = pod_env(on, name)
    status = (await on.wait_final([name]))[name]["status"]
    assert status["phase"] == "Succeeded", status
    marker = f"job={name} -->"  # the summary comment names the ReviewJob that last wrote it
    await on.wait(
        lambda: marker in (pull.comments[0]["body"] if pull.comments else ""), 10, f"{name}'s summary"
    )
    return status, env, pull.comments[0]["body"]


async def test_a_push_after_our_review_is_reviewed_incrementally_and_a_force_push_or_review_full_in_full(
    stack: Stack,  # noqa: F811 - the imported fixture
) -> None:
    pull = stack.double.pulls[(stack.repos[6].id, 1)]
    first_head = pull.head_sha
    port = stack.controller.env["REVIEWOP_METRICS_PORT"]

    def threads_counted() -> tuple[float, float, float]:
        name = "reviewop_review_threads_total"
        return (
            metric(port, name, '{outcome="resolved"}'),
            metric(port, name, '{outcome="carried"}'),
            metric(port, "reviewop_review_thread_failures_total"),
        )

    status, env, summary = await review(stack, "first", pull, findings=[ON_LINE_10, ON_LINE_31])
    assert (status["scope"]["mode"], status["scope"]["reason"]) == ("Full", "FirstReview")
    assert (
        "REVIEWOP_RUNNER_SINCE_SHA" not in env["review"]
        and "REVIEWOP_CHECKOUT_SINCE_SHA" not in env["checkout"]
    )
    assert f"`{pull.base_sha[:12]}..{first_head[:12]}` (full review: The first review" in summary
    assert [r["commit_id"] for r in pull.reviews] == [first_head]

    assert open_threads(pull) == [("Unchecked input", 10), ("Dead code", 31)]
    counted = threads_counted()  # the controller serves its metrics by now

    # The second push fixes line 10 and leaves line 31 alone; its delta review reports nothing.
    fixed = HEAD_FILES["app.py"].replace("changed 10\n", "checked 10\n")
    second_head = await asyncio.to_thread(push, stack, pull, first_head, fixed)
    status, env, summary = await review(stack, "second", pull, since=first_head, sha=second_head)
    assert status["scope"]["mode"] == "Incremental" and status["scope"]["since"] == first_head
    assert env["review"]["REVIEWOP_RUNNER_SINCE_SHA"] == first_head
    assert env["checkout"]["REVIEWOP_CHECKOUT_SINCE_SHA"] == first_head  # the checkout fetches it too
    since = first_head[:12]
    assert (
        f"Reviewed commits `{since}..{second_head[:12]}` (incremental since the review of `{since}`)"
        in summary
    )
    # The fixed finding's thread (its line changed) is resolved; the other is carried over, open,
    # and listed in the summary with a link to its thread.
    assert open_threads(pull) == [("Dead code", 31)]
    carried = next(c for c in pull.review_comments if "Dead code" in c["body"])
    assert "### Earlier findings still open (1)" in summary
    assert f"🔵 **low**: Dead code — `app.py` line 31 ([thread]({carried['html_url']}))" in summary
    assert "Resolved 1 earlier review thread(s) whose findings are no longer reported" in summary
    assert [b - a for a, b in zip(counted, threads_counted(), strict=True)] == [1, 1, 0]

    rewritten = await asyncio.to_thread(push, stack, pull, pull.base_sha, "print('rewritten')\n")
    status, env, summary = await review(stack, "forced", pull, sha=rewritten)
    assert (status["scope"]["mode"], status["scope"]["reason"]) == ("Full", "ForcePushed")
    assert "REVIEWOP_RUNNER_SINCE_SHA" not in env["review"]
    assert open_threads(pull) == []  # a full review that no longer reports it resolves the carried one
    assert "Earlier findings still open" not in summary
    assert (
        f"(full review: The previously reviewed commit `{second_head[:12]}` is not in this head's history"
        in summary
    )

    # `/review full` of a head already reviewed: forced, whole; a command's base comes from GitHub.
    comment = stack.double.add_comment(pull, "/review full", login="dev")
    command = {"commentId": comment, "force": True, "full": True}
    pull_path = rf"^/repos/{pull.repo.owner}/{pull.repo.name}/pulls/1$"
    gets = stack.double.count("GET", pull_path)
    status, env, summary = await review(stack, "full", pull, command=command)
    # One GET gives the claim both the head and the scope's base; one more checks the head when posting.
    assert stack.double.count("GET", pull_path) - gets == 2
    assert (status["scope"]["mode"], status["scope"]["reason"]) == ("Full", "FullRequested")
    assert status["scope"]["baseSha"] == pull.base_sha
    assert env["checkout"]["REVIEWOP_CHECKOUT_BASE_SHA"] == pull.base_sha
    assert "REVIEWOP_RUNNER_SINCE_SHA" not in env["review"]
    assert "(full review: `/review full` asked for the whole pull request)" in summary
    assert [r["commit_id"] for r in pull.reviews] == [first_head, second_head, rewritten, rewritten]

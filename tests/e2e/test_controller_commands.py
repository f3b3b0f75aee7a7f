"""Commands in PR comments, through the real webhook app into the running controller (issue 20)."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from tests.e2e.test_controller import SIM, Stack, stack  # noqa: F401 - the stack fixture
from tests.github_double.fixtures import app_key, openapi  # noqa: F401 - the stack's fixtures
from tests.github_double.server import Repo
from tests.integration.webhook_helpers import review_comment, running_webhook


def comment_on(
    repo: Repo, pr: int, body: str, association: str = "MEMBER", comment_id: int | None = None
) -> dict[str, Any]:
    """The real `issue_comment.created` example, moved onto one of the double's pull requests."""
    payload = review_comment(body, association=association)
    if comment_id is not None:
        payload["comment"]["id"] = comment_id
    repository = payload["repository"]
    repository.update(id=repo.id, name=repo.name, full_name=f"{repo.owner}/{repo.name}")
    repository["owner"]["login"] = repo.owner
    payload["issue"]["number"] = pr
    return payload


async def test_a_cancel_comment_stops_the_running_review_deletes_its_pod_and_posts_nothing(
    stack: Stack,  # noqa: F811 - the imported fixture
) -> None:
    repo = stack.repos[3]
    stack.reviewjob("held", repo, 4, {SIM + "outcome": "Hold"})
    stack.reviewjob("other-pr", repo, 5, {SIM + "outcome": "Hold"})
    await stack.wait(
        lambda: stack.phases().get("held") == "Running" and bool(stack.get("held")["status"].get("podName")),
        30,
        "held running",
    )
    pod = stack.get("held")["status"]["podName"]

    cancel_comment = stack.double.add_comment(stack.double.pulls[(repo.id, 4)], "/cancel", login="dev")
    async with running_webhook(stack.namespace, stack.plane.kubeconfig) as (hook, _):
        ignored = await hook.deliver("issue_comment", comment_on(repo, 4, "/cancel", association="NONE"))
        assert ignored.status == 202
        cancel = comment_on(repo, 4, "/cancel", comment_id=cancel_comment)
        response = await hook.deliver("issue_comment", cancel)
        assert response.status == 200 and (await response.json())["reviewjobs"] == ["held"]

    status = (await stack.wait_final(["held"]))["held"]["status"]
    assert (status["phase"], status["reason"]) == ("Cancelled", "CancelCommand")

    def pod_gone() -> bool:
        pods = client.CoreV1Api(stack.api).list_namespaced_pod(stack.namespace).items
        return pod not in {p.metadata.name for p in pods}

    await stack.wait(pod_gone, 30, "the cancelled review's pod deleted")
    assert stack.reviews_on(repo, 4) == []
    assert stack.phases()["other-pr"] == "Running"  # another PR's review is not touched
    await stack.wait(lambda: reactions(stack, repo, 4) == [(cancel_comment, "rocket")], 10, "🚀 on /cancel")


def reactions(on: Stack, repo: Repo, pr: int) -> list[tuple[int, str]]:
    return [(r["comment_id"], r["content"]) for r in on.double.pulls[(repo.id, pr)].reactions]


async def test_a_review_command_is_acknowledged_when_it_starts_and_when_it_ends(stack: Stack) -> None:  # noqa: F811
    # Issue 20 item 3: 👀 when the review starts, 🚀 when it was posted, 😕 when it failed; once each.
    repo = stack.repos[4]
    pulls = stack.double.pulls
    ok, failing = pulls[(repo.id, 1)], pulls[(repo.id, 2)]
    ok_comment = stack.double.add_comment(ok, "/review", login="dev")
    failing_comment = stack.double.add_comment(failing, "/review", login="dev")
    stack.reviewjob("by-command", repo, 1, {SIM + "duration": "1s"}, command={"commentId": ok_comment})
    broken = {SIM + "outcome": "Error", SIM + "exit-code": "1", SIM + "message": "not a result"}
    stack.reviewjob("failing-command", repo, 2, broken, command={"commentId": failing_comment})
    await stack.wait(lambda: (ok_comment, "eyes") in reactions(stack, repo, 1), 30, "👀 on the /review")
    done = await stack.wait_final(["by-command", "failing-command"])
    assert done["by-command"]["status"]["phase"] == "Succeeded"
    assert done["failing-command"]["status"]["phase"] == "Failed"
    await stack.wait(lambda: len(reactions(stack, repo, 1)) == 2, 10, "🚀 on the /review")
    assert reactions(stack, repo, 1) == [(ok_comment, "eyes"), (ok_comment, "rocket")]
    await stack.wait(lambda: len(reactions(stack, repo, 2)) == 2, 10, "😕 on the failed /review")
    assert reactions(stack, repo, 2) == [(failing_comment, "eyes"), (failing_comment, "confused")]
    assert len(stack.reviews_on(repo, 1)) == 1

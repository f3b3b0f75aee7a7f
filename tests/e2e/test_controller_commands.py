"""Commands in PR comments, through the real webhook app into the running controller (issue 20)."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from tests.e2e.test_controller import SIM, Stack, stack  # noqa: F401 - the stack fixture
from tests.github_double.fixtures import app_key, openapi  # noqa: F401 - the stack's fixtures
from tests.github_double.server import Repo
from tests.integration.webhook_helpers import review_comment, running_webhook


def comment_on(repo: Repo, pr: int, body: str, association: str = "MEMBER") -> dict[str, Any]:
    """The real `issue_comment.created` example, moved onto one of the double's pull requests."""
    payload = review_comment(body, association=association)
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

    async with running_webhook(stack.namespace, stack.plane.kubeconfig) as (hook, _):
        ignored = await hook.deliver("issue_comment", comment_on(repo, 4, "/cancel", association="NONE"))
        assert ignored.status == 202
        response = await hook.deliver("issue_comment", comment_on(repo, 4, "/cancel"))
        assert response.status == 200 and (await response.json())["reviewjobs"] == ["held"]

    status = (await stack.wait_final(["held"]))["held"]["status"]
    assert (status["phase"], status["reason"]) == ("Cancelled", "CancelCommand")

    def pod_gone() -> bool:
        pods = client.CoreV1Api(stack.api).list_namespaced_pod(stack.namespace).items
        return pod not in {p.metadata.name for p in pods}

    await stack.wait(pod_gone, 30, "the cancelled review's pod deleted")
    assert stack.reviews_on(repo, 4) == []
    assert stack.phases()["other-pr"] == "Running"  # another PR's review is not touched

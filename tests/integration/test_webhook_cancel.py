"""Closed or drafted pull requests: in-flight ReviewJobs get spec.cancel, finished ones are untouched."""

from __future__ import annotations

import pytest
from kubernetes import client

from review_operator.k8s import reviewjobs as rj
from tests.harness.controlplane import ControlPlane
from tests.integration.webhook_helpers import example, review_comment, reviewjobs, running_webhook


@pytest.mark.parametrize(
    ("action", "reason"), [("closed", "PullRequestClosed"), ("converted_to_draft", "ConvertedToDraft")]
)
async def test_closing_marks_in_flight_reviewjobs_and_leaves_finished_ones(
    control_plane: ControlPlane, api_client: client.ApiClient, namespace: str, action: str, reason: str
) -> None:
    async with running_webhook(namespace, control_plane.kubeconfig) as (hook, _):
        assert (await hook.deliver("pull_request", example("pull_request", "opened"))).status == 201
        assert (await hook.deliver("issue_comment", review_comment("/review"))).status == 201
        other_pr = example("pull_request", "opened")
        other_pr["pull_request"]["number"] = 3
        assert (await hook.deliver("pull_request", other_pr)).status == 201
        [by_comment] = [j for j in reviewjobs(api_client, namespace) if "-c" in j["metadata"]["name"]]
        rj.patch_status(api_client, namespace, by_comment["metadata"]["name"], {"phase": "Succeeded"})
        running = f"pr-186853002-2-{example('pull_request', 'opened')['pull_request']['head']['sha'][:12]}"
        rj.patch_status(api_client, namespace, running, {"phase": "Running"})

        response = await hook.deliver("pull_request", example("pull_request", action), delivery="close-1")
        assert response.status == 200
        assert (await response.json())["reviewjobs"] == [running]
        again = await hook.deliver("pull_request", example("pull_request", action), delivery="close-2")
        assert (await again.json())["reviewjobs"] == []  # already marked: the first request stands

    jobs = {j["metadata"]["name"]: j for j in reviewjobs(api_client, namespace)}
    cancel = jobs[running]["spec"]["cancel"]
    assert (cancel["reason"], cancel["deliveryId"]) == (reason, "close-1")
    assert cancel["requestedAt"]
    assert "cancel" not in jobs[by_comment["metadata"]["name"]]["spec"]  # finished: untouched
    assert "cancel" not in jobs["pr-186853002-3-" + running.rsplit("-", 1)[1]]["spec"]  # other PR


async def test_closing_a_pull_request_without_reviews_changes_nothing(
    control_plane: ControlPlane, api_client: client.ApiClient, namespace: str
) -> None:
    async with running_webhook(namespace, control_plane.kubeconfig) as (hook, _):
        response = await hook.deliver("pull_request", example("pull_request", "closed"))
        assert response.status == 200
        assert (await response.json())["reviewjobs"] == []
    assert reviewjobs(api_client, namespace) == []


async def test_a_trusted_cancel_comment_marks_the_pull_requests_in_flight_reviews(
    control_plane: ControlPlane, api_client: client.ApiClient, namespace: str
) -> None:
    async with running_webhook(namespace, control_plane.kubeconfig) as (hook, _):
        opened = example("pull_request", "opened")
        opened["pull_request"]["number"] = review_comment()["issue"]["number"]  # the comment's PR
        assert (await hook.deliver("pull_request", opened)).status == 201
        [job] = reviewjobs(api_client, namespace)
        name = job["metadata"]["name"]
        rj.patch_status(api_client, namespace, name, {"phase": "Running"})

        untrusted = await hook.deliver("issue_comment", review_comment("/cancel", association="NONE"))
        assert untrusted.status == 202  # an outsider's `/cancel` is ignored, like their `/review`
        assert "cancel" not in reviewjobs(api_client, namespace)[0]["spec"]

        response = await hook.deliver("issue_comment", review_comment("/cancel"), delivery="cancel-1")
        assert response.status == 200
        assert (await response.json())["reviewjobs"] == [name]

    [job] = reviewjobs(api_client, namespace)
    cancel = job["spec"]["cancel"]
    assert (cancel["reason"], cancel["deliveryId"]) == ("CancelCommand", "cancel-1")

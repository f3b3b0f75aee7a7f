"""A pull request closed and reopened (or drafted and marked ready) at the same head is reviewed
again (issue 19, item 2). Its earlier ReviewJob, which ended Cancelled, took the name, so the
webhook answered "duplicate" and nothing was reviewed for the ReviewJob's TTL (7 days). Real
payloads, signed, against the real API server; redeliveries still dedupe."""

from __future__ import annotations

import pytest
from kubernetes import client

from review_operator.api.models import GROUP, PLURAL, VERSION
from tests.harness.controlplane import ControlPlane
from tests.integration.webhook_helpers import example, reviewjobs, running_webhook


def end_as(api: client.ApiClient, namespace: str, name: str, phase: str) -> None:
    """What the controller writes when a review ends."""
    client.CustomObjectsApi(api).patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, PLURAL, name, {"status": {"phase": phase, "reason": "PullRequestClosed"}}
    )


@pytest.mark.parametrize(("off", "on"), [("closed", "reopened"), ("converted_to_draft", "ready_for_review")])
async def test_a_cancelled_review_does_not_block_the_next_review_of_the_same_head(
    control_plane: ControlPlane, api_client: client.ApiClient, namespace: str, off: str, on: str
) -> None:
    async with running_webhook(namespace, control_plane.kubeconfig) as (hook, _):
        opened = await hook.deliver("pull_request", example("pull_request", "opened"), delivery="d-open")
        assert opened.status == 201
        [first] = reviewjobs(api_client, namespace)
        name = first["metadata"]["name"]
        assert (
            await hook.deliver("pull_request", example("pull_request", off), delivery="d-off")
        ).status == 200
        end_as(api_client, namespace, name, "Cancelled")

        again = await hook.deliver("pull_request", example("pull_request", on), delivery="d-on")
        assert again.status == 201, await again.text()
        assert (await again.json())["reviewjob"] == name
        [second] = reviewjobs(api_client, namespace)
        assert second["metadata"]["uid"] != first["metadata"]["uid"]
        assert "cancel" not in second["spec"] and "status" not in second
        assert second["spec"]["trigger"]["deliveryId"] == "d-on"

        # Redeliveries dedupe: of the event that made it, and of the first one.
        for delivery, action in (("d-on", on), ("d-open", "opened")):
            response = await hook.deliver("pull_request", example("pull_request", action), delivery=delivery)
            assert (response.status, (await response.json())["result"]) == (200, "duplicate")
        [still] = reviewjobs(api_client, namespace)
        assert still["metadata"]["uid"] == second["metadata"]["uid"]


@pytest.mark.parametrize("phase", ["Succeeded", "Failed", "Superseded", None])
async def test_only_a_cancelled_review_is_replaced(
    control_plane: ControlPlane, api_client: client.ApiClient, namespace: str, phase: str | None
) -> None:
    async with running_webhook(namespace, control_plane.kubeconfig) as (hook, _):
        assert (
            await hook.deliver("pull_request", example("pull_request", "opened"), delivery="a")
        ).status == 201
        [first] = reviewjobs(api_client, namespace)
        if phase is not None:
            end_as(api_client, namespace, first["metadata"]["name"], phase)
        response = await hook.deliver("pull_request", example("pull_request", "reopened"), delivery="b")
        assert (response.status, (await response.json())["result"]) == (200, "duplicate")
    [same] = reviewjobs(api_client, namespace)
    assert same["metadata"]["uid"] == first["metadata"]["uid"]

"""Real payloads, signed, against the real API server: what each event records (or does not)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client

from review_operator.builders.names import LABEL_PULL_REQUEST, LABEL_REPOSITORY_ID, LABEL_SHA
from tests.harness.controlplane import ControlPlane
from tests.integration.webhook_helpers import (
    HEAD_SHA,
    example,
    managed_user_pull_request,
    review_comment,
    reviewjobs,
    running_webhook,
)


@pytest.mark.parametrize("action", ["opened", "reopened", "synchronize", "ready_for_review"])
async def test_review_action_creates_one_reviewjob_with_the_payloads_spec(
    control_plane: ControlPlane, api_client: client.ApiClient, namespace: str, action: str
) -> None:
    payload = example("pull_request", action)
    async with running_webhook(namespace, control_plane.kubeconfig) as (hook, _):
        response = await hook.deliver("pull_request", payload, delivery=f"d-{action}")
        assert response.status == 201, await response.text()
        answer = await response.json()
    [job] = reviewjobs(api_client, namespace)
    assert answer == {"result": "accepted", "reviewjob": job["metadata"]["name"]}
    assert job["metadata"]["name"] == f"pr-186853002-2-{HEAD_SHA[:12]}"
    labels = job["metadata"]["labels"]
    assert (labels[LABEL_REPOSITORY_ID], labels[LABEL_PULL_REQUEST], labels[LABEL_SHA]) == (
        "186853002",
        "2",
        HEAD_SHA[:12],
    )
    pr = payload["pull_request"]
    assert job["spec"]["repository"] == {"owner": "Codertocat", "name": "Hello-World", "id": 186853002}
    assert job["spec"]["pullRequest"] == {
        "number": 2,
        "headSha": pr["head"]["sha"],
        "baseSha": pr["base"]["sha"],
        "baseRef": pr["base"]["ref"],
        "title": pr["title"],
        "body": pr["body"],
        "author": "Codertocat",
        "authorAssociation": "OWNER",
        "draft": False,
    }
    assert job["spec"]["trigger"] == {
        "event": "pull_request",
        "action": action,
        "deliveryId": f"d-{action}",
        "sender": payload["sender"]["login"],
    }
    assert "cancel" not in job["spec"]


async def test_pull_request_of_an_enterprise_managed_user_creates_a_reviewjob(
    control_plane: ControlPlane, api_client: client.ApiClient, namespace: str
) -> None:
    payload = managed_user_pull_request("octocat_acme")
    async with running_webhook(namespace, control_plane.kubeconfig) as (hook, _):
        response = await hook.deliver("pull_request", payload)
        assert response.status == 201, await response.text()
    [job] = reviewjobs(api_client, namespace)  # the API server's schema accepted the logins too
    assert job["spec"]["repository"]["owner"] == "octocat_acme"
    assert job["spec"]["pullRequest"]["author"] == "octocat_acme"
    assert job["spec"]["trigger"]["sender"] == "octocat_acme"


async def test_trusted_review_comment_creates_a_reviewjob_without_head_sha(
    control_plane: ControlPlane, api_client: client.ApiClient, namespace: str
) -> None:
    payload = review_comment("/review")
    async with running_webhook(namespace, control_plane.kubeconfig) as (hook, _):
        response = await hook.deliver("issue_comment", payload, delivery="d-comment")
        assert response.status == 201
    [job] = reviewjobs(api_client, namespace)
    comment_id = payload["comment"]["id"]
    assert job["metadata"]["name"] == f"pr-186853002-{payload['issue']['number']}-c{comment_id}"
    assert "headSha" not in job["spec"]["pullRequest"]
    assert LABEL_SHA not in job["metadata"]["labels"]
    assert job["spec"]["trigger"] == {
        "event": "issue_comment",
        "action": "created",
        "deliveryId": "d-comment",
        "sender": payload["sender"]["login"],
        "commentId": comment_id,
    }


def _draft() -> dict[str, Any]:
    payload = example("pull_request", "opened")
    payload["pull_request"]["draft"] = True
    return payload


def _untrusted() -> dict[str, Any]:
    payload = example("pull_request", "opened")
    payload["pull_request"]["author_association"] = "FIRST_TIME_CONTRIBUTOR"
    return payload


IGNORED = {
    "labeled": ("pull_request", lambda: example("pull_request", "labeled")),
    "assigned": ("pull_request", lambda: example("pull_request", "assigned")),
    "draft": ("pull_request", _draft),
    "untrusted author": ("pull_request", _untrusted),
    "comment on an issue": ("issue_comment", lambda: example("issue_comment", "created")),
    "plain comment on a PR": ("issue_comment", lambda: review_comment("looks good to me")),
    "untrusted /review": ("issue_comment", lambda: review_comment("/review", association="NONE")),
    "edited comment": ("issue_comment", lambda: {**review_comment(), "action": "edited"}),
    "unknown event": ("deployment_status", lambda: {"action": "created"}),
}


@pytest.mark.parametrize("case", sorted(IGNORED))
async def test_ignored_delivery_answers_202_with_a_reason_and_creates_nothing(
    control_plane: ControlPlane, api_client: client.ApiClient, namespace: str, case: str
) -> None:
    event, factory = IGNORED[case]
    async with running_webhook(namespace, control_plane.kubeconfig) as (hook, _):
        response = await hook.deliver(event, factory())
        assert response.status == 202
        answer = await response.json()
    assert answer["result"] == "ignored" and answer["reason"]
    assert reviewjobs(api_client, namespace) == []


async def test_repository_outside_the_allow_list_is_ignored(
    control_plane: ControlPlane, api_client: client.ApiClient, namespace: str
) -> None:
    async with running_webhook(
        namespace, control_plane.kubeconfig, webhook_allowed_repositories=["other/repo"]
    ) as (hook, _):
        response = await hook.deliver("pull_request", example("pull_request", "opened"))
        assert response.status == 202
    assert reviewjobs(api_client, namespace) == []


async def test_ping_answers_200_and_creates_nothing(
    control_plane: ControlPlane, api_client: client.ApiClient, namespace: str
) -> None:
    async with running_webhook(namespace, control_plane.kubeconfig) as (hook, _):
        response = await hook.deliver("ping", example("ping"))
        assert response.status == 200
    assert reviewjobs(api_client, namespace) == []


async def test_each_delivery_logs_one_structured_line(control_plane: ControlPlane, namespace: str) -> None:
    async with running_webhook(namespace, control_plane.kubeconfig) as (hook, capture):
        await hook.deliver("pull_request", example("pull_request", "opened"), delivery="log-1")
        await hook.deliver("pull_request", example("pull_request", "opened"), delivery="log-2")
    lines = [json.loads(line) for line in capture.lines if '"logger": "review_operator.webhook"' in line]
    lines = [line for line in lines if line["message"] == "delivery"]
    assert [(line["delivery_id"], line["outcome"], line["status"]) for line in lines] == [
        ("log-1", "accepted", 201),
        ("log-2", "duplicate", 200),
    ]
    for line in lines:
        assert (line["event"], line["action"], line["repository"]) == (
            "pull_request",
            "opened",
            "Codertocat/Hello-World",
        )
        assert isinstance(line["latency_ms"], float)


async def test_health_readiness_and_metrics_endpoints(control_plane: ControlPlane, namespace: str) -> None:
    async with running_webhook(namespace, control_plane.kubeconfig) as (hook, _):
        assert (await hook.client.get("/healthz")).status == 200
        assert (await hook.client.get("/readyz")).status == 200
        await hook.deliver("pull_request", example("pull_request", "opened"))
        await hook.deliver("pull_request", example("pull_request", "opened"))
        await hook.deliver("star", {"action": "created"})
        metrics = await (await hook.client.get("/metrics")).text()
    assert 'reviewop_webhook_deliveries_total{event="pull_request",outcome="accepted"} 1.0' in metrics
    assert 'reviewop_webhook_deliveries_total{event="pull_request",outcome="duplicate"} 1.0' in metrics
    assert 'reviewop_webhook_deliveries_total{event="other",outcome="ignored"} 1.0' in metrics
    assert 'reviewop_webhook_deliveries_total{event="issue_comment",outcome="rate_limited"} 0.0' in metrics
    assert "reviewop_webhook_delivery_duration_seconds_bucket" in metrics

"""Repeated `/review` commands cost nothing (issue 17 item 13): real payloads, signed, against the
real API server. Ten `/review` comments used to make ten reviews."""

from __future__ import annotations

import copy

import pytest
from kubernetes import client

from tests.harness.controlplane import ControlPlane
from tests.integration.webhook_helpers import review_comment, reviewjobs, running_webhook


def comment(body: str, comment_id: int) -> dict[str, object]:
    payload = copy.deepcopy(review_comment(body))
    payload["comment"]["id"] = comment_id  # type: ignore[index]
    return payload


async def test_ten_review_comments_on_one_pr_record_one_reviewjob_and_name_it_in_every_answer(
    control_plane: ControlPlane, api_client: client.ApiClient, namespace: str
) -> None:
    async with running_webhook(namespace, control_plane.kubeconfig) as (hook, _):
        answers = []
        for i in range(10):
            response = await hook.deliver("issue_comment", comment("/review", 5000 + i), delivery=f"d-{i}")
            answers.append((response.status, await response.json()))
    [job] = reviewjobs(api_client, namespace)
    name = job["metadata"]["name"]
    assert answers[0] == (201, {"result": "accepted", "reviewjob": name})
    for status, body in answers[1:]:
        assert status == 200
        assert body["result"] == "duplicate"
        assert body["reviewjob"] == name


async def test_review_force_runs_again_but_once_per_interval(
    control_plane: ControlPlane, api_client: client.ApiClient, namespace: str
) -> None:
    async with running_webhook(namespace, control_plane.kubeconfig, webhook_force_interval_seconds=600) as (
        hook,
        _,
    ):
        plain = await hook.deliver("issue_comment", comment("/review", 7001), delivery="d-plain")
        forced = await hook.deliver("issue_comment", comment("/review force", 7002), delivery="d-force")
        again = await hook.deliver("issue_comment", comment("/review force please", 7003), delivery="d-again")
        assert (plain.status, forced.status, again.status) == (201, 201, 429)
        retry_after = int(again.headers["Retry-After"])
        assert 590 <= retry_after <= 600
        assert "force" in (await again.json())["reason"]
    jobs = {j["metadata"]["name"]: j for j in reviewjobs(api_client, namespace)}
    assert len(jobs) == 2
    [forced_job] = [j for j in jobs.values() if j["spec"]["trigger"].get("force")]
    assert forced_job["metadata"]["labels"]["review-operator.dev/force"] == "true"


@pytest.mark.parametrize(
    ("body", "force"),
    [
        ("/review", False),
        ("/review force", True),
        ("  /review force\nthanks", True),
        ("/review forced", False),
    ],
)
async def test_the_force_word_is_read_from_the_command(
    control_plane: ControlPlane, api_client: client.ApiClient, namespace: str, body: str, force: bool
) -> None:
    async with running_webhook(namespace, control_plane.kubeconfig) as (hook, _):
        assert (await hook.deliver("issue_comment", comment(body, 8001), delivery="d")).status == 201
    [job] = reviewjobs(api_client, namespace)
    assert bool(job["spec"]["trigger"].get("force")) is force

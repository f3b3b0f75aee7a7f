# ruff: noqa: F811 - `stack` is the fixture imported from test_controller, used as a parameter
"""Waiting without holding a slot, against the real control plane and the GitHub double: a finished
review outlives a GitHub rate limit and outage, and a pod the API server refuses ends the review."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import pytest
from kubernetes import client

from review_operator.builders.names import LABEL_REVIEWJOB
from tests.e2e.test_controller import SIM, Stack, stack  # noqa: F401 - pytest fixtures
from tests.github_double.fixtures import app_key, openapi  # noqa: F401 - pytest fixtures

REVIEWS = "/repo3/pulls/1/reviews$"  # the reviews of PR 1 of stack.repos[3] only


def _pods_of(stack: Stack, name: str) -> list[Any]:
    return list(
        client.CoreV1Api(stack.api)
        .list_namespaced_pod(stack.namespace, label_selector=f"{LABEL_REVIEWJOB}={name}")
        .items
    )


def _stop_faults(stack: Stack) -> None:
    for fault in stack.double.faults:
        fault.remaining = 0


@pytest.mark.controller_env(
    REVIEWOP_MAX_CONCURRENT="1",
    # Each controller attempt is one POST, and every retry-after goes back to the controller.
    REVIEWOP_GITHUB_MAX_ATTEMPTS="1",
    REVIEWOP_GITHUB_MAX_RETRY_AFTER_SECONDS="0",
)
@pytest.mark.timeout(240)
async def test_a_finished_review_outlives_a_github_outage_without_its_slot_and_posts_once(
    stack: Stack,
) -> None:
    repo, other = stack.repos[3], stack.repos[4]
    # An outage longer than the five attempts the controller used to allow: first a rate limit with
    # retry-after 2 s, then 502s.
    stack.double.rate_limit_next("POST", REVIEWS, count=10**6, retry_after=2)
    outage_began = time.monotonic()
    stack.reviewjob("patient", repo, 1, {SIM + "duration": "100ms"})

    def delayed() -> bool:
        status = stack.get("patient").get("status", {})
        return status.get("phase") == "Running" and status.get("reason") == "PostingDelayed"

    await stack.wait(delayed, 60, "patient to wait for GitHub (Running/PostingDelayed)")
    status = stack.get("patient")["status"]
    assert status["posting"]["state"] == "Delayed"
    assert status["posting"]["result"]  # the result is kept, so the pod can go
    assert status["result"]["costUsd"] >= 0
    assert status.get("podName") is None
    await stack.wait(lambda: _pods_of(stack, "patient") == [], 30, "the waiting review's pod deleted")

    # The only slot is free while it waits: another review runs and is posted meanwhile.
    stack.reviewjob("meanwhile", other, 1, {SIM + "duration": "100ms"})
    done = await stack.wait_final(["meanwhile"], timeout=60)
    assert done["meanwhile"]["status"]["phase"] == "Succeeded"
    assert stack.get("patient")["status"]["phase"] == "Running"

    # Let the rate limit run a while, then a 5xx outage, still longer than five attempts.
    await asyncio.sleep(max(0.0, 10 - (time.monotonic() - outage_began)))
    _stop_faults(stack)
    stack.double.fail_next("POST", REVIEWS, count=10**6, status=502)
    await stack.wait(
        lambda: stack.double.count("POST", REVIEWS) >= 8, 60, "more attempts through the 5xx outage"
    )
    assert stack.get("patient")["status"]["phase"] == "Running"
    _stop_faults(stack)

    final = (await stack.wait_final(["patient"], timeout=60))["patient"]["status"]
    assert (final["phase"], final["reason"]) == ("Succeeded", "Succeeded")
    assert final["attempts"] == 1  # the paid review was never run again
    assert len(stack.reviews_on(repo, 1)) == 1
    posts = stack.double.calls("POST", REVIEWS)
    assert len(posts) > 5
    limited = [r.at for r in posts if r.status in (403, 429)]
    assert len(limited) >= 3
    gaps = [b - a for a, b in itertools.pairwise(limited)]
    assert min(gaps) >= 1.9, gaps  # never sooner than retry-after (2 s)


async def test_a_pod_the_api_server_refuses_ends_pod_rejected_and_tells_the_pr(stack: Stack) -> None:
    core = client.CoreV1Api(stack.api)
    quota = client.V1ResourceQuota(
        metadata=client.V1ObjectMeta(name="no-pods"), spec=client.V1ResourceQuotaSpec(hard={"pods": "0"})
    )
    core.create_namespaced_resource_quota(stack.namespace, quota)
    # The test control plane runs no resource-quota controller; the API server's admission only
    # enforces what the quota's status says, so say it as that controller would.
    core.patch_namespaced_resource_quota_status(
        "no-pods", stack.namespace, {"status": {"hard": {"pods": "0"}, "used": {"pods": "0"}}}
    )
    repo = stack.repos[5]
    try:
        stack.reviewjob("refused", repo, 1, {SIM + "duration": "100ms"})
        status = (await stack.wait_final(["refused"], timeout=60))["refused"]["status"]
    finally:
        core.delete_namespaced_resource_quota("no-pods", stack.namespace)
    assert (status["phase"], status["reason"]) == ("Failed", "PodRejected")
    assert "forbidden" in status["message"] and "no-pods" in status["message"]
    finished = next(c for c in status["conditions"] if c["type"] == "Finished")
    assert finished["reason"] == "PodRejected" and "no-pods" in finished["message"]
    await stack.wait(
        lambda: stack.get("refused")["status"].get("posting", {}).get("state") == "Posted", 20, "PR note"
    )
    [note] = stack.double.pulls[(repo.id, 1)].comments
    assert "PodRejected" in note["body"] and "no-pods" in note["body"]
    await stack.wait(
        lambda: (
            "refused-checkout"
            not in {s.metadata.name for s in core.list_namespaced_secret(stack.namespace).items}
        ),
        30,
        "the checkout Secret removed",
    )
    assert _pods_of(stack, "refused") == []

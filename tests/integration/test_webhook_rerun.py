"""GitHub's "Re-run" of our check run (or of our App's check suite) reviews that head again, forced
(issue 19, item 5): real `check_run` / `check_suite` `rerequested` payloads, signed, against the
real API server. Fork pull requests carry no `pull_requests`: the run's external id (the ReviewJob's
name) says which pull request it is."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from review_operator.builders.names import rerun_suffix
from tests.harness.controlplane import ControlPlane
from tests.integration.webhook_helpers import (
    APP_ID,
    HEAD_SHA,
    example,
    rerequested,
    reviewjobs,
    running_webhook,
)

FIRST = f"pr-186853002-2-{HEAD_SHA[:12]}"  # the opened example's ReviewJob


def forced(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [j for j in jobs if j["spec"]["trigger"].get("force")]


@pytest.mark.parametrize(
    ("event", "pulls"), [("check_run", (2,)), ("check_run", ()), ("check_suite", (2,)), ("check_suite", ())]
)
async def test_a_rerequest_creates_one_forced_review_of_that_head(
    control_plane: ControlPlane,
    api_client: client.ApiClient,
    namespace: str,
    event: str,
    pulls: tuple[int, ...],
) -> None:
    async with running_webhook(namespace, control_plane.kubeconfig, webhook_github_app_id=APP_ID) as (
        hook,
        _,
    ):
        opened = await hook.deliver("pull_request", example("pull_request", "opened"), delivery="d-open")
        assert opened.status == 201
        payload = rerequested(event, external_id=FIRST, pull_numbers=pulls)
        answer = await hook.deliver(event, payload, delivery="d-rerun")
        assert answer.status == 201, await answer.text()
        name = f"{FIRST}-{rerun_suffix('d-rerun')}"
        assert (await answer.json())["reviewjob"] == name
        again = await hook.deliver(event, payload, delivery="d-rerun")  # a redelivery
        assert (again.status, (await again.json())["result"]) == (200, "duplicate")
    jobs = reviewjobs(api_client, namespace)
    [job] = forced(jobs)
    assert len(jobs) == 2 and job["metadata"]["name"] == name
    assert job["metadata"]["labels"]["review-operator.dev/force"] == "true"
    assert job["spec"]["trigger"]["event"] == event and job["spec"]["trigger"]["action"] == "rerequested"
    assert job["spec"]["pullRequest"]["number"] == 2 and job["spec"]["pullRequest"]["headSha"] == HEAD_SHA
    assert job["spec"]["installationId"] == 957387


async def test_reruns_share_the_force_interval_with_review_force(
    control_plane: ControlPlane, api_client: client.ApiClient, namespace: str
) -> None:
    async with running_webhook(
        namespace, control_plane.kubeconfig, webhook_github_app_id=APP_ID, webhook_force_interval_seconds=600
    ) as (hook, _):
        await hook.deliver("pull_request", example("pull_request", "opened"), delivery="d-open")
        first = await hook.deliver("check_run", rerequested(external_id=FIRST), delivery="d-1")
        second = await hook.deliver("check_suite", rerequested("check_suite"), delivery="d-2")
        assert (first.status, second.status) == (201, 429)
        assert 590 <= int(second.headers["Retry-After"]) <= 600
    assert len(forced(reviewjobs(api_client, namespace))) == 1


async def test_rerequests_of_other_apps_or_without_a_known_review_create_nothing(
    control_plane: ControlPlane, api_client: client.ApiClient, namespace: str
) -> None:
    async with running_webhook(namespace, control_plane.kubeconfig, webhook_github_app_id=APP_ID) as (
        hook,
        _,
    ):
        nothing_yet = await hook.deliver("check_run", rerequested(external_id=FIRST), delivery="d-0")
        assert nothing_yet.status == 202
        assert "no ReviewJob of this head" in (await nothing_yet.json())["reason"]
        await hook.deliver("pull_request", example("pull_request", "opened"), delivery="d-open")
        for event, payload in (
            ("check_run", rerequested(external_id=FIRST, app_id=7)),
            ("check_run", rerequested(external_id=FIRST, name="lint")),
            ("check_suite", rerequested("check_suite", app_id=7)),
        ):
            answer = await hook.deliver(event, payload, delivery=f"d-{event}")
            assert (answer.status, (await answer.json())["result"]) == (202, "ignored")
    assert [j["metadata"]["name"] for j in reviewjobs(api_client, namespace)] == [FIRST]

"""A controller that has lost its Lease writes nothing: every Kubernetes and GitHub write checks the
fence at the moment it is sent, and standing by cancels the work in flight (issue 17, item 9).

Against the real API server and the GitHub double: the reproduced defect was a review created 1.5 s
after the replica stopped leading, by a post that had started while it still led.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from kubernetes import client
from prometheus_client import CollectorRegistry

from review_operator.api.models import GROUP, PLURAL, VERSION, ReviewJob
from review_operator.api.result import ResultOutcome, ReviewResult, encode_result
from review_operator.config import ControllerSettings
from review_operator.controller.engine.loop import Engine
from review_operator.fence import Fence, NotLeading
from review_operator.github import make_github
from review_operator.k8s.aio import AsyncKube
from review_operator.metrics import ControllerMetrics
from tests.github_double import fixtures
from tests.github_double.fixtures import World, make_job, settings_for

pytestmark = pytest.mark.integration
openapi, app_key, world = fixtures.openapi, fixtures.app_key, fixtures.world
FILES = r"/pulls/1/files$"
REVIEWS = r"/pulls/1/reviews$"


@dataclass
class Controller:
    engine: Engine
    fence: Fence
    kube: AsyncKube
    name: str


def custom(api: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


def delayed_post(world: World, namespace: str, api: client.ApiClient) -> str:
    """A finished review whose post GitHub delayed, due now: the next pass posts it."""
    job = make_job(world, name="rj-lease")
    manifest = job.to_manifest()
    manifest["metadata"]["namespace"] = namespace
    custom(api).create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, manifest)
    past = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    result = ReviewResult(outcome=ResultOutcome.SUCCESS, summary="Fine.", findings=[])
    status = {
        "phase": "Running",
        "attempts": 1,
        "headSha": job.spec.pull_request.head_sha,
        "startTime": past,
        "posting": {
            "state": "Delayed",
            "attempts": 1,
            "delayedSince": past,
            "nextAttemptAt": past,
            "result": encode_result(result),
        },
    }
    custom(api).patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, PLURAL, "rj-lease", {"status": status}
    )
    return "rj-lease"


@pytest.fixture
async def controller(world: World, namespace: str, api_client: client.ApiClient) -> AsyncIterator[Controller]:
    fence = Fence()
    settings = ControllerSettings(namespace=namespace)
    kube = AsyncKube(api_client.configuration, pool_size=4, fence=fence)
    github = make_github(settings_for(world), fence=fence)
    metrics = ControllerMetrics(CollectorRegistry())
    engine = Engine(settings, kube, metrics, github=github, github_api_url=world.double.url, fence=fence)
    name = delayed_post(world, namespace, api_client)
    try:
        yield Controller(engine, fence, kube, name)
    finally:
        engine.stand_by()
        await kube.close()


def stored(api: client.ApiClient, namespace: str, name: str) -> ReviewJob:
    got = custom(api).get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    return ReviewJob.model_validate(got)


async def test_a_write_is_refused_once_the_lease_lapsed_and_nothing_is_sent(
    world: World, namespace: str, api_client: client.ApiClient
) -> None:
    fence = Fence(until=datetime.now(UTC) + timedelta(seconds=30))
    kube = AsyncKube(api_client.configuration, pool_size=2, fence=fence)
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    try:
        await kube.request("POST", path, {"metadata": {"name": "while-leading"}})
        fence.grant(datetime.now(UTC) - timedelta(seconds=1))  # the Lease ran out, nobody told us
        with pytest.raises(NotLeading):
            await kube.request("POST", path, {"metadata": {"name": "after-the-lease"}})
        listed = client.CoreV1Api(api_client).list_namespaced_config_map(namespace).items
        names = {c.metadata.name for c in listed}
        assert "while-leading" in names
        assert "after-the-lease" not in names
        await kube.request("GET", path)  # reads need no lease
    finally:
        await kube.close()


async def test_a_post_that_outlives_the_lease_creates_no_review(
    world: World, controller: Controller, namespace: str, api_client: client.ApiClient
) -> None:
    # GitHub is slow: the post starts while leading and reaches its write after the Lease lapsed.
    world.double.delay_next("GET", FILES, seconds=1.5)
    controller.fence.grant(datetime.now(UTC) + timedelta(seconds=0.7))
    assert await controller.engine.reconcile_once() >= 1
    await asyncio.sleep(0.3)
    assert world.double.count("GET", FILES) == 0  # still waiting for GitHub's answer
    before = stored(api_client, namespace, controller.name)
    assert before.status.posting.state.value == "Posting"
    await asyncio.sleep(2.5)
    assert world.double.count("GET", FILES) == 1  # the read went through ...
    assert world.double.count("POST", REVIEWS) == 0  # ... the write was never sent
    assert world.double.pulls[(world.repo.id, 1)].reviews == []
    after = stored(api_client, namespace, controller.name)
    assert after.metadata.resource_version == before.metadata.resource_version  # nor any status write


async def test_standing_by_cancels_the_post_in_flight(
    world: World, controller: Controller, namespace: str, api_client: client.ApiClient
) -> None:
    world.double.delay_next("GET", FILES, seconds=1.0)
    assert await controller.engine.reconcile_once() >= 1
    await asyncio.sleep(0.3)
    controller.engine.stand_by()  # the Lease was lost: the leader takes over from here
    before = stored(api_client, namespace, controller.name)
    await asyncio.sleep(2.0)
    assert world.double.count("POST", REVIEWS) == 0
    assert world.double.pulls[(world.repo.id, 1)].reviews == []
    after = stored(api_client, namespace, controller.name)
    assert after.metadata.resource_version == before.metadata.resource_version
    # A replica that leads again posts it, exactly once.
    controller.engine.lead_until(datetime.now(UTC) + timedelta(seconds=60))
    assert await controller.engine.reconcile_once() >= 1
    for _ in range(100):
        if stored(api_client, namespace, controller.name).status.phase.value == "Succeeded":
            break
        await asyncio.sleep(0.1)
    assert stored(api_client, namespace, controller.name).status.phase.value == "Succeeded"
    assert len(world.double.pulls[(world.repo.id, 1)].reviews) == 1

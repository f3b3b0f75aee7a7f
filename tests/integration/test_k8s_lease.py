"""`review_operator.k8s.lease` against the real API server: of two replicas exactly one leads, an
expired Lease is taken over, a renewal on a stale read loses, and release hands the Lease on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from review_operator.k8s import lease
from review_operator.k8s.aio import AsyncKube, Manifest
from review_operator.k8s.client import load_configuration
from review_operator.k8s.errors import ApiUnavailable
from tests.harness.controlplane import ControlPlane, free_port
from tests.integration.webhook_helpers import kubeconfig_via

NAME = "review-operator-leader"


@pytest.fixture
async def kube(api_client: client.ApiClient) -> AsyncIterator[AsyncKube]:
    kube = AsyncKube(api_client.configuration, pool_size=2, timeout=10)
    yield kube
    await kube.close()


def read(api_client: client.ApiClient, namespace: str) -> client.V1LeaseSpec:
    spec = client.CoordinationV1Api(api_client).read_namespaced_lease(NAME, namespace).spec
    assert spec is not None
    return spec


def backdate(api_client: client.ApiClient, namespace: str, seconds: int) -> None:
    """Makes the holder's last renewal `seconds` old, as if it had stopped renewing."""
    then = lease.micro_time(datetime.now(UTC) - timedelta(seconds=seconds))
    body = {"spec": {"renewTime": then, "acquireTime": then}}
    client.CoordinationV1Api(api_client).patch_namespaced_lease(NAME, namespace, body)


async def test_first_replica_creates_and_holds_the_lease_and_a_second_is_refused(
    kube: AsyncKube, api_client: client.ApiClient, namespace: str
) -> None:
    assert await lease.try_acquire(kube, namespace, NAME, "a", 30)
    first = read(api_client, namespace)
    assert (first.holder_identity, first.lease_duration_seconds, first.lease_transitions) == ("a", 30, 0)

    assert not await lease.try_acquire(kube, namespace, NAME, "b", 30)
    assert read(api_client, namespace).holder_identity == "a"

    assert await lease.try_acquire(kube, namespace, NAME, "a", 30)
    renewed = read(api_client, namespace)
    assert renewed.holder_identity == "a" and renewed.lease_transitions == 0
    assert renewed.renew_time is not None and first.renew_time is not None
    assert renewed.renew_time > first.renew_time
    assert renewed.acquire_time == first.acquire_time


async def test_an_expired_lease_is_taken_over(
    kube: AsyncKube, api_client: client.ApiClient, namespace: str
) -> None:
    assert await lease.try_acquire(kube, namespace, NAME, "a", 5)
    backdate(api_client, namespace, 60)
    assert await lease.try_acquire(kube, namespace, NAME, "b", 5)
    spec = read(api_client, namespace)
    assert spec.holder_identity == "b" and spec.lease_transitions == 1
    assert spec.acquire_time is not None and spec.acquire_time > datetime.now(UTC) - timedelta(seconds=30)
    assert not await lease.try_acquire(kube, namespace, NAME, "a", 5)


class Interloper(AsyncKube):
    """Another replica writes the Lease between our read and our replace."""

    def __init__(self, api_client: client.ApiClient) -> None:
        super().__init__(api_client.configuration, pool_size=2, timeout=10)
        self.api_client = api_client

    async def json(self, method: str, path: str, body: Manifest | None = None, **options: Any) -> Manifest:
        answer = await super().json(method, path, body, **options)
        if method == "GET":
            patch = {"metadata": {"labels": {"touched": "yes"}}}
            namespace = answer["metadata"]["namespace"]
            client.CoordinationV1Api(self.api_client).patch_namespaced_lease(NAME, namespace, patch)
        return answer


async def test_a_renewal_on_a_stale_read_loses_the_race(
    kube: AsyncKube, api_client: client.ApiClient, namespace: str
) -> None:
    assert await lease.try_acquire(kube, namespace, NAME, "a", 30)
    backdate(api_client, namespace, 60)
    late = Interloper(api_client)
    try:
        assert not await lease.try_acquire(late, namespace, NAME, "b", 30)
    finally:
        await late.close()
    assert read(api_client, namespace).holder_identity == "a"


async def test_release_hands_the_lease_on_only_when_we_hold_it(
    kube: AsyncKube, api_client: client.ApiClient, namespace: str
) -> None:
    await lease.release(kube, namespace, NAME, "a")  # no Lease yet: nothing to do, no error
    assert await lease.try_acquire(kube, namespace, NAME, "a", 30)
    await lease.release(kube, namespace, NAME, "b")
    assert read(api_client, namespace).holder_identity == "a"

    await lease.release(kube, namespace, NAME, "a")
    released = read(api_client, namespace)
    assert not released.holder_identity and released.renew_time is None
    assert await lease.try_acquire(kube, namespace, NAME, "b", 30)  # no need to wait for expiry


async def test_unreachable_api_server_raises_api_unavailable_and_release_gives_up_quietly(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    kubeconfig = kubeconfig_via(control_plane.kubeconfig, tmp_path / "kubeconfig", free_port())
    kube = AsyncKube(load_configuration(str(kubeconfig)), pool_size=1, timeout=2)
    try:
        with pytest.raises(ApiUnavailable):
            await lease.try_acquire(kube, "default", NAME, "a", 30)
        await lease.release(kube, "default", NAME, "a")
    finally:
        await kube.close()

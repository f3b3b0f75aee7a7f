"""Exactly once: concurrent copies, redeliveries, replicas, and an API server that goes away."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kubernetes import client

from tests.harness.controlplane import ControlPlane
from tests.integration.webhook_helpers import (
    TcpProxy,
    encode,
    example,
    kubeconfig_via,
    reviewjobs,
    running_webhook,
    signed_headers,
)


async def test_fifty_concurrent_copies_of_one_delivery_create_one_reviewjob(
    control_plane: ControlPlane, api_client: client.ApiClient, namespace: str
) -> None:
    body = encode(example("pull_request", "opened"))
    headers = signed_headers(body, "pull_request", "same-delivery")
    async with running_webhook(namespace, control_plane.kubeconfig) as (hook, _):
        responses = await asyncio.gather(*(hook.post(body, headers) for _ in range(50)))
        answers = [(r.status, (await r.json())["result"]) for r in responses]
    assert sorted(answers).count((201, "accepted")) == 1
    assert sorted(answers).count((200, "duplicate")) == 49
    [job] = reviewjobs(api_client, namespace)
    assert job["spec"]["trigger"]["deliveryId"] == "same-delivery"


async def test_manual_redelivery_is_answered_as_duplicate(
    control_plane: ControlPlane, api_client: client.ApiClient, namespace: str
) -> None:
    payload = example("pull_request", "synchronize")
    async with running_webhook(namespace, control_plane.kubeconfig) as (hook, _):
        first = await hook.deliver("pull_request", payload, delivery="redelivered")
        again = await hook.deliver("pull_request", payload, delivery="redelivered")
        assert (first.status, again.status) == (201, 200)
        assert (await again.json())["result"] == "duplicate"
    assert len(reviewjobs(api_client, namespace)) == 1


async def test_two_replicas_receiving_the_same_delivery_create_one_reviewjob(
    control_plane: ControlPlane, api_client: client.ApiClient, namespace: str
) -> None:
    body = encode(example("pull_request", "opened"))
    headers = signed_headers(body, "pull_request", "both-replicas")
    async with (
        running_webhook(namespace, control_plane.kubeconfig) as (one, _),
        running_webhook(namespace, control_plane.kubeconfig) as (two, _),
    ):
        responses = await asyncio.gather(
            *(hook.post(body, headers) for hook in (one, two) for _ in range(10))
        )
    statuses = sorted(r.status for r in responses)
    assert statuses == [200] * 19 + [201]
    assert len(reviewjobs(api_client, namespace)) == 1


async def test_api_server_down_answers_503_and_the_retry_creates_exactly_one(
    control_plane: ControlPlane, api_client: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    proxy = TcpProxy(control_plane.apiserver_port)
    await proxy.start()
    kubeconfig = kubeconfig_via(control_plane.kubeconfig, tmp_path / "kubeconfig", proxy.port)
    body = encode(example("pull_request", "opened"))
    headers = signed_headers(body, "pull_request", "during-outage")
    try:
        async with running_webhook(namespace, kubeconfig) as (hook, _):
            assert (await hook.client.get("/readyz")).status == 200
            await proxy.stop()
            down = await hook.post(body, headers)
            assert down.status == 503
            assert (await down.json())["result"] == "error"
            assert (await hook.client.get("/readyz")).status == 503
            assert (await hook.client.get("/healthz")).status == 200
            assert reviewjobs(api_client, namespace) == []

            await proxy.start(proxy.port)  # the API server is back; GitHub's redelivery arrives
            retried = await hook.post(body, headers)
            assert retried.status == 201
            again = await hook.post(body, headers)
            assert again.status == 200
    finally:
        await proxy.stop()
    [job] = reviewjobs(api_client, namespace)
    assert job["spec"]["trigger"]["deliveryId"] == "during-outage"


async def test_hung_api_server_answers_503_without_blocking_other_requests(
    control_plane: ControlPlane, api_client: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    proxy = TcpProxy(control_plane.apiserver_port)
    proxy.hang = True
    await proxy.start()
    kubeconfig = kubeconfig_via(control_plane.kubeconfig, tmp_path / "kubeconfig", proxy.port)
    body = encode(example("pull_request", "opened"))
    try:
        async with running_webhook(namespace, kubeconfig, webhook_api_timeout_seconds=2.0) as (hook, _):
            pending = asyncio.ensure_future(hook.post(body, signed_headers(body, "pull_request")))
            # While the delivery waits on the API server, the loop still answers others.
            assert (await hook.client.get("/healthz")).status == 200
            ping = await hook.post(encode({"zen": "z"}), signed_headers(encode({"zen": "z"}), "ping"))
            assert ping.status == 200
            assert not pending.done()
            assert (await pending).status == 503
    finally:
        await proxy.stop()
    assert reviewjobs(api_client, namespace) == []

"""Garbage collection: finished ReviewJobs older than the TTL are deleted, and what they own goes too."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from prometheus_client import CollectorRegistry

from review_operator.api.models import GROUP, PLURAL, VERSION
from review_operator.config import ControllerSettings
from review_operator.controller.engine.loop import Engine
from review_operator.k8s.aio import AsyncKube
from review_operator.metrics import ControllerMetrics

FINISHED = "review-operator.dev/finished"


def _create(crd: client.CustomObjectsApi, ns: str, name: str, done: datetime | None) -> dict[str, Any]:
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ReviewJob",
        "metadata": {"name": name, "labels": {FINISHED: "true"} if done else {}},
        "spec": {
            "repository": {"owner": "o", "name": "r", "id": 1},
            "pullRequest": {"number": 1, "headSha": "a" * 40, "author": "dev", "authorAssociation": "MEMBER"},
            "trigger": {"event": "pull_request", "action": "opened", "sender": "dev"},
        },
    }
    created = cast(dict[str, Any], crd.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, body))
    if done is not None:
        status = {"phase": "Succeeded", "completionTime": done.strftime("%Y-%m-%dT%H:%M:%SZ")}
        crd.patch_namespaced_custom_object_status(GROUP, VERSION, ns, PLURAL, name, {"status": status})
    return created


async def test_finished_reviewjobs_past_the_ttl_are_deleted_with_what_they_own(
    api_client: client.ApiClient, namespace: str
) -> None:
    crd, core = client.CustomObjectsApi(api_client), client.CoreV1Api(api_client)
    now = datetime.now(UTC)
    old = _create(crd, namespace, "old", now - timedelta(days=8))
    _create(crd, namespace, "recent", now - timedelta(hours=1))
    _create(crd, namespace, "active", None)
    owner = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ReviewJob",
        "name": "old",
        "uid": old["metadata"]["uid"],
    }
    core.create_namespaced_secret(
        namespace,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name="old-checkout", owner_references=[owner]),
            string_data={"token": "x"},
        ),
    )
    settings = ControllerSettings(namespace=namespace)  # finished TTL: 7 days by default
    kube = AsyncKube(api_client.configuration, pool_size=2)
    engine = Engine(settings, kube, ControllerMetrics(CollectorRegistry()))

    await engine.collect_garbage(now)
    await kube.close()

    listed = cast(dict[str, Any], crd.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL))
    items = listed["items"]
    assert {i["metadata"]["name"] for i in items} == {"recent", "active"}
    # The Secret it owned is removed by the garbage collector (kube-controller-manager); a GC that has
    # not yet rediscovered the CRD (it does every 30 s) retries until it has: allow 90 s.
    for _ in range(180):
        try:
            core.read_namespaced_secret("old-checkout", namespace)
        except ApiException as exc:
            assert exc.status == 404
            break
        await asyncio.sleep(0.5)
    else:
        raise AssertionError("the owned Secret outlived its ReviewJob")

"""Garbage collection: finished ReviewJobs older than the TTL are deleted, and what they own goes too."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from prometheus_client import CollectorRegistry

from review_operator.api.models import GROUP, PLURAL, VERSION
from review_operator.config import ControllerSettings
from review_operator.controller.decide.retention import day_label
from review_operator.controller.engine import loop
from review_operator.controller.engine.loop import Engine
from review_operator.k8s.aio import AsyncKube
from review_operator.metrics import ControllerMetrics

FINISHED = "review-operator.dev/finished"
FINISHED_DAY = "review-operator.dev/finished-day"


def _create(
    crd: client.CustomObjectsApi, ns: str, name: str, done: datetime | None, day: str = ""
) -> dict[str, Any]:
    labels = {FINISHED: "true"} if done else {}
    if day:
        labels[FINISHED_DAY] = day
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ReviewJob",
        "metadata": {"name": name, "labels": labels},
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


async def test_gc_and_the_budget_read_only_the_days_they_need_a_page_at_a_time(
    api_client: client.ApiClient, namespace: str, monkeypatch: Any
) -> None:
    """Finished ReviewJobs carry the day they finished: GC reads only the days past the TTL and the
    boundary day (never the week kept under it), the daily budget only today's, each in pages; one
    finished before the day label existed still expires."""
    monkeypatch.setattr(loop, "FINISHED_PAGE", 2)
    crd = client.CustomObjectsApi(api_client)
    now = datetime.now(UTC)
    ttl = timedelta(days=7)
    ended = {
        **{f"old-{i}": now - ttl - timedelta(days=2, hours=i) for i in range(3)},
        "boundary-past": now - ttl - timedelta(minutes=1),
        "boundary-kept": now - ttl + timedelta(minutes=1),
        **{f"week-{i}": now - timedelta(days=i + 1) for i in range(3)},
        **{f"today-{i}": now - timedelta(seconds=i + 1) for i in range(2)},
    }
    for name, done in ended.items():
        _create(crd, namespace, name, done, day=day_label(done))
    _create(crd, namespace, "legacy-old", now - ttl - timedelta(days=1))  # finished before the day label
    for name in ("today-0", "today-1"):
        attempt = {"attempt": 1, "costUsd": 0.25, "at": now.strftime("%Y-%m-%dT%H:%M:%SZ")}
        patch = {"status": {"spend": {"attempts": [attempt], "totalCostUsd": 0.25}}}
        crd.patch_namespaced_custom_object_status(GROUP, VERSION, namespace, PLURAL, name, patch)
    kube = AsyncKube(api_client.configuration, pool_size=2)
    reads: list[tuple[dict[str, str], list[str]]] = []
    request = kube.request

    async def recording(method: str, path: str, *args: Any, **kwargs: Any) -> bytes:
        answer = await request(method, path, *args, **kwargs)
        if method == "GET" and path.endswith(PLURAL):
            names = [i["metadata"]["name"] for i in json.loads(answer)["items"]]
            reads.append((dict(kwargs.get("params") or {}), names))
        return answer

    monkeypatch.setattr(kube, "request", recording)
    settings = ControllerSettings(
        namespace=namespace, daily_budget_usd=100, finished_ttl_seconds=ttl.days * 86400
    )
    engine = Engine(settings, kube, ControllerMetrics(CollectorRegistry()))

    await engine.collect_garbage(now)
    await kube.close()

    listed = cast(dict[str, Any], crd.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL))
    kept = {i["metadata"]["name"] for i in listed["items"]}
    assert kept == {"boundary-kept", "week-0", "week-1", "week-2", "today-0", "today-1"}
    seen = [name for _, names in reads for name in names]
    # Nothing of the kept week was read but today's (by the budget) and the boundary day's.
    assert not {n for n in seen if n.startswith("week-")}
    assert seen.count("today-0") == 1 and seen.count("today-1") == 1
    assert engine.spend.today(now) == 0.5
    assert all(p["limit"] == "2" for p, _ in reads)
    assert any(p.get("continue") for p, _ in reads)  # the 4 past the TTL took two pages

"""The controller's API calls: pods, Secrets, Events and ReviewJobs over `AsyncKube`, on the event loop.

Objects cross this boundary as plain camelCase manifests (dicts), the shape the builders produce
and the classification reads; LIST bodies stay bytes, validated straight into models by the caller.
Errors are the typed ones of `review_operator.k8s.errors`; the steps that must be repeatable
(create-or-get, delete-if-present) absorb the one status that means "already done".
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from review_operator.api.models import rfc3339
from review_operator.k8s.aio import MERGE_PATCH, AsyncKube, core_path, reviewjobs_path
from review_operator.k8s.errors import AlreadyExists, Conflict, KubeError, NotFound

log = logging.getLogger(__name__)
Manifest = dict[str, Any]


async def create_or_get_pod(kube: AsyncKube, manifest: Manifest) -> tuple[Manifest, bool]:
    """Creates the pod, or returns the existing one of that name (a crash-safe, idempotent step)."""
    meta = manifest["metadata"]
    try:
        return await kube.json("POST", core_path(meta["namespace"], "pods"), manifest), True
    except (AlreadyExists, Conflict):
        pass
    return await kube.json("GET", core_path(meta["namespace"], "pods", meta["name"])), False


async def create_or_replace_secret(kube: AsyncKube, manifest: Manifest) -> None:
    """Creates the per-review Secret, replacing a stale one (a fresh token for a new attempt)."""
    meta = manifest["metadata"]
    try:
        await kube.request("POST", core_path(meta["namespace"], "secrets"), manifest)
    except (AlreadyExists, Conflict):
        await kube.request("PUT", core_path(meta["namespace"], "secrets", meta["name"]), manifest)


async def _delete(kube: AsyncKube, path: str) -> None:
    with contextlib.suppress(NotFound):  # already gone: the step is done
        await kube.request("DELETE", path)


async def delete_secret(kube: AsyncKube, namespace: str, name: str) -> None:
    await _delete(kube, core_path(namespace, "secrets", name))


async def delete_pod(kube: AsyncKube, namespace: str, name: str) -> None:
    await _delete(kube, core_path(namespace, "pods", name))


async def list_pods(kube: AsyncKube, namespace: str, label_selector: str) -> list[Manifest]:
    listed = await kube.json("GET", core_path(namespace, "pods"), params={"labelSelector": label_selector})
    items: list[Manifest] = listed.get("items") or []
    return items


def event_body(
    involved: Manifest, reason: str, message: str, warning: bool, component: str, at: datetime
) -> Manifest:
    """A core/v1 Event on the involved object (reason and message cut to the API's limits)."""
    meta = involved["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:12]}", "namespace": meta["namespace"]},
        "involvedObject": {
            "apiVersion": involved["apiVersion"],
            "kind": involved["kind"],
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta.get("uid", ""),
        },
        "reason": reason[:128],
        "message": message[:1024],
        "type": "Warning" if warning else "Normal",
        "source": {"component": component},
        "reportingComponent": component,
        "reportingInstance": component,
        "firstTimestamp": rfc3339(at),
        "lastTimestamp": rfc3339(at),
        "count": 1,
    }


async def record_event(
    kube: AsyncKube,
    involved: Manifest,
    reason: str,
    message: str,
    warning: bool = False,
    component: str = "review-operator",
    at: datetime | None = None,
) -> None:
    """Records the Event; failures are logged, never raised (events are advisory)."""
    body = event_body(involved, reason, message, warning, component, at or datetime.now(UTC))
    try:
        await kube.request("POST", core_path(body["metadata"]["namespace"], "events"), body)
    except KubeError as exc:
        name = body["involvedObject"]["name"]
        log.warning("could not record event %s on %s: HTTP %s", reason, name, exc.status)


async def list_reviewjobs_json(
    kube: AsyncKube, namespace: str, label_selector: str = "", *, limit: int = 0, continue_: str = ""
) -> bytes:
    """A consistent (quorum) read of ReviewJobs (admission depends on seeing every claim), as the raw
    JSON body: the caller decodes only what it needs (all of it, or a few fields for GC). With
    `limit`, one page of at most that many; `continue_` is the previous page's `metadata.continue`."""
    params: dict[str, str] = {}
    if label_selector:
        params["labelSelector"] = label_selector
    if limit:
        params["limit"] = str(limit)
    if continue_:
        params["continue"] = continue_
    return await kube.request("GET", reviewjobs_path(namespace), params=params or None)


async def patch_reviewjob_status(
    kube: AsyncKube, namespace: str, name: str, status: Manifest, resource_version: str = ""
) -> bytes:
    """Merge-patches the status subresource; returns the updated object as JSON.

    With `resource_version` the patch is conditional: the API server answers 409 (`Conflict`) when
    the object changed since it was read, so a decision taken on a stale view is never written.
    """
    body: Manifest = {"status": status}
    if resource_version:
        body["metadata"] = {"resourceVersion": resource_version}
    path = reviewjobs_path(namespace, name, "status")
    return await kube.request("PATCH", path, body, content_type=MERGE_PATCH)


async def label_reviewjob(kube: AsyncKube, namespace: str, name: str, labels: dict[str, str]) -> None:
    body = {"metadata": {"labels": labels}}
    await kube.request("PATCH", reviewjobs_path(namespace, name), body, content_type=MERGE_PATCH)


async def delete_reviewjob(kube: AsyncKube, namespace: str, name: str) -> None:
    await _delete(kube, reviewjobs_path(namespace, name))

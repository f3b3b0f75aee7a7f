"""Pods, Secrets and Events of reviews: create-or-get, list, delete, record (sync; callers use threads).

Objects cross this boundary as plain camelCase manifests (dicts), the shape the builders produce
and the classification reads; the client's model classes never leak out.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any, cast

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from review_operator.api.models import GROUP, PLURAL, VERSION

log = logging.getLogger(__name__)


def _json(response: Any) -> dict[str, Any]:
    """The body of a call made with `_preload_content=False`: read (which frees the connection) and
    decoded as JSON, skipping the client's typed models (slow, and we want camelCase dicts anyway)."""
    data: dict[str, Any] = json.loads(response.data or b"{}")
    return data


def create_or_get_pod(api: client.ApiClient, manifest: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Creates the pod, or returns the existing one of that name (a crash-safe, idempotent step)."""
    core = client.CoreV1Api(api)
    namespace = manifest["metadata"]["namespace"]
    try:
        return _json(core.create_namespaced_pod(namespace, cast(Any, manifest), _preload_content=False)), True
    except ApiException as exc:
        if exc.status != 409:
            raise
    return _json(
        core.read_namespaced_pod(manifest["metadata"]["name"], namespace, _preload_content=False)
    ), False


def create_or_replace_secret(api: client.ApiClient, manifest: dict[str, Any]) -> None:
    """Creates the per-review Secret, replacing a stale one (a fresh token for a new attempt)."""
    core = client.CoreV1Api(api)
    namespace, name = manifest["metadata"]["namespace"], manifest["metadata"]["name"]
    try:
        _json(core.create_namespaced_secret(namespace, cast(Any, manifest), _preload_content=False))
    except ApiException as exc:
        if exc.status != 409:
            raise
        _json(core.replace_namespaced_secret(name, namespace, cast(Any, manifest), _preload_content=False))


def delete_secret(api: client.ApiClient, namespace: str, name: str) -> None:
    try:
        _json(client.CoreV1Api(api).delete_namespaced_secret(name, namespace, _preload_content=False))
    except ApiException as exc:
        if exc.status != 404:
            raise


def list_pods(api: client.ApiClient, namespace: str, label_selector: str) -> list[dict[str, Any]]:
    """Pods as plain manifests, decoded straight from JSON (the typed models cost ~1 ms per pod)."""
    response = client.CoreV1Api(api).list_namespaced_pod(
        namespace, label_selector=label_selector, _preload_content=False
    )
    items: list[dict[str, Any]] = json.loads(cast(Any, response).data).get("items", [])
    return items


def delete_pod(api: client.ApiClient, namespace: str, name: str, grace_seconds: int | None = None) -> None:
    try:
        _json(
            client.CoreV1Api(api).delete_namespaced_pod(
                name, namespace, grace_period_seconds=grace_seconds, _preload_content=False
            )
        )
    except ApiException as exc:
        if exc.status != 404:
            raise


def record_event(
    api: client.ApiClient,
    involved: dict[str, Any],
    reason: str,
    message: str,
    warning: bool = False,
    component: str = "review-operator",
    at: datetime | None = None,
) -> None:
    """A core/v1 Event on the involved object; failures are logged, never raised (events are advisory)."""
    meta = involved["metadata"]
    now = at or datetime.now(UTC)
    body: dict[str, Any] = {
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
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }
    try:
        _json(
            client.CoreV1Api(api).create_namespaced_event(
                meta["namespace"], cast(Any, body), _preload_content=False
            )
        )
    except ApiException as exc:
        log.warning("could not record event %s on %s: HTTP %s", reason, meta["name"], exc.status)


def list_reviewjobs_json(api: client.ApiClient, namespace: str, label_selector: str = "") -> bytes:
    """A consistent (quorum) read of ReviewJobs (admission depends on seeing every claim), as the raw
    JSON body: the caller validates it straight into models, with no intermediate dicts."""
    response = client.CustomObjectsApi(api).list_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, label_selector=label_selector, _preload_content=False
    )
    data: bytes = cast(Any, response).data
    return data


def patch_reviewjob_status(
    api: client.ApiClient, namespace: str, name: str, status: dict[str, Any], resource_version: str = ""
) -> dict[str, Any]:
    """Merge-patches the status subresource; returns the updated object.

    With `resource_version` the patch is conditional: the API server answers 409 when the object
    changed since it was read, so a decision taken on a stale view is never written.
    """
    body: dict[str, Any] = {"status": status}
    if resource_version:
        body["metadata"] = {"resourceVersion": resource_version}
    updated = client.CustomObjectsApi(api).patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, PLURAL, name, body
    )
    return cast(dict[str, Any], updated)


def label_reviewjob(api: client.ApiClient, namespace: str, name: str, labels: dict[str, str]) -> None:
    client.CustomObjectsApi(api).patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, name, {"metadata": {"labels": labels}}
    )


def delete_reviewjob(api: client.ApiClient, namespace: str, name: str) -> None:
    try:
        client.CustomObjectsApi(api).delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    except ApiException as exc:
        if exc.status != 404:
            raise

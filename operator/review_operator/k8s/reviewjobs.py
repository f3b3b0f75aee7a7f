"""Typed helpers for ReviewJob custom objects (sync; async callers use `asyncio.to_thread`).

Objects cross this boundary as plain camelCase manifests (`ReviewJob.model_validate` them where a
typed view is needed). Every helper takes an optional `timeout` in seconds, applied to connecting
and to reading the answer, so a hung API server surfaces as `ApiUnavailable` instead of a hang.
Errors are the typed ones of `review_operator.k8s.errors`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from kubernetes import client

from review_operator.api.models import GROUP, PLURAL, VERSION, ReviewJob
from review_operator.k8s.errors import NotFound, translated

Manifest = dict[str, Any]


def _api(api: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


def _opts(timeout: float | None) -> dict[str, Any]:
    return {} if timeout is None else {"_request_timeout": (timeout, timeout)}


def label_selector(labels: Mapping[str, str]) -> str:
    """`k1=v1,k2=v2` for equality-based selection."""
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items()))


def create(
    api: client.ApiClient, namespace: str, body: ReviewJob | Manifest, timeout: float | None = None
) -> Manifest:
    """Creates the ReviewJob; raises `AlreadyExists` if the name is taken (the idempotency signal)."""
    manifest = body.to_manifest() if isinstance(body, ReviewJob) else body
    with translated():
        result = _api(api).create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, manifest, **_opts(timeout)
        )
    return cast(Manifest, result)


def get(api: client.ApiClient, namespace: str, name: str, timeout: float | None = None) -> Manifest:
    """The ReviewJob; raises `NotFound`."""
    with translated():
        result = _api(api).get_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, name, **_opts(timeout)
        )
    return cast(Manifest, result)


def list_by_labels(
    api: client.ApiClient,
    namespace: str,
    labels: Mapping[str, str] | str = "",
    timeout: float | None = None,
    limit: int | None = None,
) -> list[Manifest]:
    """ReviewJobs matching a label mapping (all equal) or a selector string; empty selects all."""
    selector = labels if isinstance(labels, str) else label_selector(labels)
    extra: dict[str, Any] = {"limit": limit} if limit is not None else {}
    with translated():
        result = _api(api).list_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, label_selector=selector, **extra, **_opts(timeout)
        )
    return cast(list[Manifest], cast(Manifest, result).get("items", []))


def _merge_patch(
    api: client.ApiClient,
    namespace: str,
    name: str,
    body: Manifest,
    resource_version: str | None,
    status: bool,
    timeout: float | None,
) -> Manifest:
    if resource_version is not None:
        # A merge patch carrying metadata.resourceVersion is a precondition: Conflict if it moved on.
        body = {**body, "metadata": {"resourceVersion": resource_version}}
    api_ = _api(api)
    patch = api_.patch_namespaced_custom_object_status if status else api_.patch_namespaced_custom_object
    with translated():
        # The client sends a dict as a JSON merge patch for custom objects.
        result = patch(GROUP, VERSION, namespace, PLURAL, name, body, **_opts(timeout))
    return cast(Manifest, result)


def patch_spec(
    api: client.ApiClient,
    namespace: str,
    name: str,
    spec: Manifest,
    resource_version: str | None = None,
    timeout: float | None = None,
) -> Manifest:
    """Merge-patches `spec` (e.g. `{"cancel": {...}}`); raises `Conflict` if `resource_version` is stale."""
    return _merge_patch(api, namespace, name, {"spec": spec}, resource_version, False, timeout)


def patch_status(
    api: client.ApiClient,
    namespace: str,
    name: str,
    status: Manifest,
    resource_version: str | None = None,
    timeout: float | None = None,
) -> Manifest:
    """Merge-patches the status subresource; with `resource_version`, raises `Conflict` if stale."""
    return _merge_patch(api, namespace, name, {"status": status}, resource_version, True, timeout)


def delete(
    api: client.ApiClient, namespace: str, name: str, missing_ok: bool = True, timeout: float | None = None
) -> None:
    """Deletes the ReviewJob (its owned pods and Secrets follow through garbage collection)."""
    try:
        with translated():
            _api(api).delete_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, name, **_opts(timeout)
            )
    except NotFound:
        if not missing_ok:
            raise

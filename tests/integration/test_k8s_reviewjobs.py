"""`review_operator.k8s.reviewjobs` against the real API server: typed results and typed errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from kubernetes import client

from review_operator.k8s import reviewjobs as rj
from review_operator.k8s.client import load_api_client
from review_operator.k8s.errors import AlreadyExists, ApiUnavailable, Conflict, Invalid, NotFound
from review_operator.webhook.events import Create, Policy, decide
from tests.harness.controlplane import ControlPlane, free_port
from tests.integration.webhook_helpers import example, kubeconfig_via

POLICY = Policy(frozenset({"OWNER"}), frozenset())


def _job() -> Create:
    decision = decide("pull_request", "d-1", example("pull_request", "opened"), POLICY, datetime.now(UTC))
    assert isinstance(decision, Create)
    return decision


def test_create_get_list_patch_delete_round_trip(api_client: client.ApiClient, namespace: str) -> None:
    job = _job().job
    name = job.metadata.name
    created = rj.create(api_client, namespace, job, timeout=5)
    assert created["metadata"]["name"] == name
    with pytest.raises(AlreadyExists):
        rj.create(api_client, namespace, job)
    assert rj.get(api_client, namespace, name)["spec"]["trigger"]["deliveryId"] == "d-1"
    assert [j["metadata"]["name"] for j in rj.list_by_labels(api_client, namespace, job.metadata.labels)] == [
        name
    ]
    assert rj.list_by_labels(api_client, namespace, {"review-operator.dev/pull-request": "999"}) == []

    rv = created["metadata"]["resourceVersion"]
    rj.patch_status(api_client, namespace, name, {"phase": "Queued"}, resource_version=rv)
    with pytest.raises(Conflict):
        rj.patch_spec(api_client, namespace, name, {"overrides": {"maxTurns": 5}}, resource_version=rv)
    patched = rj.patch_spec(api_client, namespace, name, {"overrides": {"maxTurns": 5}})
    assert patched["spec"]["overrides"] == {"maxTurns": 5}
    assert patched["status"]["phase"] == "Queued"

    rj.delete(api_client, namespace, name)
    rj.delete(api_client, namespace, name)  # missing_ok by default
    with pytest.raises(NotFound):
        rj.get(api_client, namespace, name)
    with pytest.raises(NotFound):
        rj.delete(api_client, namespace, name, missing_ok=False)


def test_schema_violations_raise_invalid(api_client: client.ApiClient, namespace: str) -> None:
    manifest = _job().job.to_manifest()
    manifest["spec"]["pullRequest"]["headSha"] = "NOT-A-SHA"
    with pytest.raises(Invalid):
        rj.create(api_client, namespace, manifest)


def test_unreachable_api_server_raises_api_unavailable(control_plane: ControlPlane, tmp_path: Path) -> None:
    kubeconfig = kubeconfig_via(control_plane.kubeconfig, tmp_path / "kubeconfig", free_port())
    api = load_api_client(str(kubeconfig))
    try:
        with pytest.raises(ApiUnavailable):
            rj.list_by_labels(api, "default", timeout=2)
    finally:
        api.close()

"""Shared pytest fixtures: the real control plane (session-scoped) and per-test namespaces."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

from tests.harness.controlplane import REPO_ROOT, ControlPlane

CRD_FILE = REPO_ROOT / "crds" / "reviewjobs.review-operator.dev.yaml"


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    """One real control plane for the whole run, with the ReviewJob CRD installed."""
    with ControlPlane() as plane:
        plane.kubectl("apply", "-f", str(CRD_FILE))
        plane.kubectl(
            "wait", "--for=condition=Established", "--timeout=60s", "crd/reviewjobs.review-operator.dev"
        )
        yield plane


@pytest.fixture(scope="session")
def api_client(control_plane: ControlPlane) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(control_plane.kubeconfig))


@pytest.fixture
def namespace(control_plane: ControlPlane, api_client: client.ApiClient) -> Iterator[str]:
    """A fresh namespace per test, deleted afterwards."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    client.CoreV1Api(api_client).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    client.CoreV1Api(api_client).delete_namespace(name)


@pytest.fixture
def restricted_namespace(control_plane: ControlPlane, api_client: client.ApiClient) -> Iterator[str]:
    """A namespace that enforces PodSecurity `restricted`, as the chart's review namespace does."""
    name = f"r-{uuid.uuid4().hex[:10]}"
    labels = {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
    }
    client.CoreV1Api(api_client).create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels))
    )
    yield name
    client.CoreV1Api(api_client).delete_namespace(name)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = Path(str(item.fspath)).parts[-2]
        if folder in ("integration", "e2e", "realnode"):
            item.add_marker(pytest.mark.integration)
        if folder == "realnode":
            item.add_marker(pytest.mark.realnode)
    # The real node is a session fixture: once up it holds the host until the run ends.
    items.sort(key=lambda item: item.get_closest_marker("before_real_node") is None)

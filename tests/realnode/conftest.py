"""The real node's fixtures: one control plane with a real kubelet beside kwok, for the whole run.

The API server listens on the node's bridge address so pods reach it through the `kubernetes`
Service; the GitHub double and the fake Messages API listen there too. The run fails, not skips,
when the machine cannot carry the node (not root, packages or builds missing): the reason names the
command that fixes it. Teardown checks that the host's settings, rules, links and mounts are what
they were before the node started.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from tests.conftest import CRD_FILE
from tests.github_double.fixtures import AppKey, app_key, openapi  # noqa: F401 - pytest fixtures
from tests.github_double.openapi import OpenAPI
from tests.harness import hostnet
from tests.harness.controlplane import ControlPlane, FakeNode
from tests.harness.realnode import Images, RealNode

if TYPE_CHECKING:
    from tests.realnode.product import Product


@dataclass
class RealCluster:
    plane: ControlPlane
    node: RealNode
    images: Images


@pytest.fixture(scope="session")
def real_cluster() -> Iterator[RealCluster]:
    reason = RealNode.unavailable()
    if reason is not None:
        pytest.fail(f"the real node cannot run here: {reason}")
    node = RealNode(Images.load())
    dirs = [node.workdir, node.state]
    before = hostnet.fingerprint(dirs)
    node.prepare()
    plane = ControlPlane(address=hostnet.HOST_IP, nodes=(FakeNode("kwok-node-0"),))
    try:
        plane.start()
        plane.kubectl("apply", "-f", str(CRD_FILE))
        node.start(plane)
        yield RealCluster(plane, node, node.images)
    finally:
        node.stop(plane)
        plane.stop()
        problems = node.restore()
    after = hostnet.fingerprint(dirs)
    assert problems == [], problems
    assert after == before, {k: (before[k], after[k]) for k in before if before[k] != after[k]}


@pytest.fixture(scope="session")
async def product(
    real_cluster: RealCluster,
    openapi: OpenAPI,  # noqa: F811 - the imported fixture
    app_key: AppKey,  # noqa: F811 - the imported fixture
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Product]:
    """The chart installed once for the run (tests/realnode/product.py)."""
    from tests.realnode.product import install_product  # it imports this module

    async with install_product(real_cluster, openapi, app_key, tmp_path_factory) as installed:
        yield installed

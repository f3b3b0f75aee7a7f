"""The real node's fixtures: one control plane with a real kubelet beside kwok, for the whole run.

The API server listens on the node's bridge address so pods reach it through the `kubernetes`
Service; the GitHub double and the fake Messages API listen there too. The run fails, not skips,
when the machine cannot carry the node (not root, packages or builds missing): the reason names the
command that fixes it. Teardown checks that the host's settings, rules, links and mounts are what
they were before the node started.
"""

from __future__ import annotations

import contextlib
import signal
import warnings
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
    # A run that died (SIGKILL, a frozen machine) left its journal: undo it before measuring the host.
    for line in node.claim_host():
        warnings.warn(line, stacklevel=1)
    dirs = [node.workdir, node.state]
    before = hostnet.fingerprint(dirs)
    plane = ControlPlane(address=hostnet.HOST_IP, nodes=(FakeNode("kwok-node-0"),))
    with teardown_on_termination():
        try:
            node.prepare()
            plane.start()
            node.track(plane)
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


@contextlib.contextmanager
def teardown_on_termination() -> Iterator[None]:
    """SIGTERM and SIGHUP (a CI timeout, a closed terminal) end the run as Ctrl-C does, so pytest
    still tears the node down; a SIGKILL is left to the next run (tests/harness/hostlease.py)."""

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


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

# ruff: noqa: F811 - `stack` is the fixture imported from test_controller, used as a parameter
"""Autoscaling the review pool with Karpenter (issue 22 item 1): real Karpenter core (v1.12, its kwok
cloud provider) grows and shrinks the pool for the real controller's review pods; the machines it
launches are kwok's fake nodes, which kwok's stages run the pods on.

The pool is the chart's review pool (`charts/review-operator/ci/review-pool-values.yaml`: the
label as nodeSelector, the NoSchedule taint as toleration) in a NodePool with CPU and memory limits.
Review pods ask for 800m CPU, so kwok's c-1x instance type holds one and c-4x four: a burst needs
several nodes, and a lone review on a c-4x is what Karpenter's consolidation would move to a c-1x.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from kubernetes import client, config, watch

from review_operator.builders.names import LABEL_REVIEWJOB
from tests.conftest import CRD_FILE
from tests.e2e.test_controller import FINAL, SIM, Stack, stack  # noqa: F401 - pytest fixtures
from tests.github_double.fixtures import app_key, openapi  # noqa: F401 - pytest fixtures
from tests.harness.controlplane import ControlPlane, FakeNode
from tests.harness.karpenter import Karpenter, install_crds, node_class, review_nodepool, review_pool_values

POOL = "review"
POOL_SELECTOR = f"karpenter.sh/nodepool={POOL}"
SELECTOR, TOLERATIONS = review_pool_values()
POOL_ENV = {
    "REVIEWOP_NODE_SELECTOR": json.dumps(SELECTOR),
    "REVIEWOP_TOLERATIONS": json.dumps(TOLERATIONS),
    "REVIEWOP_CPU_REQUEST": "800m",
    "REVIEWOP_MAX_CONCURRENT": "12",
}
BURST_PENDING_TIMEOUT = 60
CAPPED_PENDING_TIMEOUT = 30


@pytest.fixture(scope="module")
def control_plane() -> Iterator[ControlPlane]:
    """This module's own control plane: nodes come and go in it. One general node (no pool label)
    runs nothing of ours; the node-lifecycle controller lifts the `node.kubernetes.io/not-ready`
    taint the API server puts on every new node, for Karpenter's nodes as in a real cluster (kwok
    renews their Leases, so the controller sees them healthy)."""
    with ControlPlane(nodes=(FakeNode("general-0"),), controllers=("node-lifecycle-controller",)) as plane:
        plane.kubectl("apply", "-f", str(CRD_FILE))
        plane.kubectl(
            "wait", "--for=condition=Established", "--timeout=60s", "crd/reviewjobs.review-operator.dev"
        )
        install_crds(plane)
        plane.apply(node_class())
        yield plane


@pytest.fixture(scope="module")
def api_client(control_plane: ControlPlane) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(control_plane.kubeconfig))


@pytest.fixture(scope="module")
def karpenter(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Karpenter]:
    running = Karpenter(control_plane, tmp_path_factory.mktemp("karpenter") / "karpenter.log")
    running.start()
    try:
        yield running
    finally:
        running.stop()


class Recorder(threading.Thread):
    """Every watch event of one kind of object, with the monotonic time it arrived."""

    def __init__(self, list_fn: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(daemon=True)
        self.list_fn, self.kwargs = list_fn, kwargs
        self.events: list[tuple[float, str, Any]] = []
        self.stopped = False
        self._watch = watch.Watch()

    def run(self) -> None:
        while not self.stopped:
            try:
                for event in self._watch.stream(self.list_fn, timeout_seconds=300, **self.kwargs):
                    self.events.append((time.monotonic(), event["type"], event["object"]))
            except Exception:  # the stream is cut when the control plane stops after the module
                if not self.stopped:
                    time.sleep(0.2)

    def stop(self) -> None:
        self.stopped = True
        self._watch.stop()

    def snapshot(self) -> list[tuple[float, str, Any]]:
        return list(self.events)


@dataclass
class Pool:
    plane: ControlPlane
    api: client.ApiClient
    karpenter: Karpenter
    pods: Recorder
    nodes: Recorder
    created: dict[str, float] = field(default_factory=dict)

    def current_nodes(self) -> list[Any]:
        return list(client.CoreV1Api(self.api).list_node(label_selector=POOL_SELECTOR).items)

    def nodeclaims(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = client.CustomObjectsApi(self.api).list_cluster_custom_object(
            "karpenter.sh", "v1", "nodeclaims"
        )["items"]
        return items

    def create(self, stack: Stack, name: str, repo_index: int, duration: str, hold: bool = False) -> None:
        """A review whose pod kwok runs for `duration`, or until its Hold is lifted."""
        self.created[name] = time.monotonic()
        annotations = {SIM + "duration": duration, **({SIM + "outcome": "Hold"} if hold else {})}
        stack.reviewjob(name, stack.repos[repo_index], 1, annotations)

    def pod_events(self, review: str) -> list[tuple[float, str, Any]]:
        return [
            (t, kind, pod)
            for t, kind, pod in self.pods.snapshot()
            if (pod.metadata.labels or {}).get(LABEL_REVIEWJOB) == review
        ]

    def running_at(self, review: str) -> float | None:
        return next((t for t, _, pod in self.pod_events(review) if pod.status.phase == "Running"), None)

    def node_of(self, review: str) -> str:
        return next(p.spec.node_name for _, _, p in self.pod_events(review) if p.spec.node_name)

    def node_gone_at(self, name: str) -> float | None:
        return next(
            (
                t
                for t, kind, node in self.nodes.snapshot()
                if node.metadata.name == name and (kind == "DELETED" or node.metadata.deletion_timestamp)
            ),
            None,
        )

    def disrupted_while_running(self, review: str) -> bool:
        """Its pod was deleted (or evicted: the eviction deletes it) before it ended."""
        for _, kind, pod in self.pod_events(review):
            if pod.status.phase in ("Succeeded", "Failed"):
                return False
            if kind == "DELETED" or pod.metadata.deletion_timestamp is not None:
                return True
        return False

    def pool_nodes_seen(self) -> set[str]:
        return {n.metadata.name for _, _, n in self.nodes.snapshot()}


@pytest.fixture
def pool(
    control_plane: ControlPlane,
    api_client: client.ApiClient,
    karpenter: Karpenter,
    restricted_namespace: str,
    request: pytest.FixtureRequest,
) -> Iterator[Pool]:
    """The review pool's NodePool (limits from the `nodepool` marker), empty at the start, with
    recorders of the namespace's pods and the pool's nodes; deleted (and back to zero nodes) after."""
    marker = request.node.get_closest_marker("nodepool")
    limits: dict[str, Any] = {"cpu_limit": "16", "memory_limit": "64Gi", **(marker.kwargs if marker else {})}
    control_plane.apply(review_nodepool(POOL, **limits))
    core = client.CoreV1Api(api_client)
    pods = Recorder(core.list_namespaced_pod, namespace=restricted_namespace)
    nodes = Recorder(core.list_node, label_selector=POOL_SELECTOR)
    pods.start()
    nodes.start()
    found = Pool(control_plane, api_client, karpenter, pods, nodes)
    assert found.current_nodes() == [] and found.nodeclaims() == []
    try:
        yield found
    finally:
        control_plane.kubectl("delete", "nodepool", POOL, "--wait=false", check=False)
        deadline = time.monotonic() + 60
        while (found.nodeclaims() or found.current_nodes()) and time.monotonic() < deadline:
            time.sleep(0.5)
        pods.stop()
        nodes.stop()
        karpenter.check_alive()
        assert found.nodeclaims() == [] and found.current_nodes() == [], "the pool did not go back to zero"


async def wait_for(predicate: Callable[[], bool], timeout: float, what: str, pool: Pool) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(predicate):
            return
        pool.karpenter.check_alive()
        await asyncio.sleep(0.3)
    raise AssertionError(
        f"timed out waiting for {what}; karpenter log tail:\n{pool.karpenter.log_text()[-3000:]}"
    )


@pytest.mark.controller_env(**POOL_ENV, REVIEWOP_PENDING_TIMEOUT_SECONDS=str(BURST_PENDING_TIMEOUT))
@pytest.mark.timeout(300)
async def test_a_burst_on_an_empty_pool_gets_nodes_from_karpenter_and_every_review_runs_and_posts(
    stack: Stack, pool: Pool
) -> None:
    names = [f"burst-{i}" for i in range(10)]
    for i, name in enumerate(names):
        await asyncio.to_thread(pool.create, stack, name, i, "2s")
    done = await stack.wait_final(names, timeout=BURST_PENDING_TIMEOUT + 60)

    assert {n: d["status"]["phase"] for n, d in done.items()} == dict.fromkeys(names, "Succeeded")
    for i, name in enumerate(names):
        assert done[name]["status"]["attempts"] == 1
        assert len(stack.reviews_on(stack.repos[i], 1)) == 1  # posted, once
    delays = {}
    for name in names:
        running = pool.running_at(name)
        assert running is not None, f"{name}'s pod was never seen Running"
        delays[name] = running - pool.created[name]
    assert max(delays.values()) < BURST_PENDING_TIMEOUT, delays
    # Every review ran on a node Karpenter launched for the pool (10 x 800m: at least three nodes).
    launched = pool.pool_nodes_seen()
    assert len(launched) >= 3, launched
    assert {pool.node_of(n) for n in names} <= launched
    node = next(n for _, _, n in pool.nodes.snapshot() if n.spec.taints and n.metadata.labels)
    assert node.spec.provider_id.startswith("kwok://")
    assert SELECTOR.items() <= node.metadata.labels.items()
    print(
        f"\nkarpenter burst: {len(names)} reviews, {len(launched)} nodes; ReviewJob created -> pod Running: "
        f"median {statistics.median(delays.values()):.1f} s, max {max(delays.values()):.1f} s"
    )


@pytest.mark.controller_env(**POOL_ENV, REVIEWOP_PENDING_TIMEOUT_SECONDS=str(BURST_PENDING_TIMEOUT))
@pytest.mark.timeout(300)
async def test_consolidation_after_a_burst_never_disrupts_a_running_review_and_empties_the_pool(
    stack: Stack, pool: Pool
) -> None:
    shorts = [f"short-{i}" for i in range(5)]
    await asyncio.to_thread(pool.create, stack, "long", 0, "1s", True)
    for i, name in enumerate(shorts, start=1):
        await asyncio.to_thread(pool.create, stack, name, i, "1s")
    await wait_for(lambda: pool.running_at("long") is not None, 90, "the long review Running", pool)
    done = await stack.wait_final(shorts, timeout=120)
    assert {n: d["status"]["phase"] for n, d in done.items()} == dict.fromkeys(shorts, "Succeeded")
    long_node = pool.node_of("long")
    assert len(pool.pool_nodes_seen()) >= 2

    # Karpenter consolidates while the long review runs: the other nodes go...
    def live_nodes() -> list[str]:
        return [n.metadata.name for n in pool.current_nodes() if not n.metadata.deletion_timestamp]

    await wait_for(
        lambda: live_nodes() == [long_node], 120, "every node but the long review's consolidated", pool
    )
    # ...while its own, alone and oversized (a c-1x would do), stays. Without the review pod's
    # karpenter.sh/do-not-disrupt annotation Karpenter replaced that node, evicting the review,
    # about 15 s after it removed the empty ones (checked by hand); with it, the node stays.
    for _ in range(45):
        assert not pool.disrupted_while_running("long"), "the long review's pod was deleted while it ran"
        assert live_nodes() == [long_node] and stack.phases()["long"] == "Running"
        await asyncio.sleep(1)

    # The review ends (kwok finishes its pod a second after the Hold is lifted).
    core = client.CoreV1Api(stack.api)
    pod = stack.get("long")["status"]["podName"]
    await asyncio.to_thread(
        core.patch_namespaced_pod,
        pod,
        stack.namespace,
        {"metadata": {"annotations": {SIM + "outcome": "Completed"}}},
    )

    def long_final() -> bool:
        assert not pool.disrupted_while_running("long"), "the long review's pod was deleted while it ran"
        return stack.phases()["long"] in FINAL

    await wait_for(long_final, 60, "the long review to finish", pool)
    final = stack.get("long")["status"]
    assert (final["phase"], final["attempts"]) == ("Succeeded", 1)
    assert len(stack.reviews_on(stack.repos[0], 1)) == 1
    # Its one pod was never deleted or evicted before it ended, and its node outlived it.
    events_of_long = pool.pod_events("long")
    assert len({p.metadata.uid for _, _, p in events_of_long}) == 1
    ended = next(t for t, _, p in events_of_long if p.status.phase == "Succeeded")
    assert all(p.metadata.deletion_timestamp is None for t, _, p in events_of_long if t < ended)
    assert all(kind != "DELETED" for t, kind, _ in events_of_long if t < ended)
    gone = pool.node_gone_at(long_node)
    assert gone is None or gone > ended

    # Nothing left to run: the pool goes back to zero.
    await wait_for(
        lambda: pool.current_nodes() == [] and pool.nodeclaims() == [], 90, "zero pool nodes", pool
    )


@pytest.mark.nodepool(cpu_limit="4", instance_cpus=("4",))
@pytest.mark.controller_env(**POOL_ENV, REVIEWOP_PENDING_TIMEOUT_SECONDS=str(CAPPED_PENDING_TIMEOUT))
@pytest.mark.timeout(240)
async def test_a_pool_limit_smaller_than_the_burst_leaves_reviews_waiting_then_unschedulable(
    stack: Stack, pool: Pool
) -> None:
    names = [f"capped-{i}" for i in range(6)]
    for i, name in enumerate(names):
        # They outlast the pending timeout: no node frees up for the waiting ones.
        await asyncio.to_thread(pool.create, stack, name, i, f"{CAPPED_PENDING_TIMEOUT + 20}s")
    # One c-4x node is all the limit allows: four reviews run on it, two wait for a node.
    await wait_for(
        lambda: sum(pool.running_at(n) is not None for n in names) == 4, 60, "four reviews Running", pool
    )
    waiting = [n for n in names if pool.running_at(n) is None]
    assert len(waiting) == 2
    # Still waiting (not final) shortly before the pending timeout (checked when the machine let the
    # four start in time; the completion times below check it in any case).
    check_at = min(pool.created.values()) + CAPPED_PENDING_TIMEOUT - 5
    if time.monotonic() < check_at:
        await asyncio.sleep(check_at - time.monotonic())
        phases = stack.phases()
        assert all(phases[n] in ("Pending", "Queued", "Running") for n in waiting), phases
    core = client.CoreV1Api(stack.api)
    for name in waiting:
        [pod] = core.list_namespaced_pod(stack.namespace, label_selector=f"{LABEL_REVIEWJOB}={name}").items
        assert pod.status.phase == "Pending" and not pod.spec.node_name
        # Karpenter saw it and declined: the NodePool's limit, not a missing instance type.
        events = core.list_namespaced_event(
            stack.namespace, field_selector=f"involvedObject.name={pod.metadata.name},reason=FailedScheduling"
        ).items
        assert any("exceed limits for nodepool" in (e.message or "") for e in events), [
            e.message for e in events
        ]

    unschedulable = await stack.wait_final(waiting, timeout=60)
    for name in waiting:
        status = unschedulable[name]["status"]
        assert (status["phase"], status["reason"]) == ("Failed", "Unschedulable")
        created, ended = unschedulable[name]["metadata"]["creationTimestamp"], status["completionTime"]
        # Not before the pending timeout (timestamps are whole seconds).
        assert _seconds(created, ended) >= CAPPED_PENDING_TIMEOUT - 1, (created, ended)
        assert f"within the pending timeout ({CAPPED_PENDING_TIMEOUT} s;" in status["message"], status[
            "message"
        ]
        assert "Insufficient cpu" in status["message"] or "taint" in status["message"], status["message"]
    ran = [n for n in names if n not in waiting]
    done = await stack.wait_final(ran, timeout=90)
    assert {n: d["status"]["phase"] for n, d in done.items()} == dict.fromkeys(ran, "Succeeded")
    assert len(pool.pool_nodes_seen()) == 1  # the limit held


def _seconds(start: str, end: str) -> float:
    parse = datetime.fromisoformat
    return (parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))).total_seconds()

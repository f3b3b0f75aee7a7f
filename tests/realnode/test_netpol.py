"""The chart's NetworkPolicies enforced on the real node by kube-router v2.1.0's firewall.

The policies are the chart's own, rendered by helm with the chart's defaults; only the release and
work namespaces are set (they are per install). The defaults fit this cluster as they are: cluster
DNS runs as pods labelled `k8s-app: kube-dns` in kube-system (CoreDNS as a pod here, see
`netpol.coredns_manifests`), `httpsCIDRs` 0.0.0.0/0 minus `deniedCIDRs` (10.0.0.0/8 holds the pod
network, the Service network and the API server on the node's bridge address), and the model API
stands outside every denied range at TEST-NET-3's 203.0.113.1 on the bridge (the host's own address:
nothing leaves the machine).

Pods carry the labels the product gives them (review pods: the controller's pod builder; webhook and
controller pods: the chart's Deployments) but run a small listener instead of the product, so each
probe reaches something that answers. Every probe runs inside a pod (`kubectl exec`), first with
kube-router running and no policy (every target answers: the network works), then with the chart's
policies applied and synced; a denial is asserted only where the same target answered before.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from review_operator.builders.pod import build_review_pod
from review_operator.config import ControllerSettings
from tests.factories import reviewjob
from tests.fakes.anthropic_api import FakeAnthropicAPI
from tests.harness import hostnet, kuberouter
from tests.harness.chart import CHART, RELEASE, helm
from tests.harness.realnode import CLUSTER_DNS, NODE_NAME, dns_service
from tests.realnode import netpol
from tests.realnode.conftest import RealCluster
from tests.realnode.pods import restricted_namespace

pytestmark = pytest.mark.timeout(600)

API_SERVICE = "10.96.0.1"  # the `kubernetes` Service's ClusterIP
LOOKUP = ("kubernetes.default.svc.cluster.local", f"answer {API_SERVICE}")
MODEL_PORT = 443
OTHER_OUTSIDE_PORT = 8443  # the same outside host, another port
SIDE_PORT = 9090  # a second port on the webhook pod, besides the webhook's own
LISTEN_PORT = 8080  # review, controller and other pods listen here


@dataclass
class Net:
    """The probes' results by source pod: before (no policy) and after (the chart's policies)."""

    policies: list[dict[str, Any]]
    labels: dict[str, dict[str, str]]
    before: dict[str, dict[str, str]] = field(default_factory=dict)
    after: dict[str, dict[str, str]] = field(default_factory=dict)
    firewall_seconds: float = 0.0
    sync_seconds: float = 0.0


def render_chart(plane_kubeconfig: Any, release_ns: str, work_ns: str) -> list[dict[str, Any]]:
    out = helm(
        plane_kubeconfig, "template", RELEASE, str(CHART), "--namespace", release_ns,
        "--set", f"namespace.name={work_ns}",
    )  # fmt: skip
    return [doc for doc in yaml.safe_load_all(out) if doc]


def chart_pod(docs: list[dict[str, Any]], component: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """The pod labels and the container ports of the chart's Deployment of `component`."""
    for doc in docs:
        if (
            doc["kind"] == "Deployment"
            and doc["metadata"]["labels"].get("app.kubernetes.io/component") == component
        ):
            template = doc["spec"]["template"]
            return dict(template["metadata"]["labels"]), list(template["spec"]["containers"][0]["ports"])
    raise AssertionError(f"the chart renders no {component} Deployment")


def review_pod_labels() -> dict[str, str]:
    pod = build_review_pod(
        reviewjob("rj"), 1, "c" * 40, ControllerSettings(), "https://api.github.com", False
    )
    return dict(pod["metadata"]["labels"])


def targets(
    ips: dict[str, str], api_port: int, kubelet_port: int, webhook_port: int
) -> dict[str, dict[str, list[Any]]]:
    outside = hostnet.OUTSIDE_IP
    api = {
        "apiserver_service": ["tcp", API_SERVICE, 443],
        "apiserver_direct": ["tcp", hostnet.HOST_IP, api_port],
    }
    return {
        "review": {
            "dns_cluster": ["dns", CLUSTER_DNS, 53, LOOKUP[0]],
            "model_api": ["http", outside, MODEL_PORT, "/v1/models"],
            **api,
            "dns_host_direct": ["dns", hostnet.HOST_IP, 53, LOOKUP[0]],
            "outside_other_port": ["tcp", outside, OTHER_OUTSIDE_PORT],
            "kubelet": ["tcp", hostnet.HOST_IP, kubelet_port],
            "webhook_pod": ["tcp", ips["webhook"], webhook_port],
            "webhook_service": ["tcp", ips["webhook_service"], 80],
            "other_pod": ["tcp", ips["other"], LISTEN_PORT],
            "other_service": ["tcp", ips["other_service"], 80],
            "controller_pod": ["tcp", ips["controller"], LISTEN_PORT],
        },
        "other": {
            "webhook_port": ["tcp", ips["webhook"], webhook_port],
            "webhook_service": ["tcp", ips["webhook_service"], 80],
            "webhook_side_port": ["tcp", ips["webhook"], SIDE_PORT],
            "review_pod": ["tcp", ips["review"], LISTEN_PORT],
        },
        "controller": {
            **api,
            "dns_cluster": ["dns", CLUSTER_DNS, 53, LOOKUP[0]],
            "model_api": ["http", outside, MODEL_PORT, "/v1/models"],
            "other_pod": ["tcp", ips["other"], LISTEN_PORT],
            "webhook_service": ["tcp", ips["webhook_service"], 80],
        },
        "webhook": {**api, "dns_cluster": ["dns", CLUSTER_DNS, 53, LOOKUP[0]]},
    }


def _outside_listener() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((hostnet.OUTSIDE_IP, OTHER_OUTSIDE_PORT))
    sock.listen(64)  # the kernel completes handshakes from the backlog: connects succeed
    return sock


def _setup_dns(cluster: RealCluster) -> None:
    """CoreDNS as a kube-system pod behind the kube-dns Service instead of the host process."""
    plane = cluster.plane
    plane.apply(netpol.coredns_manifests(cluster.images.app))
    ip = netpol.wait_running(plane, [("kube-system", netpol.DNS_NAME)])[netpol.DNS_NAME]
    plane.kubectl("delete", "endpointslice", "-n", "kube-system", "kube-dns-host")
    plane.apply(netpol.dns_endpoints(ip))


def _restore_dns(cluster: RealCluster) -> None:
    plane = cluster.plane
    plane.kubectl("delete", "endpointslice", "-n", "kube-system", f"{netpol.DNS_NAME}-pod", check=False)
    plane.apply(dns_service())
    for kind in ("pod", "configmap", "serviceaccount"):
        plane.kubectl("delete", kind, "-n", "kube-system", netpol.DNS_NAME, "--wait=false", check=False)
    for kind in ("clusterrolebinding", "clusterrole"):
        plane.kubectl("delete", kind, netpol.DNS_NAME, check=False)


def _build(
    cluster: RealCluster, net_ns: dict[str, str]
) -> tuple[Net, dict[str, tuple[str, str]], dict[str, dict[str, list[Any]]]]:
    """Creates the pods and Services; returns the Net, the source pods and their targets."""
    plane, image = cluster.plane, cluster.images.app
    docs = render_chart(plane.kubeconfig, net_ns["release"], net_ns["work"])
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    webhook_labels, webhook_ports = chart_pod(docs, "webhook")
    webhook_port = int(webhook_ports[0]["containerPort"])
    controller_labels, _ = chart_pod(docs, "controller")
    labels = {
        "review": review_pod_labels(),
        "webhook": webhook_labels,
        "controller": controller_labels,
        "other": {"app": "np-other"},
    }
    listen = [{"name": "listen", "containerPort": LISTEN_PORT, "protocol": "TCP"}]
    side = {"name": "side", "containerPort": SIDE_PORT, "protocol": "TCP"}
    homes = {"review": "work", "webhook": "release", "controller": "release", "other": "other"}
    ports = {"webhook": [*webhook_ports, side]}  # the chart's named port, which its Service targets
    pods = {
        name: (net_ns[home], netpol.listener_pod(name, image, labels[name], ports.get(name, listen)))
        for name, home in homes.items()
    }
    webhook_service = next(
        d for d in docs if d["kind"] == "Service" and d["metadata"]["name"].endswith("-webhook")
    )
    other_service = netpol.service("other", net_ns["other"], labels["other"], 80, LISTEN_PORT)
    for ns, pod in pods.values():
        pod["metadata"]["namespace"] = ns
    plane.apply([pod for _, pod in pods.values()])
    plane.apply([webhook_service, other_service])
    ips = netpol.wait_running(plane, [(ns, name) for name, (ns, _) in pods.items()])
    for key, (ns, name) in {
        "webhook_service": (net_ns["release"], webhook_service["metadata"]["name"]),
        "other_service": (net_ns["other"], "other"),
    }.items():
        ips[key] = plane.kubectl("get", "service", name, "-n", ns, "-o", "jsonpath={.spec.clusterIP}").stdout
    node = json.loads(plane.kubectl("get", "node", NODE_NAME, "-o", "json").stdout)
    kubelet_port = int(node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"])
    for port in (plane.apiserver_port, kubelet_port):  # kube-router lets pods reach NodePorts on the node
        assert not kuberouter.NODE_PORTS[0] <= port <= kuberouter.NODE_PORTS[1], f"{port} is a NodePort"
    sources = {name: (ns, name) for name, (ns, _) in pods.items()}
    return Net(policies, labels), sources, targets(ips, plane.apiserver_port, kubelet_port, webhook_port)


def _probe_all(
    cluster: RealCluster, sources: dict[str, tuple[str, str]], wanted: dict[str, dict[str, list[Any]]]
) -> dict[str, dict[str, str]]:
    return {src: netpol.probe(cluster.plane, ns, pod, wanted[src]) for src, (ns, pod) in sources.items()}


def _wait_synced(cluster: RealCluster, net: Net, sources: dict[str, tuple[str, str]]) -> float:
    """Until kube-router runs the review and webhook pods through the chart's policies."""
    begin = time.monotonic()
    names = [p["metadata"]["name"] for p in net.policies]
    selected = [sources["review"], sources["webhook"]]
    while not kuberouter.policy_synced(kuberouter.filter_table(), names, selected):
        cluster.node.check_alive()
        if time.monotonic() - begin > 60:
            raise AssertionError(f"kube-router did not sync {names} for {selected}")
        time.sleep(0.2)
    return time.monotonic() - begin


@pytest.fixture(scope="module")
async def net(real_cluster: RealCluster) -> AsyncIterator[Net]:
    cluster, plane = real_cluster, real_cluster.plane
    begin = time.monotonic()
    ipsets_before = hostnet.ipsets()
    hostnet.add_outside_address()
    model = FakeAnthropicAPI()
    listener: socket.socket | None = None
    problems: list[str] = ["kube-router never stopped"]
    namespaces: list[str] = []
    try:
        await model.start(hostnet.OUTSIDE_IP, MODEL_PORT)
        listener = _outside_listener()
        await asyncio.to_thread(_setup_dns, cluster)
        for role in ("release", "work", "other"):
            namespaces.append(await asyncio.to_thread(restricted_namespace, plane, f"np-{role}"))
        net_ns = dict(zip(("release", "work", "other"), namespaces, strict=True))
        net, sources, wanted = await asyncio.to_thread(_build, cluster, net_ns)
        net.firewall_seconds = await asyncio.to_thread(cluster.node.start_firewall, plane)
        net.before = await asyncio.to_thread(_probe_all, cluster, sources, wanted)
        for policy in net.policies:
            await asyncio.to_thread(plane.apply, policy)
        net.sync_seconds = await asyncio.to_thread(_wait_synced, cluster, net, sources)
        net.after = await asyncio.to_thread(_probe_all, cluster, sources, wanted)
        print(f"netpol setup {time.monotonic() - begin:.1f} s (kube-router's first sync "
              f"{net.firewall_seconds:.1f} s, policies synced in {net.sync_seconds:.1f} s)")  # fmt: skip
        yield net
    finally:
        begin = time.monotonic()
        problems = await asyncio.to_thread(cluster.node.stop_firewall)
        for ns in namespaces:
            plane.kubectl("delete", "namespace", ns, "--wait=false", check=False)
        await asyncio.to_thread(_restore_dns, cluster)
        if listener is not None:
            listener.close()
        await model.stop()
        hostnet.remove_outside_address()
        print(f"netpol teardown {time.monotonic() - begin:.1f} s")
    # Nothing of kube-router's is left: no chain, no ipset (the session's fingerprint checks the rest).
    assert problems == [], problems
    assert kuberouter.chains(kuberouter.filter_table()) == []
    assert hostnet.ipsets() == ipsets_before


def _denied(net: Net, source: str, names: list[str]) -> None:
    for name in names:
        before, after = net.before[source][name], net.after[source][name]
        assert netpol.reached(before), f"{source} → {name} failed even without policies: {before}"
        assert not netpol.reached(after), f"{source} → {name} was not blocked: {after}"


def _allowed(net: Net, source: str, names: list[str]) -> None:
    for name in names:
        after = net.after[source][name]
        assert netpol.reached(after), f"{source} → {name} blocked: {after} ({net.after[source]})"


async def test_without_policies_every_probe_reaches_its_target(net: Net) -> None:
    for source, results in net.before.items():
        assert all(netpol.reached(r) for r in results.values()), (source, results)
    assert net.before["review"]["dns_cluster"] == LOOKUP[1]


async def test_review_pod_reaches_cluster_dns_and_the_model_api_on_443(net: Net) -> None:
    assert net.after["review"]["dns_cluster"] == LOOKUP[1], net.after["review"]
    assert net.after["review"]["model_api"].startswith("http "), net.after["review"]


async def test_review_pod_reaches_nothing_else(net: Net) -> None:
    allowed = {"dns_cluster", "model_api"}
    _denied(net, "review", sorted(set(net.after["review"]) - allowed))


async def test_review_pods_accept_no_ingress(net: Net) -> None:
    _denied(net, "other", ["review_pod"])


async def test_webhook_pods_accept_traffic_only_on_their_port(net: Net) -> None:
    _allowed(net, "other", ["webhook_port", "webhook_service"])
    _denied(net, "other", ["webhook_side_port"])


async def test_controller_and_webhook_egress_is_unrestricted_as_the_chart_states(net: Net) -> None:
    # The chart gives the controller no NetworkPolicy and the webhook's has no Egress type.
    for policy in net.policies:
        selector = policy["spec"]["podSelector"]["matchLabels"].items()
        assert not selector <= net.labels["controller"].items(), policy["metadata"]["name"]
        if selector <= net.labels["webhook"].items():
            assert policy["spec"]["policyTypes"] == ["Ingress"], policy
    _allowed(net, "controller", sorted(net.after["controller"]))
    _allowed(net, "webhook", sorted(net.after["webhook"]))
    assert net.after["controller"]["dns_cluster"] == LOOKUP[1]

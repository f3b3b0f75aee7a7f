"""Karpenter (its core controllers with the kwok cloud provider) as a host process against a test
control plane, and the review pool's NodePool.

Karpenter launches a NodeClaim by creating a Node annotated `kwok.x-k8s.io/node: fake` (and tainted
`karpenter.sh/unregistered`); the control plane's kwok manages nodes with that annotation and makes
them Ready, Karpenter registers them (the NodePool's labels and taints, the unregistered taint
lifted), and kwok's stages run the review pods scheduled there. Everything Karpenter decides
(batching, bin-packing, limits, consolidation, do-not-disrupt) is its own code; only the machines are
simulated. The CRDs are vendored from the pinned module in `karpenter-crds/`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tests.harness.controlplane import REPO_ROOT, ComponentError, ControlPlane, binary, free_port
from tests.harness.hostproc import HostProcess

CRD_DIR = Path(__file__).with_name("karpenter-crds")
GO_MOD = REPO_ROOT / "tools" / "karpenter" / "go.mod"
REVIEW_POOL_VALUES = REPO_ROOT / "charts" / "review-operator" / "ci" / "review-pool-values.yaml"
NODE_CLASS = "review-kwok"
CRDS = (
    "nodepools.karpenter.sh",
    "nodeclaims.karpenter.sh",
    "nodeoverlays.karpenter.sh",
    "kwoknodeclasses.karpenter.kwok.sh",
)


def pinned_version() -> str:
    """The Karpenter version tools/karpenter/go.mod pins (the binary and the vendored CRDs)."""
    match = re.search(r"^\s*sigs\.k8s\.io/karpenter (v\S+)", GO_MOD.read_text(), re.MULTILINE)
    if match is None:
        raise ComponentError(f"no sigs.k8s.io/karpenter requirement in {GO_MOD}")
    return match.group(1)


def review_pool_values() -> tuple[dict[str, str], list[dict[str, str]]]:
    """The review pool's nodeSelector and tolerations, as the chart's review-pool values set them."""
    config = yaml.safe_load(REVIEW_POOL_VALUES.read_text())["controller"]["config"]
    return dict(config["nodeSelector"]), list(config["tolerations"])


def review_nodepool(
    name: str,
    cpu_limit: str,
    memory_limit: str,
    instance_cpus: tuple[str, ...] = ("1", "4"),
) -> dict[str, Any]:
    """A NodePool for the review pool: the chart's review-pool label and NoSchedule taint, CPU and
    memory limits, and consolidation as soon as a node is empty or underutilized (the test's only
    knob on Karpenter's timing). kwok's c-family instance types, on-demand: `instance_cpus` picks
    their sizes (the default offers a small one a lone review could be moved to)."""
    selector, tolerations = review_pool_values()
    taints = [{"key": t["key"], "value": t["value"], "effect": t["effect"]} for t in tolerations]
    requirements = [
        {"key": "karpenter.kwok.sh/instance-family", "operator": "In", "values": ["c"]},
        {"key": "karpenter.kwok.sh/instance-cpu", "operator": "In", "values": list(instance_cpus)},
        {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
        {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]},
    ]
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "metadata": {"labels": selector},
                "spec": {
                    "nodeClassRef": {
                        "group": "karpenter.kwok.sh",
                        "kind": "KWOKNodeClass",
                        "name": NODE_CLASS,
                    },
                    "taints": taints,
                    "requirements": requirements,
                    "expireAfter": "Never",
                },
            },
            "limits": {"cpu": cpu_limit, "memory": memory_limit},
            "disruption": {
                "consolidationPolicy": "WhenEmptyOrUnderutilized",
                "consolidateAfter": "0s",
                "budgets": [{"nodes": "100%"}],
            },
        },
    }


def node_class() -> dict[str, Any]:
    return {
        "apiVersion": "karpenter.kwok.sh/v1alpha1",
        "kind": "KWOKNodeClass",
        "metadata": {"name": NODE_CLASS},
    }


def install_crds(plane: ControlPlane) -> None:
    plane.kubectl("apply", "--server-side", "-f", str(CRD_DIR))
    plane.kubectl("wait", "--for=condition=Established", "--timeout=60s", *(f"crd/{c}" for c in CRDS))


class Karpenter(HostProcess):
    """`karpenter-kwok` against one control plane: leader election off (one replica), no webhook
    (Karpenter v1 has none), metrics and health on free ports."""

    def __init__(self, plane: ControlPlane, log_path: Path) -> None:
        super().__init__("karpenter-kwok", log_path)
        self.plane = plane

    def start(self) -> None:
        health = free_port()
        env = {
            **self.plane.env(),
            "SYSTEM_NAMESPACE": "kube-system",
            "DISABLE_LEADER_ELECTION": "true",
            "METRICS_PORT": str(free_port()),
            "HEALTH_PROBE_PORT": str(health),
            "LOG_LEVEL": "debug",
            # Provisioning batches are Karpenter's defaults (a batch ends after 1 s without a new
            # pending pod, or after 10 s), as the figures in docs/benchmarks.md say.
        }
        self.spawn([binary("karpenter-kwok")], env)
        self.wait_ready(f"http://127.0.0.1:{health}/readyz", 60)

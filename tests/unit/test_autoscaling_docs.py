"""The review pool's autoscaling pieces agree with the chart: the documented EKS NodePool and the
test NodePool give nodes the label and NoSchedule taint that the chart's review-pool values give
review pods, and the vendored Karpenter CRDs are the version tools/karpenter/go.mod builds."""

from __future__ import annotations

import yaml

from tests.harness.controlplane import REPO_ROOT
from tests.harness.karpenter import CRD_DIR, pinned_version, review_nodepool, review_pool_values

EKS_EXAMPLE = REPO_ROOT / "docs" / "examples" / "eks-karpenter-review-pool.yaml"


def _pool_matches_the_chart(nodepool: dict[str, object]) -> None:
    selector, tolerations = review_pool_values()
    template = nodepool["spec"]["template"]  # type: ignore[index]
    assert selector and selector.items() <= template["metadata"]["labels"].items()
    taints = template["spec"]["taints"]
    for toleration in tolerations:
        assert toleration["operator"] == "Equal" and toleration["effect"] == "NoSchedule"
        assert {"key": toleration["key"], "value": toleration["value"], "effect": "NoSchedule"} in taints
    assert len(taints) == len(tolerations)  # no taint review pods would not tolerate
    limits = nodepool["spec"]["limits"]  # type: ignore[index]
    assert set(limits) == {"cpu", "memory"}


def test_the_documented_eks_nodepool_matches_the_chart_review_pool_values() -> None:
    docs = list(yaml.safe_load_all(EKS_EXAMPLE.read_text()))
    [nodepool] = [d for d in docs if d["kind"] == "NodePool"]
    assert nodepool["apiVersion"] == "karpenter.sh/v1"
    _pool_matches_the_chart(nodepool)
    [nodeclass] = [d for d in docs if d["kind"] == "EC2NodeClass"]
    assert nodepool["spec"]["template"]["spec"]["nodeClassRef"]["name"] == nodeclass["metadata"]["name"]


def test_the_test_nodepool_matches_the_chart_review_pool_values() -> None:
    _pool_matches_the_chart(review_nodepool("review", cpu_limit="4", memory_limit="8Gi"))


def test_the_vendored_karpenter_crds_are_the_pinned_version() -> None:
    version = pinned_version()
    files = sorted(CRD_DIR.glob("*.yaml"))
    assert len(files) == 4
    for path in files:
        first = path.read_text().splitlines()[0]
        assert first.startswith(f"# Vendored from sigs.k8s.io/karpenter {version} "), (path, first)

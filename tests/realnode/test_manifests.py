"""`kubectl apply -f deploy/review-operator.yaml`, unchanged, on the real node reaches the ready state.

The manifest names the published image; containerd gets our image under that name (read from the
manifest, so nothing here names a registry). Its pods carry no placement for the real node, so for
this test the kwok node is cordoned and the real node's taint lifted; both are put back afterwards.
"""

from __future__ import annotations

import json
import time
from typing import Any

import yaml

from tests.harness.controlplane import REPO_ROOT
from tests.harness.realnode import NODE_LABEL, NODE_NAME
from tests.realnode.conftest import RealCluster

MANIFESTS = REPO_ROOT / "deploy" / "review-operator.yaml"
NAMESPACE = "review-operator"


def _images(docs: list[dict[str, Any]]) -> set[str]:
    return {
        c["image"]
        for d in docs
        if d.get("kind") == "Deployment"
        for c in d["spec"]["template"]["spec"]["containers"]
    }


def test_kubectl_apply_of_the_rendered_manifests_runs_webhook_and_controller_ready(
    real_cluster: RealCluster,
) -> None:
    plane, node = real_cluster.plane, real_cluster.node
    docs = [d for d in yaml.safe_load_all(MANIFESTS.read_text()) if d]
    (published,) = _images(docs)
    node.ctr("images", "tag", "--force", real_cluster.images.app, published)
    plane.kubectl("create", "namespace", NAMESPACE)
    plane.kubectl("label", "namespace", NAMESPACE, "pod-security.kubernetes.io/enforce=restricted")
    for name, literal in (
        ("review-operator-webhook", "secret=apply-test"),
        ("review-operator-github-app", "private-key.pem=not-a-key"),
        ("review-operator-model", "ANTHROPIC_API_KEY=sk-ant-apply-test"),
    ):
        plane.kubectl("create", "secret", "generic", name, "-n", NAMESPACE, f"--from-literal={literal}")
    plane.kubectl("cordon", "kwok-node-0")
    plane.kubectl("taint", "nodes", NODE_NAME, f"{NODE_LABEL}:NoSchedule-")
    try:
        plane.kubectl("apply", "-f", str(MANIFESTS))
        deadline, pods = time.monotonic() + 180, []
        while time.monotonic() < deadline:
            pods = json.loads(plane.kubectl("get", "pods", "-n", NAMESPACE, "-o", "json").stdout)["items"]
            ready = [
                p
                for p in pods
                if all(s["ready"] for s in p["status"].get("containerStatuses", [{"ready": False}]))
            ]
            if len(pods) == 4 and len(ready) == 4:
                break
            time.sleep(1)
        summary = [(p["metadata"]["name"], p["status"].get("phase"), p["spec"].get("nodeName")) for p in pods]
        assert len(pods) == 4 and len(ready) == 4, summary
        assert {p["spec"]["nodeName"] for p in pods} == {NODE_NAME}
        components = sorted(p["metadata"]["labels"]["app.kubernetes.io/component"] for p in pods)
        # Two controller replicas (one leads through the Lease) and two webhook replicas.
        assert components == ["controller", "controller", "webhook", "webhook"]
        events = plane.kubectl("get", "events", "-n", NAMESPACE, "-o", "json").stdout
        assert "violates PodSecurity" not in events
    finally:
        # Everything but the CRD, which the session's other tests keep using.
        rest = [d for d in docs if d["kind"] != "CustomResourceDefinition"]
        plane.kubectl(
            "delete",
            "-f",
            "-",
            "--wait=true",
            "--timeout=120s",
            input_text=yaml.safe_dump_all(rest),
            check=False,
        )
        plane.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)
        plane.kubectl("taint", "nodes", NODE_NAME, f"{NODE_LABEL}=true:NoSchedule", "--overwrite")
        plane.kubectl("uncordon", "kwok-node-0")

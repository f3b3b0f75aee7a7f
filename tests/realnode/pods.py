"""Small pods on the real node: build, run to the end, read phase, container state and logs."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from tests.harness.controlplane import ControlPlane
from tests.harness.realnode import NODE_SELECTOR, TOLERATION

RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}
FINAL = ("Succeeded", "Failed")


def restricted_namespace(plane: ControlPlane, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    plane.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": RESTRICTED}})
    return name


def on_real_node(spec: dict[str, Any]) -> dict[str, Any]:
    """A pod spec placed on the real node (its label and taint)."""
    return {**spec, "nodeSelector": NODE_SELECTOR, "tolerations": [TOLERATION]}


def restricted_pod(
    name: str, image: str, args: list[str], memory: str = "256Mi", **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": on_real_node(
            {
                "restartPolicy": "Never",
                "automountServiceAccountToken": False,
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": 65532,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "containers": [
                    {
                        "name": "main",
                        "image": image,
                        "imagePullPolicy": "Never",
                        "args": args,
                        "resources": {
                            "requests": {"cpu": "50m", "memory": "64Mi"},
                            "limits": {"memory": memory},
                        },
                        "securityContext": {
                            "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]},
                        },
                        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                    }
                ],
                "volumes": [{"name": "tmp", "emptyDir": {}}],
                **spec,
            }
        ),
    }


def get_pod(plane: ControlPlane, namespace: str, name: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(plane.kubectl("get", "pod", name, "-n", namespace, "-o", "json").stdout)
    return out


def run_to_end(
    plane: ControlPlane, namespace: str, pod: dict[str, Any], timeout: float = 120
) -> dict[str, Any]:
    plane.kubectl("apply", "-n", namespace, "-f", "-", input_text=json.dumps(pod))
    deadline = time.monotonic() + timeout
    name = pod["metadata"]["name"]
    while time.monotonic() < deadline:
        got = get_pod(plane, namespace, name)
        if got["status"].get("phase") in FINAL:
            return got
        time.sleep(0.5)
    raise AssertionError(f"pod {name} did not end in {timeout:.0f} s: {json.dumps(got['status'])[:2000]}")


def logs(plane: ControlPlane, namespace: str, name: str, container: str | None = None) -> str:
    args = ["logs", name, "-n", namespace] + (["-c", container] if container else [])
    return plane.kubectl(*args).stdout


def terminated(pod: dict[str, Any], container: str = "main") -> dict[str, Any]:
    for status in pod["status"].get("containerStatuses", []) + pod["status"].get("initContainerStatuses", []):
        if status["name"] == container:
            state: dict[str, Any] = status["state"].get("terminated", {})
            return state
    return {}

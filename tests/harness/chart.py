"""The Helm chart installed on the real node: values for this harness and a `helm` runner."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from tests.harness.controlplane import REPO_ROOT, binary
from tests.harness.realnode import NODE_SELECTOR, TOLERATION, Images

CHART = REPO_ROOT / "charts" / "review-operator"
RELEASE = "ro"
SECRETS = {  # the chart's default Secret names and keys
    "webhook": ("review-operator-webhook", "secret"),
    "github_app": ("review-operator-github-app", "private-key.pem"),
    "model": ("review-operator-model", "ANTHROPIC_API_KEY"),
}


def chart_values(images: Images, github_url: str, app_id: int, model_url: str) -> dict[str, Any]:
    """The local image, every pod on the real node, GitHub and the model pointed at the doubles on the
    bridge address. Everything else is the chart's default."""
    repository, tag = images.app.rsplit(":", 1)
    placement = {"nodeSelector": NODE_SELECTOR, "tolerations": [TOLERATION]}
    return {
        "image": {"repository": repository, "tag": tag, "pullPolicy": "Never"},
        "github": {"config": {"apiUrl": github_url, "appId": app_id, "retryBackoffSeconds": 0.2}},
        "webhook": placement,
        "controller": {
            **placement,
            "config": {
                **placement,
                "reviewEnv": {
                    "ANTHROPIC_BASE_URL": model_url,
                    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
                },
                "checkoutTimeoutSeconds": 30,
                "agentTimeoutSeconds": 60,
                "terminationGraceSeconds": 15,
                "podDeadlineSeconds": 120,
                "runningDeadlineSeconds": 180,
                "retryBaseSeconds": 1,
                "retryMaxSeconds": 2,
            },
        },
    }


def helm(kubeconfig: Path, *args: str) -> str:
    cmd = [binary("helm"), *args, f"--kubeconfig={kubeconfig}"]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"helm {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout

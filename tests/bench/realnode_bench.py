"""Real-node benchmark for `make bench`: the image, the node's start, and review pods that really run.

Figures:
- the image: its size, a no-change `make image` (cache hit), a code-only rebuild (a copy of the
  build context with one changed file, so the dependency layer is reused), and a rebuild of the
  project's Dockerfile with no layer cache (the Debian and Python bases cached);
- the real node: containerd + image import + kubelet Ready + kube-proxy + CoreDNS;
- ReviewJob created → first model request from the review pod (p50 and max over 20 reviews, one at a
  time, the chart's controller in its pod), and ReviewJob created → Succeeded;
- each review pod's peak memory, read from its pod cgroup (memory.max_usage_in_bytes, cgroup v1, or
  memory.peak, v2) while it runs, against the review container's memory limit.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from tests.factories import reviewjob_body
from tests.fakes.anthropic_api import FakeAnthropicAPI, text, tool
from tests.fakes.runner_harness import review_json
from tests.github_double.git import build_repo
from tests.github_double.openapi import OpenAPI
from tests.github_double.server import GitHubDouble
from tests.harness import hostnet
from tests.harness.chart import CHART, RELEASE, SECRETS, chart_values, helm
from tests.harness.controlplane import REPO_ROOT, ControlPlane, FakeNode
from tests.harness.realnode import CGROUP_ROOT, Images, RealNode

Figure = tuple[str, float, str]
REVIEWS = 20
APP_ID, INSTALLATION_ID = 4242, 42
BASE = {"app.py": "def add(a, b):\n    return a + b\n"}
HEAD = {"app.py": "def add(a, b):\n    return a - b\n"}
MEMORY_LIMIT_BYTES = 1024**3  # the chart's default controller.config.memoryLimit (1Gi)


def _timed(cmd: list[str], cwd: Path | None = None) -> float:
    start = time.monotonic()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, timeout=1800)
    return time.monotonic() - start


def image_figures() -> list[Figure]:
    images = Images.load()
    figures: list[Figure] = [("image size (podman's uncompressed size)", images.app_bytes() / 1e6, "MB")]
    figures.append(
        ("make image, nothing changed (cache hit)", _timed(["bash", "tools/image.sh"], REPO_ROOT), "s")
    )
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Path(tmp)
        for name in ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md"):
            shutil.copy(REPO_ROOT / name, ctx / name)
        shutil.copytree(
            REPO_ROOT / "operator", ctx / "operator", ignore=shutil.ignore_patterns("__pycache__")
        )
        with (ctx / "operator" / "review_operator" / "__init__.py").open("a") as f:
            f.write(f"\n# bench {time.time()}\n")
        base = _base_image()
        build = ["podman", "build", "--network=host", "--build-arg", f"BASE_IMAGE={base}", "-q"]
        ca = os.environ.get("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt")
        secret = ["--secret", f"id=build-ca,src={ca}"] if Path(ca).exists() else []
        figures.append(
            (
                "code-only rebuild (dependency layers reused)",
                _timed([*build, *secret, "-t", "reviewop-bench:code", "."], ctx),
                "s",
            )
        )
        figures.append(
            (
                "Dockerfile build without layer cache (bases cached)",
                _timed([*build, *secret, "--no-cache", "-t", "reviewop-bench:cold", "."], ctx),
                "s",
            )
        )
        subprocess.run(
            ["podman", "rmi", "-f", "reviewop-bench:code", "reviewop-bench:cold"],
            capture_output=True,
            check=False,
        )
    return figures


def _base_image() -> str:
    out = subprocess.run(
        ["podman", "images", "--format", "{{.Repository}}:{{.Tag}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return next(line for line in out.splitlines() if line.startswith("localhost/reviewop/python:"))


def _pod_peak_bytes(uid: str) -> int:
    """The pod cgroup's peak memory so far, or 0 when it is not there (yet, or any more)."""
    for controller in hostnet.cgroup_controllers():
        root = controller / CGROUP_ROOT.strip("/")
        for path in root.glob(f"kubepods*/**/pod{uid}") if root.exists() else []:
            for name in ("memory.max_usage_in_bytes", "memory.peak"):
                try:
                    return int((path / name).read_text())
                except (OSError, ValueError):
                    continue
    return 0


async def _reviews(plane: ControlPlane, node: RealNode, tmp: Path) -> list[Figure]:
    built = await asyncio.to_thread(build_repo, tmp / "git", "octo-org", "bench", BASE, HEAD)
    key_path = tmp / "key.pem"
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    double = await GitHubDouble(OpenAPI(), tmp / "git", APP_ID, public).start(hostnet.HOST_IP)
    repo = double.add_repo("octo-org", "bench", 777, built.bare, INSTALLATION_ID)
    model = FakeAnthropicAPI(default=text(review_json("fine", [])))
    await model.start(hostnet.HOST_IP)
    ns = "review-operator"
    try:
        plane.kubectl("create", "namespace", ns)
        plane.kubectl("label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted")
        for role, source in {
            "webhook": f"--from-literal={SECRETS['webhook'][1]}=bench",
            "github_app": f"--from-file={SECRETS['github_app'][1]}={key_path}",
            "model": f"--from-literal={SECRETS['model'][1]}=sk-ant-bench",
        }.items():
            plane.kubectl("create", "secret", "generic", SECRETS[role][0], "-n", ns, source)
        values = tmp / "values.yaml"
        values.write_text(yaml.safe_dump(chart_values(node.images, double.url, APP_ID, model.base_url)))
        await asyncio.to_thread(
            helm, plane.kubeconfig, "install", RELEASE, str(CHART), "-n", ns, "-f", str(values), "--wait"
        )
        to_model, to_done, peaks = [], [], []
        for i in range(REVIEWS):
            pull = double.add_pull(repo, i + 1, built.head_sha, built.base_sha)
            model.script = [tool("Read", file_path="app.py"), text(review_json("fine", []))]
            model.first_request_at = None
            job = _reviewjob(ns, repo.owner, repo.name, repo.id, pull.number, built.head_sha, built.base_sha)
            loop = asyncio.get_running_loop()
            created = loop.time()
            plane.kubectl("create", "-f", "-", input_text=json.dumps(job))
            peak, uid = 0, ""
            while True:
                status = json.loads(
                    plane.kubectl("get", "rj", job["metadata"]["name"], "-n", ns, "-o", "json").stdout
                ).get("status", {})
                if not uid and status.get("podName"):
                    pod = plane.kubectl(
                        "get",
                        "pod",
                        status["podName"],
                        "-n",
                        ns,
                        "-o",
                        "jsonpath={.metadata.uid}",
                        check=False,
                    )
                    uid = pod.stdout.strip()
                if uid:
                    peak = max(peak, _pod_peak_bytes(uid))
                if status.get("phase") in ("Succeeded", "Failed", "TimedOut"):
                    break
                await asyncio.sleep(0.1)
            assert status["phase"] == "Succeeded", status
            assert model.first_request_at is not None
            to_model.append(model.first_request_at - created)
            to_done.append(loop.time() - created)
            peaks.append(peak)
    finally:
        await double.stop()
        await model.stop()
    return [
        (
            f"ReviewJob created → first model request from the pod, p50 of {REVIEWS}",
            statistics.median(to_model),
            "s",
        ),
        (f"ReviewJob created → first model request, max of {REVIEWS}", max(to_model), "s"),
        (f"ReviewJob created → Succeeded, p50 of {REVIEWS}", statistics.median(to_done), "s"),
        ("review pod peak memory (pod cgroup), p50", statistics.median(peaks) / 2**20, "MiB"),
        ("review pod peak memory (pod cgroup), max", max(peaks) / 2**20, "MiB"),
        (
            "headroom under the chart's 1Gi review limit (max peak)",
            100 * (1 - max(peaks) / MEMORY_LIMIT_BYTES),
            "%",
        ),
    ]


def _reviewjob(
    ns: str, owner: str, name: str, repo_id: int, number: int, head: str, base: str
) -> dict[str, Any]:
    return reviewjob_body(
        f"bench-{number}",
        namespace=ns,
        uid="",
        created=None,
        rv=None,
        owner=owner,
        repo_name=name,
        repo_id=repo_id,
        pr=number,
        sha=head,
        base_sha=base,
        title="Bench",
        installation_id=INSTALLATION_ID,
        typed=True,
    )


def run() -> list[Figure]:
    reason = RealNode.unavailable()
    if reason is not None:
        raise SystemExit(f"the real-node benchmark cannot run here: {reason}")
    figures = image_figures()
    node = RealNode(Images.load())
    node.prepare()
    plane = ControlPlane(address=hostnet.HOST_IP, nodes=(FakeNode("kwok-node-0"),))
    try:
        started = time.monotonic()
        plane.start()
        node.track(plane)
        plane.kubectl("apply", "-f", str(REPO_ROOT / "crds" / "reviewjobs.review-operator.dev.yaml"))
        figures.append(
            ("control plane start (API server on the bridge address)", time.monotonic() - started, "s")
        )
        node.start(plane)
        figures.append(
            (
                "real node start (containerd, image import, kubelet Ready, kube-proxy, CoreDNS)",
                node.start_seconds,
                "s",
            )
        )
        figures.append(("of which: image import into containerd", node.import_seconds, "s"))
        with tempfile.TemporaryDirectory() as tmp:
            figures += asyncio.run(_reviews(plane, node, Path(tmp)))
    finally:
        node.stop(plane)
        plane.stop()
        problems = node.restore()
    if problems:
        raise SystemExit(f"the host was not fully restored: {problems}")
    return figures

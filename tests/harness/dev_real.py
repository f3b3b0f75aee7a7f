"""`make dev-node`: the product as a user's cluster runs it, on a real node, torn down on Ctrl-C.

Starts the control plane on the real node's bridge address, the real node (containerd, kubelet,
kube-proxy, CoreDNS), a GitHub double serving one repository with one pull request (git smart HTTP
and the REST API, validated against GitHub's OpenAPI description) and a fake Messages API that
reviews every pull request in two turns (reads a file, then answers). Then it installs the Helm
chart with the image `make image` built: the webhook and the controller run as pods, and each review
runs in a real pod with the bundled Claude Code CLI. Reviews the double receives are printed.
Needs root (it creates a bridge and iptables rules, and puts everything back on exit).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from review_operator.webhook.signature import sign
from tests.fakes.anthropic_api import FakeAnthropicAPI, Reply, text, tool
from tests.github_double.git import build_repo
from tests.github_double.openapi import OpenAPI
from tests.github_double.server import GitHubDouble
from tests.harness import hostnet
from tests.harness.chart import CHART, RELEASE, SECRETS, chart_values, helm
from tests.harness.controlplane import REPO_ROOT, ControlPlane, FakeNode
from tests.harness.realnode import Images, RealNode

DEV_DIR = REPO_ROOT / ".cache" / "dev-node"
CRD_FILE = REPO_ROOT / "crds" / "reviewjobs.review-operator.dev.yaml"
EXAMPLES = REPO_ROOT / "tests/npm/node_modules/@octokit/webhooks-examples/api.github.com/index.json"
NAMESPACE = "review-operator"
APP_ID, INSTALLATION_ID, REPO_ID = 4242, 42, 1296269
BASE = {"app.py": "def add(a, b):\n    return a + b\n"}
HEAD = {"app.py": "def add(a, b):\n    return a - b\n"}


def reviewer(body: dict[str, Any]) -> Reply:
    """Turn 1 reads the changed file; turn 2 answers with one finding on the changed line."""
    messages = body.get("messages", [])
    last = messages[-1]["content"] if messages else ""
    if isinstance(last, list) and any(block.get("type") == "tool_result" for block in last):
        finding = {
            "path": "app.py",
            "line": 2,
            "severity": "major",
            "title": "Subtracts",
            "body": "`add` returns a - b.",
        }
        return text(json.dumps({"summary": "One bug: add() subtracts.", "findings": [finding]}))
    return tool("Read", file_path="app.py")


def delivery(head: str, base: str) -> dict[str, Any]:
    examples = json.loads(EXAMPLES.read_text())
    payload: dict[str, Any] = next(
        e
        for entry in examples
        if entry["name"] == "pull_request"
        for e in entry["examples"]
        if e["action"] == "opened"
    )
    payload["pull_request"]["head"]["sha"], payload["pull_request"]["base"]["sha"] = head, base
    payload["number"] = payload["pull_request"]["number"] = 1
    payload["repository"].update(id=REPO_ID, name="hello-world", full_name="octo-org/hello-world")
    payload["repository"]["owner"]["login"] = "octo-org"
    payload["installation"] = {"id": INSTALLATION_ID, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI="}
    return payload


async def run(stop: asyncio.Event) -> None:
    node = RealNode(Images.load(), workdir=DEV_DIR / "node")
    # Before touching DEV_DIR: another `make dev-node` may be using it (this waits for it), or one that
    # died may have left mounts below it (this undoes them).
    for line in node.claim_host():
        print(line, flush=True)
    shutil.rmtree(DEV_DIR, ignore_errors=True)
    DEV_DIR.mkdir(parents=True)
    node.prepare()
    plane = ControlPlane(workdir=DEV_DIR / "cp", address=hostnet.HOST_IP, nodes=(FakeNode("kwok-node-0"),))
    double: GitHubDouble | None = None
    model = FakeAnthropicAPI(default=reviewer)
    try:
        print("starting the control plane and the real node …", flush=True)
        await asyncio.to_thread(plane.start)
        node.track(plane)
        plane.kubectl("apply", "-f", str(CRD_FILE))
        await asyncio.to_thread(node.start, plane)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        (DEV_DIR / "app-key.pem").write_bytes(pem)
        built = await asyncio.to_thread(build_repo, DEV_DIR / "git", "octo-org", "hello-world", BASE, HEAD)
        double = await GitHubDouble(OpenAPI(), DEV_DIR / "git", APP_ID, public.decode()).start(
            hostnet.HOST_IP
        )
        repo = double.add_repo("octo-org", "hello-world", REPO_ID, built.bare, INSTALLATION_ID)
        pull = double.add_pull(repo, 1, built.head_sha, built.base_sha)
        await model.start(hostnet.HOST_IP)
        secret = os.urandom(12).hex()
        plane.kubectl("create", "namespace", NAMESPACE)
        plane.kubectl("label", "namespace", NAMESPACE, "pod-security.kubernetes.io/enforce=restricted")
        sources = {
            "webhook": f"--from-literal={SECRETS['webhook'][1]}={secret}",
            "github_app": f"--from-file={SECRETS['github_app'][1]}={DEV_DIR / 'app-key.pem'}",
            "model": f"--from-literal={SECRETS['model'][1]}=sk-ant-dev-fake",
        }
        for role, source in sources.items():
            plane.kubectl("create", "secret", "generic", SECRETS[role][0], "-n", NAMESPACE, source)
        values = DEV_DIR / "values.yaml"
        values.write_text(yaml.safe_dump(chart_values(node.images, double.url, APP_ID, model.base_url)))
        print("installing the chart (webhook ×2, controller) …", flush=True)
        await asyncio.to_thread(
            helm,
            plane.kubeconfig,
            "install",
            RELEASE,
            str(CHART),
            "-n",
            NAMESPACE,
            "-f",
            str(values),
            "--wait",
        )
        svc = json.loads(
            plane.kubectl(
                "get", "svc", f"{RELEASE}-review-operator-webhook", "-n", NAMESPACE, "-o", "json"
            ).stdout
        )
        url = f"http://{svc['spec']['clusterIP']}/webhook/github"
        sample = DEV_DIR / "pull_request-opened.json"
        sample.write_bytes(json.dumps(delivery(built.head_sha, built.base_sha)).encode())
        signature = sign(sample.read_bytes(), secret.encode())
        print(
            f"""
the product runs on the real node {node.start_seconds:.0f} s after the control plane; logs in {DEV_DIR}

  export KUBECONFIG={plane.kubeconfig} PATH={REPO_ROOT / ".cache" / "bin"}:$PATH
  kubectl get pods -n {NAMESPACE} -o wide          # webhook ×2 and the controller, on {node.images.app}

Send GitHub's pull_request.opened example (pointed at the double's repository) through the Service:
  curl -sS {url} -H 'X-GitHub-Event: pull_request' -H "X-GitHub-Delivery: $(date +%s%N)" \\
    -H 'Content-Type: application/json' -H 'X-Hub-Signature-256: {signature}' \\
    --data-binary @{sample}
  kubectl get rj,pods -n {NAMESPACE} -w            # a review pod runs the CLI against the fake model
Reviews posted to the GitHub double are printed below. Ctrl-C stops everything.""",
            flush=True,
        )
        seen = 0
        while not stop.is_set():
            plane.check_alive()
            node.check_alive()
            for review in pull.reviews[seen:]:
                print(f"\nreview posted on octo-org/hello-world#1:\n{review.get('body', '')}\n", flush=True)
            seen = len(pull.reviews)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1)
    finally:
        print("\nstopping …", flush=True)
        await asyncio.to_thread(node.stop, plane)
        await asyncio.to_thread(plane.stop)
        problems = node.restore()
        if double is not None:
            await double.stop()
        await model.stop()
        for problem in problems:
            print(f"host not fully restored: {problem}", file=sys.stderr)
        shutil.rmtree(DEV_DIR, ignore_errors=True)


def main() -> int:
    reason = RealNode.unavailable()
    if reason is not None:
        print(f"the real node cannot run here: {reason}", file=sys.stderr)
        return 2
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, stop.set)
    try:
        loop.run_until_complete(run(stop))
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())

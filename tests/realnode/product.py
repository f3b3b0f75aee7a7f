"""The product installed with its Helm chart on the real node, as a user's cluster runs it.

The webhook (2 replicas) and the controller run as pods from the image `make image` built; review
pods run on the real node: the `checkout` init container clones from the GitHub double's git smart
HTTP and the runner's bundled Claude Code CLI talks to the fake Messages API, both listening on the
node's bridge address. Deliveries reach the webhook through its Service (kube-proxy's rules) or
through Traefik and the chart's Ingress (`tests/harness/traefik.py`): the release has the Ingress
enabled with Traefik's class, TLS from the Secret the ingress tests create, and Traefik's body-limit
middleware attached by annotation.

One release for the whole run (`install_product`, the session fixture `product` in conftest.py),
in a PodSecurity-restricted namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
import yaml

from review_operator.api.models import GROUP, PLURAL
from tests.fakes.anthropic_api import FakeAnthropicAPI
from tests.github_double.fixtures import (
    APP_ID,
    BASE_FILES,
    HEAD_FILES,
    INSTALLATION_ID,
    AppKey,
    assert_no_secrets,
)
from tests.github_double.git import BuiltRepo, build_repo
from tests.github_double.openapi import OpenAPI
from tests.github_double.server import GitHubDouble, Repo
from tests.harness import hostnet, traefik
from tests.harness.chart import CHART, RELEASE, chart_values, helm
from tests.harness.controlplane import ControlPlane
from tests.integration.webhook_helpers import example, signed_headers
from tests.realnode.pods import restricted_namespace

if TYPE_CHECKING:
    from tests.realnode.conftest import RealCluster

FINAL = {"Succeeded", "Failed", "TimedOut", "Superseded", "Cancelled"}
MODEL_KEY = "sk-ant-realnode-" + uuid.uuid4().hex  # unique: any occurrence in a log is a leak


@dataclass
class Product:
    cluster: RealCluster
    namespace: str
    double: GitHubDouble
    model: FakeAnthropicAPI
    key: AppKey
    webhook_secret: str
    repo: Repo
    built: BuiltRepo
    values_file: Path

    @property
    def plane(self) -> ControlPlane:
        return self.cluster.plane

    def kubectl_json(self, *args: str) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self.plane.kubectl(*args, "-n", self.namespace, "-o", "json").stdout)
        return out

    def upgrade(self, **config: Any) -> None:
        """`helm upgrade` with controller.config values changed; waits for the new controller."""
        values = yaml.safe_load(self.values_file.read_text())
        values["controller"]["config"].update(config)
        self.values_file.write_text(yaml.safe_dump(values))
        values_file, kubeconfig = str(self.values_file), self.plane.kubeconfig
        helm(kubeconfig, "upgrade", RELEASE, str(CHART), "-n", self.namespace, "-f", values_file, "--wait")

    def service_url(self) -> str:
        svc = self.kubectl_json("get", "service", f"{RELEASE}-review-operator-webhook")
        port = svc["spec"]["ports"][0]["port"]
        return f"http://{svc['spec']['clusterIP']}:{port}/webhook/github"

    def pr_payload(self, number: int, head_sha: str, base_sha: str) -> dict[str, Any]:
        """GitHub's own `pull_request.opened` example, pointed at the double's repository; deliveries to
        a GitHub App carry `installation`, which the example lacks."""
        payload = example("pull_request", "opened")
        payload["number"] = number
        payload["pull_request"]["number"] = number
        payload["pull_request"]["head"]["sha"] = head_sha
        payload["pull_request"]["base"]["sha"] = base_sha
        for key, value in (("id", self.repo.id), ("name", self.repo.name)):
            payload["repository"][key] = value
        payload["repository"]["full_name"] = f"{self.repo.owner}/{self.repo.name}"
        payload["repository"]["owner"]["login"] = self.repo.owner
        payload["installation"] = {
            "id": INSTALLATION_ID,
            "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI=",
        }
        return payload

    async def deliver(self, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        body = json.dumps(payload).encode()
        headers = signed_headers(body, "pull_request", secret=self.webhook_secret)
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                self.service_url(), data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=15)
            ) as resp,
        ):
            return resp.status, await resp.json(content_type=None)

    def reviewjobs(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.kubectl_json("get", f"{PLURAL}.{GROUP}")["items"]
        return items

    def reviewjob(self, name: str) -> dict[str, Any]:
        return self.kubectl_json("get", f"{PLURAL}.{GROUP}", name)

    async def wait(self, check: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = await asyncio.to_thread(check)
            if value:
                return value
            await asyncio.sleep(0.5)
        logs = await asyncio.to_thread(self.controller_logs)
        raise AssertionError(f"timed out waiting for {what}; controller log tail:\n{logs[-4000:]}")

    async def wait_final(self, name: str, timeout: float = 240) -> dict[str, Any]:
        def final() -> dict[str, Any] | None:
            job = self.reviewjob(name)
            return job if job.get("status", {}).get("phase") in FINAL else None

        got: dict[str, Any] = await self.wait(final, timeout, f"ReviewJob {name} to finish")
        return got

    async def wait_posted(self, name: str, timeout: float = 60) -> None:
        """Until the ReviewJob's review or note is on the PR (posting follows the final phase)."""
        await self.wait(
            lambda: self.reviewjob(name).get("status", {}).get("posting", {}).get("state") == "Posted",
            timeout,
            f"{name} posted",
        )

    def controller_logs(self) -> str:
        return self.plane.kubectl(
            "logs",
            "-n",
            self.namespace,
            "-l",
            "app.kubernetes.io/component=controller",
            "--tail=-1",
            check=False,
        ).stdout

    def webhook_logs(self) -> str:
        return self.plane.kubectl(
            "logs",
            "-n",
            self.namespace,
            "-l",
            "app.kubernetes.io/component=webhook",
            "--tail=-1",
            "--prefix",
            check=False,
        ).stdout


def ingress_values() -> dict[str, Any]:
    """The chart's Ingress for Traefik: its class, TLS (its router's and the chart's default Secret
    name, created by the ingress tests from a test CA), and Traefik's body-limit middleware."""
    return {
        "enabled": True,
        "className": traefik.INGRESS_CLASS,
        "annotations": {
            traefik.MIDDLEWARES_ANNOTATION: traefik.BODY_LIMIT_MIDDLEWARE,
            traefik.TLS_ANNOTATION: "true",
        },
        "tls": {"enabled": True},
    }


@contextlib.asynccontextmanager
async def install_product(
    real_cluster: RealCluster, openapi: OpenAPI, app_key: AppKey, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Product]:
    """The doubles, the Secrets and `helm install --wait`; on exit `helm uninstall`, then checks that
    the double saw no protocol violation and that no secret is in any log or event."""
    plane = real_cluster.plane
    root = tmp_path_factory.mktemp("git")
    built = await asyncio.to_thread(build_repo, root, "octo-org", "widgets", BASE_FILES, HEAD_FILES)
    double = await GitHubDouble(openapi, root, APP_ID, app_key.public_pem).start(hostnet.HOST_IP)
    repo = double.add_repo("octo-org", "widgets", 90001, built.bare, INSTALLATION_ID)
    model = FakeAnthropicAPI()
    await model.start(hostnet.HOST_IP)
    ns = restricted_namespace(plane, "product")
    webhook_secret = os.urandom(16).hex()
    plane.kubectl("create", "secret", "generic", "review-operator-webhook", "-n", ns,
                  f"--from-literal=secret={webhook_secret}")  # fmt: skip
    plane.kubectl("create", "secret", "generic", "review-operator-github-app", "-n", ns,
                  f"--from-file=private-key.pem={app_key.path}")  # fmt: skip
    plane.kubectl("create", "secret", "generic", "review-operator-model", "-n", ns,
                  f"--from-literal=ANTHROPIC_API_KEY={MODEL_KEY}")  # fmt: skip
    values = chart_values(real_cluster.images, double.url, APP_ID, model.base_url)
    values["webhook"]["ingress"] = ingress_values()
    values_file = tmp_path_factory.mktemp("values") / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    await asyncio.to_thread(
        helm, plane.kubeconfig, "install", RELEASE, str(CHART), "-n", ns, "-f", str(values_file), "--wait",
        "--timeout", "180s",
    )  # fmt: skip
    product = Product(real_cluster, ns, double, model, app_key, webhook_secret, repo, built, values_file)
    try:
        yield product
    finally:
        logs = await asyncio.to_thread(product.controller_logs) + await asyncio.to_thread(
            product.webhook_logs
        )
        events = plane.kubectl("get", "events", "-n", ns, "-o", "json", check=False).stdout
        await asyncio.to_thread(helm, plane.kubeconfig, "uninstall", RELEASE, "-n", ns, "--wait")
        await double.stop()
        await model.stop()
    assert double.violations == [], double.violations
    for text_ in (logs, events):
        assert_no_secrets(text_, double, app_key)
        assert MODEL_KEY not in text_
        assert webhook_secret not in text_

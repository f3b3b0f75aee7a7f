"""The chart on the real node: a signed delivery becomes one review, posted once, from a real pod.

One release (module scope) in a PodSecurity-restricted namespace; the tests change the controller's
settings with `helm upgrade` where they need a smaller memory limit or a shorter agent timeout.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator

import pytest
import yaml

from tests.fakes.anthropic_api import FakeAnthropicAPI, text, tool
from tests.fakes.runner_harness import review_json
from tests.github_double.fixtures import (  # noqa: F401 - pytest fixtures
    APP_ID,
    BASE_FILES,
    HEAD_FILES,
    INSTALLATION_ID,
    AppKey,
    app_key,
    assert_no_secrets,
    openapi,
)
from tests.github_double.git import build_repo
from tests.github_double.openapi import OpenAPI
from tests.github_double.server import GitHubDouble
from tests.harness import hostnet
from tests.harness.chart import CHART, RELEASE, chart_values, helm
from tests.harness.realnode import NODE_NAME
from tests.realnode.conftest import RealCluster
from tests.realnode.pods import restricted_namespace
from tests.realnode.product import MODEL_KEY, Product

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
async def product(
    real_cluster: RealCluster,
    openapi: OpenAPI,  # noqa: F811 - the imported fixture
    app_key: AppKey,  # noqa: F811 - the imported fixture
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Product]:
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
    values_file = tmp_path_factory.mktemp("values") / "values.yaml"
    values_file.write_text(
        yaml.safe_dump(chart_values(real_cluster.images, double.url, APP_ID, model.base_url))
    )
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


async def test_chart_pods_run_on_the_real_node_restricted_with_probes_passing(product: Product) -> None:
    pods = product.kubectl_json("get", "pods", "-l", "app.kubernetes.io/component in (webhook,controller)")
    by_component: dict[str, list[dict[str, object]]] = {}
    for pod in pods["items"]:
        by_component.setdefault(pod["metadata"]["labels"]["app.kubernetes.io/component"], []).append(pod)
    assert sorted((c, len(p)) for c, p in by_component.items()) == [("controller", 2), ("webhook", 2)]
    for pod in pods["items"]:
        assert pod["spec"]["nodeName"] == NODE_NAME
        statuses = pod["status"]["containerStatuses"]
        assert all(s["ready"] and s["restartCount"] == 0 for s in statuses), statuses
        assert pod["spec"]["serviceAccountName"].startswith(f"{RELEASE}-review-operator-")
    namespace = json.loads(product.plane.kubectl("get", "namespace", product.namespace, "-o", "json").stdout)
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


async def test_signed_delivery_through_the_service_is_reviewed_by_a_real_pod_and_posted_once(
    product: Product,
) -> None:
    double, built = product.double, product.built
    pull = double.add_pull(product.repo, 11, built.head_sha, built.base_sha)
    finding = {
        "path": "app.py",
        "line": 10,
        "severity": "major",
        "title": "Changed line",
        "body": "Check it.",
    }
    product.model.script = [
        tool("Read", file_path="app.py"),
        text(review_json("Reviewed on a real node.", [finding])),
    ]
    requests_before = len(product.model.requests)
    status, answer = await product.deliver(product.pr_payload(11, built.head_sha, built.base_sha))
    assert status == 201, answer
    name = answer["reviewjob"]
    job = await product.wait_final(name)
    assert job["status"]["phase"] == "Succeeded", job["status"]
    assert len(pull.reviews) == 1, pull.reviews
    assert "Reviewed on a real node." in json.dumps(pull.reviews[0])
    # The runner's CLI talked to the fake model from the pod, with the model key from the Secret.
    turns = product.model.requests[requests_before:]
    assert turns, "the review pod never reached the model"
    # The checkout init container fetched the head over the pod network with a minted token.
    assert double.count("POST", f"/{product.repo.owner}/{product.repo.name}.git/git-upload-pack") >= 1
    assert any(m.get("repository_ids") == [product.repo.id] for m in double.mints), double.mints
    # A redelivery of the same delivery is a duplicate, and nothing more is posted.
    status, _ = await product.deliver(product.pr_payload(11, built.head_sha, built.base_sha))
    assert status == 200
    await asyncio.sleep(3)
    assert len(pull.reviews) == 1


async def test_kernel_oom_kill_of_a_review_pod_ends_failed_oomkilled_with_a_note(product: Product) -> None:
    # The bundled CLI alone peaks near 220-260 MB: under a 160Mi limit the kernel kills it.
    await asyncio.to_thread(product.upgrade, memoryRequest="96Mi", memoryLimit="160Mi")
    try:
        built = product.built
        pull = product.double.add_pull(product.repo, 12, built.head_sha, built.base_sha)
        product.model.script = [tool("Read", file_path="app.py"), text(review_json("never seen", []))]
        status, answer = await product.deliver(product.pr_payload(12, built.head_sha, built.base_sha))
        assert status == 201, answer
        job = await product.wait_final(answer["reviewjob"])
        assert (job["status"]["phase"], job["status"]["reason"]) == ("Failed", "OOMKilled"), job["status"]
        assert job["status"]["attempts"] == 1  # not retried
        await product.wait_posted(answer["reviewjob"])
        assert pull.reviews == []
        assert len(pull.comments) == 1 and "OOMKilled" in pull.comments[0]["body"], pull.comments
    finally:
        await asyncio.to_thread(product.upgrade, memoryRequest="512Mi", memoryLimit="1Gi")


async def test_stalled_model_ends_timed_out_by_the_agent_timeout_with_a_note(product: Product) -> None:
    await asyncio.to_thread(product.upgrade, agentTimeoutSeconds=30)
    try:
        built = product.built
        pull = product.double.add_pull(product.repo, 13, built.head_sha, built.base_sha)
        product.model.script = [text(review_json("too late", []), delay_s=90)]
        status, answer = await product.deliver(product.pr_payload(13, built.head_sha, built.base_sha))
        assert status == 201, answer
        job = await product.wait_final(answer["reviewjob"])
        assert (job["status"]["phase"], job["status"]["reason"]) == ("TimedOut", "AgentTimeout"), job[
            "status"
        ]
        await product.wait_posted(answer["reviewjob"])
        assert len(pull.comments) == 1 and "AgentTimeout" in pull.comments[0]["body"], pull.comments
    finally:
        await asyncio.to_thread(product.upgrade, agentTimeoutSeconds=60)

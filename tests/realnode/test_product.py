"""The chart on the real node: a signed delivery becomes one review, posted once, from a real pod.

One release (the session fixture `product`, shared with the ingress tests) in a PodSecurity-restricted
namespace; the tests change the controller's settings with `helm upgrade` where they need a smaller
memory limit or a shorter agent timeout.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.fakes.anthropic_api import text, tool
from tests.fakes.runner_harness import review_json
from tests.harness.chart import RELEASE
from tests.harness.realnode import NODE_NAME
from tests.realnode.product import Product

pytestmark = pytest.mark.timeout(900)


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

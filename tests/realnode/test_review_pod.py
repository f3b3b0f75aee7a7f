"""A review pod as the controller builds it, on the real node, stopped by the kubelet's deadline.

The runner is the container's PID 1, so SIGTERM reaches it and nothing else does unless it passes
it on: the pod's `activeDeadlineSeconds` must end with the runner's own result in the termination
message, written within the grace period, not with a SIGKILL after it.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path

from review_operator.api.models import ReviewJob
from review_operator.api.result import decode_result
from review_operator.builders.pod import build_checkout_secret, build_review_pod
from review_operator.config import ControllerSettings
from tests.factories import reviewjob
from tests.fakes.anthropic_api import FakeAnthropicAPI, text
from tests.fakes.runner_harness import review_json
from tests.github_double.fixtures import (  # noqa: F401 - pytest fixtures
    APP_ID,
    BASE_FILES,
    HEAD_FILES,
    INSTALLATION_ID,
    AppKey,
    app_key,
    openapi,
)
from tests.github_double.git import build_repo
from tests.github_double.openapi import OpenAPI
from tests.github_double.server import GitHubDouble
from tests.harness import hostnet
from tests.harness.realnode import NODE_NAME, NODE_SELECTOR, TOLERATION
from tests.realnode.conftest import RealCluster
from tests.realnode.pods import get_pod, logs, restricted_namespace, terminated

MODEL_KEY = "sk-ant-deadline-test-key-0123456789"
DEADLINE, GRACE = 20, 20


UID = "00000000-0000-0000-0000-00000000000a"


def _job(namespace: str, owner: str, name: str, repo_id: int, head: str, base: str) -> ReviewJob:
    return reviewjob(
        "stalled",
        namespace=namespace,
        uid=UID,
        created=None,
        rv=None,
        owner=owner,
        repo_name=name,
        repo_id=repo_id,
        sha=head,
        base_sha=base,
        title="Stall",
        installation_id=INSTALLATION_ID,
    )


async def test_kubelet_deadline_sigterms_the_runner_which_writes_its_result_in_the_grace_period(
    real_cluster: RealCluster,
    openapi: OpenAPI,  # noqa: F811 - the imported fixture
    app_key: AppKey,  # noqa: F811 - the imported fixture
    tmp_path: Path,
) -> None:
    plane = real_cluster.plane
    built = await asyncio.to_thread(build_repo, tmp_path, "octo-org", "stall", BASE_FILES, HEAD_FILES)
    double = await GitHubDouble(openapi, tmp_path, APP_ID, app_key.public_pem).start(hostnet.HOST_IP)
    repo = double.add_repo("octo-org", "stall", 90002, built.bare, INSTALLATION_ID)
    model = FakeAnthropicAPI(script=[text(review_json("too late", []), delay_s=300)])
    await model.start(hostnet.HOST_IP)
    try:
        ns = restricted_namespace(plane, "deadline")
        plane.kubectl("create", "secret", "generic", "review-operator-model", "-n", ns,
                      f"--from-literal=ANTHROPIC_API_KEY={MODEL_KEY}")  # fmt: skip
        settings = ControllerSettings(
            image=real_cluster.images.app,
            image_pull_policy="Never",
            node_selector=NODE_SELECTOR,
            tolerations=[TOLERATION],
            review_env={
                "ANTHROPIC_BASE_URL": model.base_url,
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            },
            agent_timeout_seconds=30,
            termination_grace_seconds=GRACE,
            pod_deadline_seconds=120,
            running_deadline_seconds=200,
        )
        job = _job(ns, repo.owner, repo.name, repo.id, built.head_sha, built.base_sha)
        secret = build_checkout_secret(job, double.add_pat())
        pod = build_review_pod(job, 1, built.head_sha, settings, double.url, with_checkout_token=True)
        for manifest in (secret, pod):
            manifest["metadata"].pop("ownerReferences")  # no ReviewJob exists for the GC to follow
        # The kubelet's deadline comes first: the agent's own timeout is set far beyond it.
        pod["spec"]["activeDeadlineSeconds"] = DEADLINE
        review = pod["spec"]["containers"][0]
        review["env"] = [e for e in review["env"] if e["name"] != "REVIEWOP_RUNNER_TIMEOUT_SECONDS"]
        review["env"].append({"name": "REVIEWOP_RUNNER_TIMEOUT_SECONDS", "value": "600"})
        plane.kubectl(
            "apply",
            "-n",
            ns,
            "-f",
            "-",
            input_text=json.dumps({"kind": "List", "apiVersion": "v1", "items": [secret, pod]}),
        )

        name = pod["metadata"]["name"]
        running_logs = ""
        for _ in range(240):
            got = await asyncio.to_thread(get_pod, plane, ns, name)
            if got["status"].get("phase") == "Running" and model.requests and not running_logs:
                running_logs = await asyncio.to_thread(logs, plane, ns, name, "review")
            # The kubelet writes the Failed phase as the deadline passes, before the container it
            # then stops has its terminated state: wait for both.
            if got["status"].get("phase") in ("Succeeded", "Failed") and terminated(got, "review"):
                break
            await asyncio.sleep(0.5)
        assert got["spec"]["nodeName"] == NODE_NAME
        assert got["status"]["phase"] == "Failed" and got["status"].get("reason") == "DeadlineExceeded", got[
            "status"
        ]
        state = terminated(got, "review")
        assert state, got["status"]
        # SIGTERM was handled: the runner exited by itself (not SIGKILL's 137) within the grace period
        # and left its result where the controller reads it.
        assert state["exitCode"] != 137, state
        started = datetime.fromisoformat(got["status"]["startTime"])
        finished = datetime.fromisoformat(state["finishedAt"])
        assert (finished - started).total_seconds() < DEADLINE + GRACE, (started, finished)
        result = decode_result(state.get("message"))
        assert "SIGTERM" in json.dumps(result.model_dump(mode="json")), result
        # kubectl logs reaches the kubelet: the runner's progress lines, and no secret in them.
        final_logs = await asyncio.to_thread(logs, plane, ns, name, "review")
        assert running_logs and final_logs.startswith(running_logs[:200]), (running_logs, final_logs)
        progress = [json.loads(line) for line in final_logs.splitlines() if line.startswith("{")]
        assert progress, final_logs
        for secret_value in (MODEL_KEY, *double.grants):
            assert secret_value not in final_logs
    finally:
        await model.stop()
        await double.stop()

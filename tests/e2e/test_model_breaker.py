"""The controller process under a revoked or invalid model key (issue 19, "circuit breaker"), against
the real control plane (kwok ends the review pods) and the GitHub double.

Before: every queued review started a pod, failed Unauthorized and posted a failure note. Now the
controller stops admitting, holds the queue with `ModelKeyRejected`, says so once (an Event on its
Lease, `reviewop_admission_paused{cause="model_key"}`, `/healthz`), and resumes by itself."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.e2e.test_controller import SIM, Stack, metric, stack  # noqa: F401 - `stack` is a fixture
from tests.fakes.anthropic_api import FakeAnthropicAPI
from tests.github_double.fixtures import app_key, openapi  # noqa: F401 - fixtures `stack` uses

MODEL_KEY = "sk-ant-api03-e2e-model-key-0123456789abcdef"
SUCCESS = '{"v":1,"outcome":"success","summary":"ok","cost_usd":0.01,"turns":1}'
UNAUTHORIZED = {
    SIM + "outcome": "Error",
    SIM + "exit-code": "21",
    SIM + "message": '{"v":1,"outcome":"unauthorized","error":"401 from the model API"}',
}
KEY_EVENTS = {"ModelKeyRejected", "ModelKeyTrial", "ModelKeyAccepted", "ModelProbeFailed"}


def health(st: Stack) -> dict[str, Any]:
    port = st.controller.env["REVIEWOP_HEALTH_PORT"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
        report: dict[str, Any] = json.loads(answer.read())
    return report


def breaker(st: Stack) -> str:
    try:
        return str(health(st).get("model", {}).get("breaker", ""))
    except OSError:
        return ""  # not serving yet


def key_events(st: Stack, kind: str = "Lease") -> list[tuple[str, str, str]]:
    """(reason, involved object's name, message) of the model key's Events on objects of `kind`
    (the controller's Lease; each held ReviewJob also gets its own), oldest first: by creation time,
    which has whole seconds, then by resourceVersion (etcd's revision: the order the API server
    created them in, which the controller keeps per object)."""
    events = client.CoreV1Api(st.api).list_namespaced_event(st.namespace).items
    events.sort(key=lambda e: (e.metadata.creation_timestamp, int(e.metadata.resource_version)))
    return [
        (e.reason, e.involved_object.name, e.message)
        for e in events
        if e.reason in KEY_EVENTS and e.involved_object.kind == kind
    ]


def pods(st: Stack) -> list[str]:
    items = client.CoreV1Api(st.api).list_namespaced_pod(st.namespace).items
    return [p.metadata.name for p in items]


def status(st: Stack, name: str) -> dict[str, Any]:
    got: dict[str, Any] = st.get(name).get("status", {})
    return got


def everything_public(st: Stack) -> str:
    port = st.controller.env["REVIEWOP_METRICS_PORT"]
    exposed = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    statuses = [json.dumps(st.get(n).get("status", {})) for n in st.created]
    events = [f"{r} {m}" for r, _, m in key_events(st) + key_events(st, "ReviewJob")]
    return "\n".join([st.controller.log_text(), exposed, json.dumps(health(st)), *statuses, *events])


async def test_a_rejected_key_holds_the_queue_loudly_and_a_passing_probe_resumes_it(
    stack: Stack,  # noqa: F811 - the imported fixture
    tmp_path: Path,
) -> None:
    key = tmp_path / "model-key"
    key.write_text(MODEL_KEY + "\n")
    async with FakeAnthropicAPI() as api:
        api.reject_key = True
        stack.controller.stop()
        stack.controller.env.update(
            REVIEWOP_MODEL_KEY_FILE=str(key),
            REVIEWOP_MODEL_PROBE_INTERVAL_SECONDS="1",
            REVIEWOP_REVIEW_ENV=json.dumps({"ANTHROPIC_BASE_URL": api.base_url}),
        )
        stack.controller.start()
        await stack.wait(lambda: breaker(stack) == "open", 40, "the breaker to open on the probe's 401")
        names = [f"key-{i}" for i in range(3)]
        for i, name in enumerate(names):
            annotations = {SIM + "duration": "200ms", SIM + "message": SUCCESS}
            stack.reviewjob(name, stack.repos[8], i + 1, annotations)
        held = lambda: all(status(stack, n).get("reason") == "ModelKeyRejected" for n in names)  # noqa: E731
        await stack.wait(held, 30, "held reviews")
        await asyncio.sleep(4)  # probes (1 s apart) and passes go on: nothing starts
        assert {status(stack, n)["phase"] for n in names} == {"Queued"}
        assert "controller's probe passes" in status(stack, "key-0")["message"]
        assert pods(stack) == []
        port = stack.controller.env["REVIEWOP_METRICS_PORT"]
        assert metric(port, "reviewop_admission_paused", '{cause="model_key"}') == 1
        assert metric(port, "reviewop_model_probe_ok") == 0
        assert metric(port, "reviewop_model_probes_total", '{outcome="rejected"}') >= 3
        lease = "review-operator-controller"
        assert [(r, o) for r, o, _ in key_events(stack)] == [("ModelKeyRejected", lease)]  # once
        assert sorted(o for _, o, _ in key_events(stack, "ReviewJob")) == names  # each held, once
        report = health(stack)["model"]
        assert (report["breaker"], report["probe"], report["detail"]) == ("open", "rejected", "HTTP 401")
        probes = [r for r in api.requests if r.path == "/v1/models"]
        assert probes and all(r.headers.get("x-api-key") == MODEL_KEY for r in probes)

        api.reject_key = False  # the key works again (rotated, or the provider's fault is over)
        done = await stack.wait_final(names, timeout=90)
        assert {d["status"]["phase"] for d in done.values()} == {"Succeeded"}
        for i in range(3):
            assert len(stack.reviews_on(stack.repos[8], i + 1)) == 1  # each one posted, once
        assert [r for r, _, _ in key_events(stack)] == ["ModelKeyRejected", "ModelKeyAccepted"]
        await stack.wait(lambda: breaker(stack) == "closed", 30, "health to report the breaker closed")
        assert metric(port, "reviewop_admission_paused", '{cause="model_key"}') == 0
        assert metric(port, "reviewop_model_probe_ok") == 1
        assert metric(port, "reviewop_model_probe_last_success_timestamp_seconds") > 0
        assert MODEL_KEY not in everything_public(stack)


@pytest.mark.controller_env(REVIEWOP_MAX_CONCURRENT="1", REVIEWOP_MODEL_BREAKER_COOLDOWN_SECONDS="8")
async def test_a_review_ending_unauthorized_holds_the_rest_of_the_queue_until_a_trial_succeeds(
    stack: Stack,  # noqa: F811 - the imported fixture
) -> None:
    # No probe (no key file): the first review's Unauthorized opens the breaker; after the cool-down
    # one review tries, and its success lets the last one start.
    repo = stack.repos[9]
    stack.reviewjob("a-denied", repo, 1, {SIM + "duration": "200ms", **UNAUTHORIZED})
    # It must hold the one slot first. Created together, the three share a creation second and the
    # first one whose Queue write lands starts first (a cold start does not wait for all to queue):
    # one CI run started c-last first, and it could never be held.
    started = ("Running", "Failed")
    await stack.wait(lambda: status(stack, "a-denied").get("phase") in started, 30, "a-denied started")
    stack.reviewjob("b-trial", repo, 2, {SIM + "duration": "200ms", SIM + "message": SUCCESS})
    stack.reviewjob("c-last", repo, 3, {SIM + "duration": "200ms", SIM + "message": SUCCESS})
    denied = (await stack.wait_final(["a-denied"], timeout=60))["a-denied"]["status"]
    assert (denied["phase"], denied["reason"]) == ("Failed", "Unauthorized")
    await stack.wait(
        lambda: {status(stack, n).get("reason") for n in ("b-trial", "c-last")} == {"ModelKeyRejected"},
        20,
        "the rest of the queue held",
    )
    assert {status(stack, n)["phase"] for n in ("b-trial", "c-last")} == {"Queued"}
    assert not [p for p in pods(stack) if not p.startswith("a-denied")]  # no pod for the rest
    port = stack.controller.env["REVIEWOP_METRICS_PORT"]
    assert metric(port, "reviewop_admission_paused", '{cause="model_key"}') == 1
    done = await stack.wait_final(["b-trial", "c-last"], timeout=90)
    assert {d["status"]["phase"] for d in done.values()} == {"Succeeded"}
    assert [r for r, _, _ in key_events(stack)] == ["ModelKeyRejected", "ModelKeyTrial", "ModelKeyAccepted"]
    assert "model probe off: REVIEWOP_MODEL_KEY_FILE is not set" in stack.controller.log_text()

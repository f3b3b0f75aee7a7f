"""The controller against the real control plane (kwok runs the review pods) and the GitHub double."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, watch

from review_operator.api.models import GROUP, PLURAL, VERSION
from review_operator.api.result import Finding, ResultOutcome, ReviewResult, Severity, encode_result
from tests.factories import reviewjob_body
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
from tests.github_double.git import build_repo, commit_on, pull_files
from tests.github_double.openapi import OpenAPI
from tests.github_double.server import GitHubDouble, Repo
from tests.harness.controlplane import ControlPlane, FakeNode, free_port
from tests.harness.stack import ControllerProcess
from tests.integration.webhook_helpers import rerequested, running_webhook

FINAL = {"Succeeded", "Failed", "TimedOut", "Superseded", "Cancelled"}
SIM = "sim.review-operator.dev/"


@dataclass
class Stack:
    plane: ControlPlane
    api: client.ApiClient
    namespace: str
    double: GitHubDouble
    repos: list[Repo]
    controller: ControllerProcess
    key: AppKey
    created: list[str] = field(default_factory=list)

    def reviewjob(
        self,
        name: str,
        repo: Repo,
        pr: int,
        annotations: dict[str, str] | None = None,
        sha: str | None = None,
        command: dict[str, Any] | None = None,
        base: bool = True,
    ) -> dict[str, Any]:
        """A push's ReviewJob (of `sha`, by default the PR's head), or with `command` (the trigger's
        extra fields, e.g. commentId and force) a `/review` command's, whose head is resolved later."""
        pull = self.double.pulls[(repo.id, pr)]
        body = reviewjob_body(
            name,
            namespace=None,
            uid="",
            created=None,
            rv=None,
            annotations=annotations or {},
            labels={
                "review-operator.dev/repository-id": str(repo.id),
                "review-operator.dev/pull-request": str(pr),
            },
            owner=repo.owner,
            repo_name=repo.name,
            repo_id=repo.id,
            pr=pr,
            sha=sha or pull.head_sha,
            base_sha=pull.base_sha,
            title="Change things",
            installation_id=INSTALLATION_ID,
            typed=True,
        )
        if not base:  # as the webhook records a `/review` command: GitHub is asked for the base
            del body["spec"]["pullRequest"]["baseSha"]
        if command is not None:
            del body["spec"]["pullRequest"]["headSha"]
            body["spec"]["trigger"] = {
                "event": "issue_comment",
                "action": "created",
                "sender": "dev",
                **command,
            }
        created: dict[str, Any] = client.CustomObjectsApi(self.api).create_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, body
        )
        self.created.append(name)
        return created

    def get(self, name: str) -> dict[str, Any]:
        got: dict[str, Any] = client.CustomObjectsApi(self.api).get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, name
        )
        return got

    def phases(self) -> dict[str, str]:
        items = client.CustomObjectsApi(self.api).list_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL
        )["items"]
        return {i["metadata"]["name"]: i.get("status", {}).get("phase", "") for i in items}

    async def wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await asyncio.to_thread(predicate):
                return
            await asyncio.sleep(0.3)
        raise AssertionError(
            f"timed out waiting for {what}; controller log tail:\n{self.controller.log_text()[-3000:]}"
        )

    async def wait_final(self, names: list[str], timeout: float = 60) -> dict[str, dict[str, Any]]:
        await self.wait(
            lambda: all(self.phases().get(n) in FINAL for n in names), timeout, f"{names} to finish"
        )
        return {n: self.get(n) for n in names}

    def reviews_on(self, repo: Repo, pr: int) -> list[dict[str, Any]]:
        return self.double.pulls[(repo.id, pr)].reviews


def controller_env(double: GitHubDouble, key: AppKey, **extra: str) -> dict[str, str]:
    return {
        "REVIEWOP_GITHUB_API_URL": double.url,
        "REVIEWOP_GITHUB_APP_ID": str(APP_ID),
        "REVIEWOP_GITHUB_PRIVATE_KEY_FILE": str(key.path),
        "REVIEWOP_GITHUB_RETRY_BACKOFF_SECONDS": "0.05",
        "REVIEWOP_GITHUB_CONTENT_PER_MINUTE": "100000",
        "REVIEWOP_GITHUB_CONTENT_PER_HOUR": "100000",
        "REVIEWOP_MAX_CONCURRENT": "5",
        "REVIEWOP_MAX_CONCURRENT_PER_REPO": "2",
        "REVIEWOP_LEASE_DURATION_SECONDS": "3",
        "REVIEWOP_METRICS_PORT": str(free_port()),
        "REVIEWOP_HEALTH_PORT": str(free_port()),
        "REVIEWOP_POD_ANNOTATION_PASSTHROUGH": json.dumps([SIM]),
        "REVIEWOP_RETRY_BASE_SECONDS": "0.2",
        "REVIEWOP_RETRY_MAX_SECONDS": "1",
        "REVIEWOP_IMAGE": "review-operator:test",
        "REVIEWOP_LOG_LEVEL": "INFO",
        **extra,
    }


@pytest.fixture
async def stack(
    control_plane: ControlPlane,
    api_client: client.ApiClient,
    restricted_namespace: str,
    openapi: OpenAPI,  # noqa: F811 - the imported fixture
    app_key: AppKey,  # noqa: F811 - the imported fixture
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Stack]:
    """Ten repositories with twenty PRs each in the GitHub double, and a controller for one namespace."""
    root = tmp_path / "git"
    double = await GitHubDouble(openapi, root, APP_ID, app_key.public_pem).start()
    repos = []
    for i in range(10):
        built = await asyncio.to_thread(build_repo, root, "octo-org", f"repo{i}", BASE_FILES, HEAD_FILES)
        repo = double.add_repo("octo-org", f"repo{i}", 5000 + i, built.bare, INSTALLATION_ID)
        for pr in range(1, 21):
            double.add_pull(repo, pr, built.head_sha, built.base_sha)
        repos.append(repo)
    marker = request.node.get_closest_marker("controller_env")
    extra: dict[str, str] = marker.kwargs if marker else {}
    controller = ControllerProcess(
        control_plane,
        restricted_namespace,
        tmp_path / "controller.log",
        controller_env(double, app_key, **extra),
    )
    controller.start()
    try:
        yield Stack(control_plane, api_client, restricted_namespace, double, repos, controller, app_key)
    finally:
        controller.stop()
        await double.stop()
    assert double.violations == [], double.violations
    assert_no_secrets(controller.log_text(), double, app_key)
    # Events are read by anyone with `get events`: no secret in their messages either (issue 19 item 6).
    events = client.CoreV1Api(api_client).list_namespaced_event(restricted_namespace).items
    assert_no_secrets("\n".join(f"{e.reason} {e.message}" for e in events), double, app_key)


class LimitWatcher(threading.Thread):
    """Watches ReviewJobs and records the most that were Running at once, overall and per repository."""

    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        super().__init__(daemon=True)
        self.api, self.namespace = api, namespace
        self.phase: dict[str, str] = {}
        self.repo: dict[str, str] = {}
        self.max_running = 0
        self.max_per_repo = 0
        self.start_order: list[str] = []
        self.error: BaseException | None = None  # the watch broke: the samples stopped there
        self.stopped = False
        self._watch = watch.Watch()

    def run(self) -> None:
        try:
            self._sample()
        except Exception as exc:  # the stream is cut when the control plane stops after a test
            if not self.stopped:
                self.error = exc

    def _sample(self) -> None:
        crd = client.CustomObjectsApi(self.api)
        for event in self._watch.stream(
            crd.list_namespaced_custom_object, GROUP, VERSION, self.namespace, PLURAL, timeout_seconds=600
        ):
            obj = event["object"]
            name = obj["metadata"]["name"]
            phase = obj.get("status", {}).get("phase", "")
            if phase == "Running" and self.phase.get(name) != "Running":
                self.start_order.append(name)
            self.phase[name] = phase if event["type"] != "DELETED" else ""
            self.repo[name] = obj["spec"]["repository"]["name"]
            running = [n for n, p in self.phase.items() if p == "Running"]
            self.max_running = max(self.max_running, len(running))
            per_repo = Counter(self.repo[n] for n in running)
            self.max_per_repo = max([self.max_per_repo, *per_repo.values()])

    def stop(self) -> None:
        self.stopped = True
        self._watch.stop()


@pytest.mark.timeout(600)
async def test_burst_of_200_holds_the_limits_survives_kills_and_posts_each_review_once(stack: Stack) -> None:
    watcher = LimitWatcher(stack.api, stack.namespace)
    watcher.start()
    names = []
    for i in range(200):
        repo, pr = stack.repos[i % 10], i // 10 + 1
        name = f"burst-{i:03d}"
        await asyncio.to_thread(stack.reviewjob, name, repo, pr, {SIM + "duration": "200ms"})
        names.append(name)
    kills = 0
    for threshold in (30, 80, 130):
        await stack.wait(
            lambda t=threshold: sum(p in FINAL for p in stack.phases().values()) >= t,
            240,
            f"{threshold} done",
        )
        stack.controller.kill()
        kills += 1
        await asyncio.sleep(0.5)
        stack.controller.start()
    done = await stack.wait_final(names, timeout=400)
    assert watcher.is_alive() and watcher.error is None, watcher.error  # it sampled throughout
    watcher.stop()

    assert kills == 3
    assert set(watcher.start_order) == set(names)  # it saw every start
    assert {d["status"]["phase"] for d in done.values()} == {"Succeeded"}
    assert watcher.max_running <= 5, watcher.max_running
    assert watcher.max_per_repo <= 2, watcher.max_per_repo
    assert watcher.max_running == 5  # the limit was actually reached, so the bound means something
    # exactly one pod per review (attempt 1 only), and all of them cleaned up
    assert {d["status"]["attempts"] for d in done.values()} == {1}
    await stack.wait(
        lambda: not client.CoreV1Api(stack.api).list_namespaced_pod(stack.namespace).items, 60, "pods gone"
    )
    # every PR got exactly one review, with our hidden marker, on the reviewed commit
    for i in range(200):
        reviews = stack.reviews_on(stack.repos[i % 10], i // 10 + 1)
        assert len(reviews) == 1, (names[i], reviews)
    # oldest first within each repository (fairness across repositories may interleave them)
    for repo in stack.repos:
        order = [n for n in watcher.start_order if watcher.repo.get(n) == repo.name]
        assert order == sorted(order), order


@pytest.mark.parametrize(
    ("annotations", "phase", "reason", "attempts"),
    [
        ({SIM + "outcome": "OOMKilled"}, "Failed", "OOMKilled", 1),
        ({SIM + "outcome": "DeadlineExceeded"}, "TimedOut", "DeadlineExceeded", 1),
        ({SIM + "outcome": "Evicted"}, "Failed", "Evicted", 3),
        ({SIM + "outcome": "EvictedDisk"}, "Failed", "EphemeralStorageExceeded", 1),
        ({SIM + "message": "garbled{{"}, "Failed", "ResultUnreadable", 1),
        (
            {
                SIM + "outcome": "Error",
                SIM + "exit-code": "21",
                SIM + "message": '{"v":1,"outcome":"unauthorized","error":"401 from the model API"}',
            },
            "Failed",
            "Unauthorized",
            1,
        ),
        (
            {
                SIM + "outcome": "Error",
                SIM + "exit-code": "20",
                SIM + "message": '{"v":1,"outcome":"rate_limited","retry_after_s":0.1}',
            },
            "Failed",
            "RateLimited",
            3,
        ),
        (
            {SIM + "message": '{"v":1,"outcome":"max_turns","turns":30}', SIM + "outcome": "Error"},
            "Failed",
            "MaxTurns",
            1,
        ),
    ],
    ids=[
        "oomkilled",
        "deadline",
        "evicted-retried",
        "evicted-disk-final",
        "garbled",
        "unauthorized",
        "rate-limited-retried",
        "max-turns",
    ],
)
async def test_failures_end_in_the_documented_phase_reason_and_retries(
    stack: Stack, annotations: dict[str, str], phase: str, reason: str, attempts: int
) -> None:
    repo = stack.repos[0]
    stack.reviewjob("fail", repo, 1, {SIM + "duration": "100ms", **annotations})
    done = (await stack.wait_final(["fail"], timeout=60))["fail"]
    status = done["status"]
    assert (status["phase"], status["reason"], status["attempts"]) == (phase, reason, attempts)
    assert status["message"]
    # the user is told on the PR (right after the final status): the summary comment says why
    await stack.wait(
        lambda: stack.get("fail")["status"].get("posting", {}).get("state") == "Posted", 20, "failure note"
    )
    comments = stack.double.pulls[(repo.id, 1)].comments
    assert len(comments) == 1
    assert reason in comments[0]["body"]
    assert stack.reviews_on(repo, 1) == []

    def reasons() -> set[str]:
        events = (
            client.CoreV1Api(stack.api)
            .list_namespaced_event(stack.namespace, field_selector="involvedObject.name=fail")
            .items
        )
        return {e.reason for e in events}

    # the Event of the final transition is recorded right after the status patch
    await stack.wait(lambda: {"Queued", "Started", phase} <= reasons(), 10, f"events, got {reasons()}")
    if attempts > 1:
        assert f"Retry{reason}" in reasons()


@pytest.mark.controller_env(
    REVIEWOP_NODE_SELECTOR='{"pool": "does-not-exist"}', REVIEWOP_PENDING_TIMEOUT_SECONDS="2"
)
async def test_a_pod_that_fits_no_node_ends_unschedulable(stack: Stack) -> None:
    stack.reviewjob("nowhere", stack.repos[0], 1)
    status = (await stack.wait_final(["nowhere"], timeout=60))["nowhere"]["status"]
    assert (status["phase"], status["reason"]) == ("Failed", "Unschedulable")
    assert "node" in status["message"]


async def test_newer_commit_supersedes_and_close_cancels_without_posting(stack: Stack) -> None:
    repo = stack.repos[1]
    pull = stack.double.pulls[(repo.id, 1)]
    stack.reviewjob("old-sha", repo, 1, {SIM + "outcome": "Hold"})  # of the PR's head
    await stack.wait(lambda: stack.phases().get("old-sha") == "Running", 30, "old-sha running")
    pod_name = stack.get("old-sha")["status"]["podName"]
    pods = client.CoreV1Api(stack.api)
    # Its pod exists: the head check at its start is behind it (the head had not moved then).
    await stack.wait(
        lambda: pod_name in {p.metadata.name for p in pods.list_namespaced_pod(stack.namespace).items},
        30,
        "old-sha's pod",
    )
    # Then a push: GitHub's head moves, and its delivery records the new head's ReviewJob.
    pushed = commit_on(repo.bare, pull.head_sha, {"app.py": "print('pushed')\n"}, "push", "pr-1")
    pull.head_sha, pull.files = pushed, pull_files(repo.bare, pull.base_sha, pushed)
    stack.reviewjob("new-sha", repo, 1, {SIM + "duration": "100ms"})
    done = await stack.wait_final(["old-sha", "new-sha"])
    assert done["old-sha"]["status"]["phase"] == "Superseded"
    assert done["old-sha"]["status"]["reason"] == "NewerCommit"
    assert done["new-sha"]["status"]["phase"] == "Succeeded"
    await stack.wait(
        lambda: (
            pod_name
            not in {
                p.metadata.name
                for p in client.CoreV1Api(stack.api).list_namespaced_pod(stack.namespace).items
            }
        ),
        30,
        "superseded pod deleted",
    )
    reviews = stack.reviews_on(repo, 1)
    assert len(reviews) == 1
    assert reviews[0]["commit_id"] == stack.double.pulls[(repo.id, 1)].head_sha

    stack.reviewjob("to-cancel", repo, 2, {SIM + "outcome": "Hold"})
    await stack.wait(lambda: stack.phases().get("to-cancel") == "Running", 30, "to-cancel running")
    client.CustomObjectsApi(stack.api).patch_namespaced_custom_object(
        GROUP,
        VERSION,
        stack.namespace,
        PLURAL,
        "to-cancel",
        {"spec": {"cancel": {"reason": "PullRequestClosed", "requestedAt": "2026-11-22T00:00:00Z"}}},
    )
    status = (await stack.wait_final(["to-cancel"]))["to-cancel"]["status"]
    assert (status["phase"], status["reason"]) == ("Cancelled", "PullRequestClosed")
    assert stack.reviews_on(repo, 2) == []


async def test_per_review_secret_is_scoped_hidden_from_the_review_container_and_removed(stack: Stack) -> None:
    repo = stack.repos[2]
    stack.reviewjob("secretive", repo, 1, {SIM + "outcome": "Hold"})

    def pod_created() -> bool:
        conditions = stack.get("secretive").get("status", {}).get("conditions", [])
        return any(c["type"] == "PodCreated" and c["status"] == "True" for c in conditions)

    # the slot is claimed (Running) first; the Secret and then the pod follow
    await stack.wait(pod_created, 30, "pod created")
    core = client.CoreV1Api(stack.api)
    secret = core.read_namespaced_secret("secretive-checkout", stack.namespace)
    assert secret.metadata.owner_references[0].name == "secretive"
    mint = stack.double.mints[-1]
    assert mint["repository_ids"] == [repo.id]
    assert mint["permissions"] == {"contents": "read"}
    pod = core.read_namespaced_pod(stack.get("secretive")["status"]["podName"], stack.namespace)
    pod_text = json.dumps(stack.api.sanitize_for_serialization(pod))
    for token in stack.double.grants:
        assert token not in pod_text
    review = next(c for c in pod.spec.containers if c.name == "review")
    assert [e.value_from.secret_key_ref.name for e in review.env if e.value_from] == ["review-operator-model"]
    assert not any(m.name == "checkout-token" for m in review.volume_mounts)
    assert pod.spec.automount_service_account_token is False
    # finishing the review removes the Secret and the pod
    client.CustomObjectsApi(stack.api).patch_namespaced_custom_object(
        GROUP,
        VERSION,
        stack.namespace,
        PLURAL,
        "secretive",
        {"spec": {"cancel": {"reason": "Manual", "requestedAt": "2026-11-22T00:00:00Z"}}},
    )
    await stack.wait_final(["secretive"])
    await stack.wait(
        lambda: (
            "secretive-checkout"
            not in {s.metadata.name for s in core.list_namespaced_secret(stack.namespace).items}
        ),
        30,
        "secret deleted",
    )
    status = stack.get("secretive")["status"]
    assert all(token not in json.dumps(status) for token in stack.double.grants)


@pytest.mark.controller_env(REVIEWOP_AGENT_TIMEOUT_SECONDS="900")
async def test_broken_timeout_chain_stops_the_controller_with_a_clear_message(stack: Stack) -> None:
    assert stack.controller.popen is not None
    code = await asyncio.to_thread(stack.controller.popen.wait, 30)
    assert code == 2
    assert "broken timeout chain" in stack.controller.log_text()
    assert "pod deadline" in stack.controller.log_text()


async def told(stack: Stack, repo: Repo, name: str, reason: str) -> None:
    """The ReviewJob's note reached the PR (the single summary comment, edited by later reviews)."""
    await stack.wait(
        lambda: stack.get(name)["status"].get("posting", {}).get("state") == "Posted", 30, f"{name}'s note"
    )
    assert any(reason in c["body"] for c in stack.double.pulls[(repo.id, 1)].comments)


def pod_was_created(job: dict[str, Any]) -> bool:
    conditions = job["status"].get("conditions", [])
    return any(c["type"] == "PodCreated" and c["status"] == "True" for c in conditions)


async def test_a_late_redelivery_of_an_older_push_leaves_the_current_heads_review_alone(stack: Stack) -> None:
    # Issue 17 item 5: S1's delivery redelivered after S2's used to supersede S2 (created last wins),
    # then S1 was dropped as HeadMoved: the PR got nothing. GitHub's head decides now.
    repo = stack.repos[2]
    stack.reviewjob("head", repo, 1, {SIM + "duration": "4s"})
    await stack.wait(lambda: stack.phases().get("head") == "Running", 30, "head running")
    stack.reviewjob("older", repo, 1, sha="1" * 40)
    done = await stack.wait_final(["head", "older"])
    assert (done["older"]["status"]["phase"], done["older"]["status"]["reason"]) == (
        "Superseded",
        "NewerCommit",
    )
    assert done["head"]["status"]["phase"] == "Succeeded"
    assert len(stack.reviews_on(repo, 1)) == 1


async def test_a_replayed_old_head_and_a_repeated_review_command_cost_no_pod(stack: Stack) -> None:
    # Issue 17 item 13: replays and repeated `/review` used to start a review each.
    repo = stack.repos[3]
    stack.reviewjob("first", repo, 1, {SIM + "duration": "200ms"})
    assert (await stack.wait_final(["first"]))["first"]["status"]["phase"] == "Succeeded"
    stack.reviewjob("replay", repo, 1, sha="1" * 40)  # an old delivery replayed after its review's TTL
    replay = (await stack.wait_final(["replay"]))["replay"]
    assert (replay["status"]["phase"], replay["status"]["reason"]) == ("Superseded", "HeadMoved")
    assert not pod_was_created(replay)
    await told(stack, repo, "replay", "HeadMoved")  # nothing covers the PR's head: say so
    stack.reviewjob("again", repo, 1, command={"commentId": 11})
    again = (await stack.wait_final(["again"]))["again"]
    assert (again["status"]["phase"], again["status"]["reason"]) == ("Superseded", "AlreadyReviewed")
    assert "first" in again["status"]["message"]
    assert not pod_was_created(again)
    await told(stack, repo, "again", "AlreadyReviewed")
    stack.reviewjob("forced", repo, 1, {SIM + "duration": "200ms"}, command={"commentId": 12, "force": True})
    assert (await stack.wait_final(["forced"]))["forced"]["status"]["phase"] == "Succeeded"
    assert len(stack.reviews_on(repo, 1)) == 2


@pytest.mark.controller_env(
    REVIEWOP_NODE_SELECTOR='{"pool": "late"}',
    REVIEWOP_PENDING_TIMEOUT_SECONDS="300",
    REVIEWOP_CHECKOUT_TIMEOUT_SECONDS="10",
    REVIEWOP_AGENT_TIMEOUT_SECONDS="30",
    REVIEWOP_TERMINATION_GRACE_SECONDS="5",
    REVIEWOP_POD_DEADLINE_SECONDS="65",
    REVIEWOP_RUNNING_DEADLINE_SECONDS="70",
)
async def test_time_waiting_for_a_node_does_not_count_against_the_running_deadline(stack: Stack) -> None:
    # Issue 19 item 1: the running deadline ran from the claim, so a review whose pod waited for a
    # node (an autoscaler adding one) was killed as RunningDeadlineExceeded soon after it started.
    repo = stack.repos[4]
    stack.reviewjob("late", repo, 1, {SIM + "duration": "20s"})
    await stack.wait(lambda: stack.phases().get("late") == "Running", 30, "late claimed")
    await asyncio.sleep(55)  # no node has the pool label: the pod waits, unschedulable
    assert stack.phases()["late"] == "Running"
    node = FakeNode("late-pool-node", labels={"pool": "late"})
    await asyncio.to_thread(stack.plane.create_nodes, (node,))
    try:
        status = (await stack.wait_final(["late"], timeout=90))["late"]["status"]
    finally:
        await asyncio.to_thread(stack.plane.kubectl, "delete", "node", node.name, "--wait=false")
    # 55 s pending + 20 s running is past 70 s from the claim, but only 20 s on the running clock.
    assert (status["phase"], status.get("reason")) == ("Succeeded", "Succeeded")


def metric(port: str, name: str, labels: str = "") -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    for line in text.splitlines():
        if line.startswith(f"{name}{labels} ") or (not labels and line.startswith(f"{name} ")):
            return float(line.split()[-1])
    return 0.0


def lease_holder(stack: Stack) -> str:
    try:
        lease = client.CoordinationV1Api(stack.api).read_namespaced_lease(
            "review-operator-controller", stack.namespace
        )
    except client.ApiException as exc:
        if exc.status == 404:
            return ""  # no replica has taken it yet
        raise
    return str(lease.spec.holder_identity or "")


async def test_two_replicas_one_leads_the_other_takes_over_on_a_kill_and_no_review_is_doubled(
    stack: Stack, tmp_path: Path
) -> None:
    # Issue 19 item 6: the chart now runs two controller replicas; the README claimed that is safe.
    ports = {"REVIEWOP_METRICS_PORT": str(free_port()), "REVIEWOP_HEALTH_PORT": str(free_port())}
    second = ControllerProcess(
        stack.plane, stack.namespace, tmp_path / "second.log", {**stack.controller.env, **ports}
    )
    second.start()
    replicas = [stack.controller, second]
    try:
        await stack.wait(lambda: lease_holder(stack) != "", 30, "a leader")
        watcher = LimitWatcher(stack.api, stack.namespace)
        watcher.start()
        names = []
        for i in range(40):
            repo, pr = stack.repos[5 + i % 5], i // 5 + 1
            await asyncio.to_thread(stack.reviewjob, f"ha-{i:02d}", repo, pr, {SIM + "duration": "300ms"})
            names.append(f"ha-{i:02d}")
        await stack.wait(lambda: sum(p in FINAL for p in stack.phases().values()) >= 12, 120, "12 done")
        holder = lease_holder(stack)
        [leader] = [p for p in replicas if p.popen is not None and holder.endswith(f"-{p.popen.pid}")]
        [standby] = [p for p in replicas if p is not leader]
        leader.kill()
        done = await stack.wait_final(names, timeout=240)
        watcher.stop()
        assert {d["status"]["phase"] for d in done.values()} == {"Succeeded"}
        assert watcher.max_running <= 5 and watcher.max_per_repo <= 2, (
            watcher.max_running,
            watcher.max_per_repo,
        )
        assert standby.popen is not None and lease_holder(stack).endswith(f"-{standby.popen.pid}")
        assert "leading as" in standby.log_text()
        for i in range(40):
            assert len(stack.reviews_on(stack.repos[5 + i % 5], i // 5 + 1)) == 1, names[i]
        # The survivor's probe and metrics say what happened.
        env = standby.env
        health = urllib.request.urlopen(f"http://127.0.0.1:{env['REVIEWOP_HEALTH_PORT']}/healthz", timeout=5)
        assert health.status == 200
        assert json.loads(health.read())["reconcile_passes"] > 0
        finished = metric(
            env["REVIEWOP_METRICS_PORT"],
            "reviewop_reviews_completed_total",
            '{outcome="Succeeded",reason="Succeeded"}',
        )
        assert 1 <= finished <= 40  # the reviews this replica finished after taking over
        assert metric(env["REVIEWOP_METRICS_PORT"], "reviewop_reviews_running") == 0
    finally:
        second.stop()
        if stack.controller.popen is None or stack.controller.popen.poll() is not None:
            stack.controller.start()  # it was the one killed; the fixture stops it and reads its log


async def test_every_attempts_spend_is_recorded_in_status_and_metrics(stack: Stack) -> None:
    # Issue 19 item 3: retries carried no result, so only the last attempt's cost was counted.
    limited = '{"v":1,"outcome":"rate_limited","retry_after_s":0.1,"cost_usd":0.25,"turns":3}'
    annotations = {
        SIM + "duration": "100ms",
        SIM + "outcome": "Error",
        SIM + "exit-code": "20",
        SIM + "message": limited,
    }
    stack.reviewjob("costly", stack.repos[6], 1, annotations)
    status = (await stack.wait_final(["costly"]))["costly"]["status"]
    assert (status["phase"], status["reason"], status["attempts"]) == ("Failed", "RateLimited", 3)
    spend = status["spend"]
    assert [a["attempt"] for a in spend["attempts"]] == [1, 2, 3]
    assert spend["totalCostUsd"] == 0.75 and all(a["costUsd"] == 0.25 for a in spend["attempts"])
    port = stack.controller.env["REVIEWOP_METRICS_PORT"]
    assert metric(port, "reviewop_cost_usd_total") == 0.75
    assert metric(port, "reviewop_review_cost_usd_sum") == 0.75


@pytest.mark.controller_env(REVIEWOP_DAILY_BUDGET_USD="0.5", REVIEWOP_MAX_CONCURRENT="1")
async def test_the_daily_budget_stops_admissions_once_spent_and_queued_reviews_say_why(stack: Stack) -> None:
    # Issue 19 "spend gate": only an alert existed; a hard daily cap now stops admissions.
    paid = '{"v":1,"outcome":"success","summary":"ok","cost_usd":0.3,"turns":2}'

    def started(name: str) -> bool:
        return stack.get(name).get("status", {}).get("phase") in ("Running", "Succeeded")

    for i in range(3):
        stack.reviewjob(f"day-{i}", stack.repos[7], i + 1, {SIM + "duration": "200ms", SIM + "message": paid})
        if i < 2:  # in this order: created together, whichever's Queue write lands first starts first
            await stack.wait(lambda n=f"day-{i}": started(n), 30, f"day-{i} started")
    done = await stack.wait_final(["day-0", "day-1"], timeout=90)
    assert {d["status"]["phase"] for d in done.values()} == {"Succeeded"}  # 0.3, then 0.6 ≥ 0.5
    # Each carries the day it finished: the budget of a restarted controller reads only that day's.
    day = "review-operator.dev/finished-day"
    for name in ("day-0", "day-1"):
        # Each one's cleanup labels it on its own: one being labelled says nothing about the other (a
        # cleanup cut short is redone by the next pass, at the latest the resync's 60 s).
        labelled = lambda n=name: day in stack.get(n)["metadata"].get("labels", {})  # noqa: E731
        await stack.wait(labelled, 75, f"{name} labelled")
        job = stack.get(name)
        assert job["metadata"]["labels"][day] == job["status"]["completionTime"][:10]
    await stack.wait(
        lambda: stack.get("day-2").get("status", {}).get("reason") == "DailyBudgetReached", 30, "day-2 held"
    )
    await asyncio.sleep(3)  # passes and pod events go on: it stays queued
    held = stack.get("day-2")["status"]
    assert held["phase"] == "Queued" and "Daily model budget reached ($0.60 of $0.50" in held["message"]
    port = stack.controller.env["REVIEWOP_METRICS_PORT"]
    assert metric(port, "reviewop_daily_spend_usd") == 0.6
    assert metric(port, "reviewop_admission_paused", '{cause="daily_budget"}') == 1
    # A restarted controller counts the same day from the ReviewJobs and still does not start it.
    stack.controller.stop()
    stack.controller.start()
    await asyncio.sleep(8)
    assert stack.get("day-2")["status"]["phase"] == "Queued"


async def test_the_repository_config_at_the_base_decides_how_a_pr_is_reviewed(
    stack: Stack, tmp_path: Path
) -> None:
    # Issue 20 item 1: `.github/review-operator.yaml`, read from the base branch only.
    config = ".github/review-operator.yaml"
    manual = await asyncio.to_thread(
        build_repo,
        tmp_path,
        "octo-org",
        "manual",
        {**BASE_FILES, config: "mode: manual\n"},
        {**HEAD_FILES, config: "mode: auto\n"},  # the PR cannot switch its own reviews on
    )
    instructed = await asyncio.to_thread(
        build_repo,
        tmp_path,
        "octo-org",
        "instructed",
        {**BASE_FILES, config: "instructions: Check every SQL query.\nlanguage: German\nmaxTurnz: 3\n"},
        HEAD_FILES,
    )
    repos = []
    for i, built in enumerate((manual, instructed)):
        repo = stack.double.add_repo(
            "octo-org", ("manual", "instructed")[i], 6100 + i, built.bare, INSTALLATION_ID
        )
        stack.double.add_pull(repo, 1, built.head_sha, built.base_sha)
        repos.append(repo)
    stack.reviewjob("push-manual", repos[0], 1, {SIM + "duration": "200ms"})
    stack.reviewjob("push-instructed", repos[1], 1, {SIM + "duration": "2s"})
    skipped = (await stack.wait_final(["push-manual"]))["push-manual"]["status"]
    assert (skipped["phase"], skipped["reason"]) == ("Cancelled", "SkippedByConfig")
    assert "mode: manual" in skipped["message"] and not pod_was_created(stack.get("push-manual"))
    assert stack.reviews_on(repos[0], 1) == []
    # `/review` is the manual trigger: it runs.
    stack.reviewjob("asked", repos[0], 1, {SIM + "duration": "200ms"}, command={"commentId": 71})
    assert (await stack.wait_final(["asked"]))["asked"]["status"]["phase"] == "Succeeded"

    def review_env() -> dict[str, str]:
        pods = client.CoreV1Api(stack.api).list_namespaced_pod(stack.namespace).items
        for pod in pods:
            if pod.metadata.name.startswith("push-instructed"):
                review = next(c for c in pod.spec.containers if c.name == "review")
                return {e.name: e.value for e in review.env if e.value is not None}
        return {}

    await stack.wait(lambda: bool(review_env()), 30, "the instructed review's pod")
    env = review_env()
    assert env["REVIEWOP_RUNNER_REPO_INSTRUCTIONS"] == "Check every SQL query."
    assert env["REVIEWOP_RUNNER_REVIEW_LANGUAGE"] == "German"
    assert (await stack.wait_final(["push-instructed"]))["push-instructed"]["status"]["phase"] == "Succeeded"
    # The review's summary names the file's problem (and the review ran with the default for it).
    await stack.wait(lambda: bool(stack.reviews_on(repos[1], 1)), 30, "the instructed review posted")
    assert any("maxTurnz" in r["body"] for r in stack.reviews_on(repos[1], 1))
    # The file at that base was read once: before the pod; the post took what was read.
    assert stack.double.count("GET", r"/repos/octo-org/instructed/contents/") == 1


@pytest.mark.controller_env(
    REVIEWOP_GITHUB_CHECK_RUNS="true",
    REVIEWOP_GITHUB_CHECK_DETAILS_URL="https://reviews.example.com/{namespace}/{name}",
)
async def test_a_check_run_follows_the_review_and_githubs_rerun_reviews_the_head_again(stack: Stack) -> None:
    # Issue 19 item 5: queued → in_progress (the pod runs) → completed, the conclusion from the
    # findings; GitHub's "Re-run" (a check_run rerequested delivery) reviews that head again.
    repo = stack.repos[3]
    head = stack.double.pulls[(repo.id, 1)].head_sha
    high = Finding(path="app.py", line=10, severity=Severity.HIGH, title="Risky", body="Check this.")
    result = ReviewResult(outcome=ResultOutcome.SUCCESS, summary="One risk.", findings=[high], turns=2)
    sim = {SIM + "duration": "4s", SIM + "message": encode_result(result)}
    stack.reviewjob("checked", repo, 1, sim)
    assert (await stack.wait_final(["checked"]))["checked"]["status"]["phase"] == "Succeeded"

    def run_of(name: str) -> dict[str, Any] | None:
        runs = [r for r in stack.double.check_runs if r["external_id"] == name]
        assert len(runs) <= 1, runs  # one run per review, never a second
        return runs[0] if runs else None

    await stack.wait(lambda: (run_of("checked") or {}).get("status") == "completed", 30, "the run completed")
    run = run_of("checked")
    assert run is not None and run["head_sha"] == head
    assert stack.double.check_run_history[run["id"]] == [
        ("queued", None),
        ("in_progress", None),
        ("completed", "action_required"),  # a high finding, at the default bar
    ]
    assert run["details_url"] == f"https://reviews.example.com/{stack.namespace}/checked"
    assert run["annotations"][0]["path"] == "app.py"

    payload = rerequested("check_run", external_id="checked", app_id=APP_ID, pull_numbers=(1,), head_sha=head)
    payload["check_run"]["id"] = run["id"]
    payload["repository"].update(id=repo.id, name=repo.name, full_name=f"{repo.owner}/{repo.name}")
    payload["repository"]["owner"]["login"] = repo.owner
    payload["installation"]["id"] = INSTALLATION_ID
    hook_env = running_webhook(stack.namespace, stack.plane.kubeconfig, webhook_github_app_id=APP_ID)
    async with hook_env as (hook, _):
        answer = await hook.deliver("check_run", payload, delivery="rerun-1")
        assert answer.status == 201, await answer.text()
        again = (await answer.json())["reviewjob"]
    assert again != "checked"
    status = (await stack.wait_final([again]))[again]["status"]
    assert status["phase"] == "Succeeded", status
    reviews = stack.reviews_on(repo, 1)
    assert len(reviews) == 2 and {r["commit_id"] for r in reviews} == {head}
    await stack.wait(lambda: (run_of(again) or {}).get("status") == "completed", 30, "the second run")
    second = run_of(again)
    assert second is not None and second["id"] != run["id"] and second["head_sha"] == head
    history = stack.double.check_run_history[second["id"]]
    assert history[0] == ("queued", None) and history[-1] == ("completed", "success")  # no findings

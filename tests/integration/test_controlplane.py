"""The test control plane is real: CRD validation, RBAC, PodSecurity, kwok pod lifecycles."""

from __future__ import annotations

import copy
import os
import socket
import subprocess
import time
from typing import Any

import pytest
import yaml
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from review_operator.api.models import GROUP, PLURAL, VERSION
from tests.harness.controlplane import REPO_ROOT, ComponentError, ControlPlane, FakeNode

SAMPLE = REPO_ROOT / "config" / "samples" / "reviewjob.yaml"


def sample() -> dict[str, Any]:
    body: dict[str, Any] = yaml.safe_load(SAMPLE.read_text())
    return body


def create_rj(api: client.ApiClient, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
    created: dict[str, Any] = client.CustomObjectsApi(api).create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, body
    )
    return created


def test_crd_is_established_and_sample_is_accepted_with_printer_columns(
    control_plane: ControlPlane, namespace: str
) -> None:
    crd = control_plane.kubectl("get", "crd", "reviewjobs.review-operator.dev", "-o", "yaml").stdout
    conditions = {c["type"]: c["status"] for c in yaml.safe_load(crd)["status"]["conditions"]}
    assert conditions["Established"] == "True"
    assert conditions["NamesAccepted"] == "True"

    control_plane.kubectl("apply", "-n", namespace, "-f", str(SAMPLE))
    out = control_plane.kubectl("get", "rj", "-n", namespace).stdout
    header, row = out.splitlines()[:2]
    assert header.split() == ["NAME", "REPO", "PR", "SHA", "PHASE", "REASON", "COST", "AGE"]
    assert row.split()[:4] == ["pr-1296269-1-0d1a26e67d8f", "Hello-World", "1", "0d1a26e67d8f"]


INVALID_SPECS: list[tuple[str, str, Any, str]] = [
    ("bad-sha", "spec.pullRequest.headSha", "not-a-sha", "spec.pullRequest.headSha"),
    ("short-sha", "spec.pullRequest.headSha", "0d1a26e6", "spec.pullRequest.headSha"),
    ("negative-pr", "spec.pullRequest.number", -3, "spec.pullRequest.number"),
    ("zero-pr", "spec.pullRequest.number", 0, "spec.pullRequest.number"),
    ("budget-too-high", "spec.overrides.maxBudgetUsd", 1000, "spec.overrides.maxBudgetUsd"),
    ("budget-zero", "spec.overrides.maxBudgetUsd", 0, "spec.overrides.maxBudgetUsd"),
    ("turns-too-many", "spec.overrides.maxTurns", 5000, "spec.overrides.maxTurns"),
    ("bad-owner", "spec.repository.owner", "-evil owner", "spec.repository.owner"),
    ("bad-repo-name", "spec.repository.name", "a/b", "spec.repository.name"),
    ("bad-association", "spec.pullRequest.authorAssociation", "GOD", "spec.pullRequest.authorAssociation"),
    ("bad-event", "spec.trigger.event", "push", "spec.trigger.event"),
    ("missing-repository", "spec.repository", None, "spec.repository"),
    ("missing-trigger", "spec.trigger", None, "spec.trigger"),
    ("missing-author", "spec.pullRequest.author", None, "spec.pullRequest.author"),
]


def _set(body: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = body
    for key in parents:
        node = node.setdefault(key, {})
    if value is None:
        node.pop(leaf, None)
    else:
        node[leaf] = value


@pytest.mark.parametrize(("case", "path", "value", "field"), INVALID_SPECS, ids=[c[0] for c in INVALID_SPECS])
def test_invalid_reviewjob_is_rejected_naming_the_field(
    api_client: client.ApiClient, namespace: str, case: str, path: str, value: Any, field: str
) -> None:
    body = copy.deepcopy(sample())
    body["metadata"] = {"name": f"invalid-{case}"}
    _set(body, path, value)
    with pytest.raises(ApiException) as excinfo:
        create_rj(api_client, namespace, body)
    assert excinfo.value.status == 422
    assert field in excinfo.value.body
    listed = client.CustomObjectsApi(api_client).list_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL
    )
    assert listed["items"] == []


@pytest.mark.parametrize(
    ("case", "status", "field"),
    [
        ("unknown-phase", {"phase": "Exploded"}, "status.phase"),
        ("negative-attempts", {"phase": "Running", "attempts": -1}, "status.attempts"),
        ("bad-reason", {"phase": "Failed", "reason": "not a reason!"}, "status.reason"),
    ],
)
def test_invalid_status_is_rejected_naming_the_field(
    api_client: client.ApiClient, namespace: str, case: str, status: dict[str, Any], field: str
) -> None:
    body = sample()
    created = create_rj(api_client, namespace, body)
    name = created["metadata"]["name"]
    with pytest.raises(ApiException) as excinfo:
        client.CustomObjectsApi(api_client).patch_namespaced_custom_object_status(
            GROUP, VERSION, namespace, PLURAL, name, {"status": status}
        )
    assert excinfo.value.status == 422
    assert field in excinfo.value.body


def test_rbac_forbids_reviewjob_create_until_a_role_grants_it(
    control_plane: ControlPlane, api_client: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(api_client)
    core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="hook"))
    )
    token = control_plane.kubectl("create", "token", "hook", "-n", namespace, "--duration=10m").stdout.strip()
    manifest = yaml.safe_dump(sample())

    denied = control_plane.kubectl(
        "create", "-n", namespace, "-f", "-", input_text=manifest, token=token, check=False
    )
    assert denied.returncode != 0
    assert "forbidden" in denied.stderr.lower()
    assert f"system:serviceaccount:{namespace}:hook" in denied.stderr

    control_plane.apply(
        [
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": "rj-writer", "namespace": namespace},
                "rules": [{"apiGroups": [GROUP], "resources": [PLURAL], "verbs": ["create", "get"]}],
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": "rj-writer", "namespace": namespace},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "rj-writer"},
                "subjects": [{"kind": "ServiceAccount", "name": "hook", "namespace": namespace}],
            },
        ]
    )
    deadline = time.monotonic() + 20
    while True:
        allowed = control_plane.kubectl(
            "create", "-n", namespace, "-f", "-", input_text=manifest, token=token, check=False
        )
        if allowed.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert allowed.returncode == 0, allowed.stderr
    # The grant is narrow: still no Secrets.
    secrets = control_plane.kubectl("get", "secrets", "-n", namespace, token=token, check=False)
    assert secrets.returncode != 0
    assert "forbidden" in secrets.stderr.lower()


def test_podsecurity_restricted_rejects_a_privileged_pod(
    control_plane: ControlPlane, restricted_namespace: str
) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bad"},
        # No security context at all: root allowed, capabilities kept, no seccomp profile.
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    result = control_plane.kubectl(
        "create", "-n", restricted_namespace, "-f", "-", input_text=yaml.safe_dump(pod), check=False
    )
    assert result.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in result.stderr
    assert "runAsNonRoot" in result.stderr
    # the same pod shaped like a review pod is admitted
    ok = restricted_pod("good")
    created = control_plane.kubectl(
        "create", "-n", restricted_namespace, "-f", "-", input_text=yaml.safe_dump(ok), check=False
    )
    assert created.returncode == 0, created.stderr


def restricted_pod(name: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 1000,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "review",
                    "image": "review-operator:dev",
                    "resources": {
                        "requests": {"cpu": "100m", "memory": "128Mi"},
                        "limits": {"memory": "512Mi"},
                    },
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                        "readOnlyRootFilesystem": True,
                    },
                }
            ],
        },
    }


def _watch_phases(
    api: client.ApiClient, namespace: str, name: str, until: set[str], timeout: int = 30
) -> list[str]:
    phases: list[str] = []
    w = watch.Watch()
    for event in w.stream(
        client.CoreV1Api(api).list_namespaced_pod,
        namespace,
        field_selector=f"metadata.name={name}",
        timeout_seconds=timeout,
    ):
        phase = event["object"].status.phase
        if not phases or phases[-1] != phase:
            phases.append(phase)
        if phase in until:
            w.stop()
    return phases


def test_kwok_runs_a_pod_from_pending_to_succeeded(
    api_client: client.ApiClient, restricted_namespace: str
) -> None:
    client.CoreV1Api(api_client).create_namespaced_pod(
        restricted_namespace, restricted_pod("ok", {"sim.review-operator.dev/duration": "1s"})
    )
    phases = _watch_phases(api_client, restricted_namespace, "ok", {"Succeeded", "Failed"})
    assert phases[-1] == "Succeeded"
    assert "Running" in phases
    pod = client.CoreV1Api(api_client).read_namespaced_pod("ok", restricted_namespace)
    assert pod.spec.node_name.startswith("kwok-node-")
    terminated = pod.status.container_statuses[0].state.terminated
    assert terminated.exit_code == 0
    assert '"outcome":"success"' in terminated.message


def test_kwok_pod_can_end_oomkilled_with_a_termination_message(
    api_client: client.ApiClient, restricted_namespace: str
) -> None:
    annotations = {
        "sim.review-operator.dev/outcome": "OOMKilled",
        "sim.review-operator.dev/duration": "500ms",
        "sim.review-operator.dev/message": '{"v":1,"outcome":"agent_error","error":"killed"}',
    }
    client.CoreV1Api(api_client).create_namespaced_pod(
        restricted_namespace, restricted_pod("oom", annotations)
    )
    phases = _watch_phases(api_client, restricted_namespace, "oom", {"Succeeded", "Failed"})
    assert phases[-1] == "Failed"
    pod = client.CoreV1Api(api_client).read_namespaced_pod("oom", restricted_namespace)
    terminated = pod.status.container_statuses[0].state.terminated
    assert terminated.reason == "OOMKilled"
    assert terminated.exit_code == 137
    assert terminated.message == annotations["sim.review-operator.dev/message"]


@pytest.mark.parametrize(
    ("outcome", "pod_reason", "exit_code"),
    [("Evicted", "Evicted", 137), ("DeadlineExceeded", "DeadlineExceeded", 137), ("Error", None, 3)],
)
def test_kwok_pod_can_be_evicted_time_out_or_fail_with_an_exit_code(
    api_client: client.ApiClient,
    restricted_namespace: str,
    outcome: str,
    pod_reason: str | None,
    exit_code: int,
) -> None:
    name = outcome.lower()
    annotations = {
        "sim.review-operator.dev/outcome": outcome,
        "sim.review-operator.dev/duration": "300ms",
        "sim.review-operator.dev/exit-code": "3",
    }
    client.CoreV1Api(api_client).create_namespaced_pod(
        restricted_namespace, restricted_pod(name, annotations)
    )
    phases = _watch_phases(api_client, restricted_namespace, name, {"Succeeded", "Failed"})
    assert phases[-1] == "Failed"
    pod = client.CoreV1Api(api_client).read_namespaced_pod(name, restricted_namespace)
    assert pod.status.reason == pod_reason
    assert pod.status.container_statuses[0].state.terminated.exit_code == exit_code


def test_pod_that_fits_no_node_stays_pending_unschedulable(
    api_client: client.ApiClient, restricted_namespace: str
) -> None:
    pod = restricted_pod("huge")
    pod["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "500", "memory": "1Ti"}}
    client.CoreV1Api(api_client).create_namespaced_pod(restricted_namespace, pod)
    deadline = time.monotonic() + 20
    reason = None
    while time.monotonic() < deadline and reason is None:
        status = client.CoreV1Api(api_client).read_namespaced_pod("huge", restricted_namespace).status
        for cond in status.conditions or []:
            if cond.type == "PodScheduled" and cond.status == "False":
                reason = cond.reason
        time.sleep(0.2)
    assert reason == "Unschedulable"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it has exited as far as we are concerned.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_harness_stops_every_process_and_removes_its_directory() -> None:
    plane = ControlPlane(nodes=(FakeNode("solo", cpu="2", memory="4Gi"),))
    plane.start()
    pids, workdir = plane.pids, plane.workdir
    assert len(pids) == 5
    assert all(_alive(pid) for pid in pids)
    plane.stop()
    assert not [pid for pid in pids if _alive(pid)]
    assert not workdir.exists()
    # and no child survived its parent either: nothing still refers to the work dir
    leftovers = subprocess.run(["pgrep", "-f", str(workdir)], capture_output=True, text=True, check=False)
    assert leftovers.stdout.strip() == ""


def test_component_that_cannot_start_is_named_with_its_log() -> None:
    plane = ControlPlane(nodes=())
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        plane.apiserver_port = blocker.getsockname()[1]
        plane.server = f"https://127.0.0.1:{plane.apiserver_port}"
        with pytest.raises(ComponentError) as excinfo:
            plane.start()
    message = str(excinfo.value)
    assert "kube-apiserver" in message
    assert "kube-apiserver.log" in message
    assert not plane.procs

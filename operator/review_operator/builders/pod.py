"""Pure builders for the review pod and its per-review checkout Secret.

The pod is the sandbox: no ServiceAccount token, non-root, read-only root filesystem, no
capabilities, RuntimeDefault seccomp, bounded CPU/memory/ephemeral storage and a hard
`activeDeadlineSeconds`. The `checkout` init container alone sees the read-only repository token
(a per-review Secret owned by the ReviewJob); the `review` container gets only the model key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from review_operator.api.models import API_VERSION, KIND, ReviewJob, ReviewScope, ScopeMode
from review_operator.builders.env import runner_env, runner_settings
from review_operator.builders.limits import ReviewLimits, cap_limits
from review_operator.builders.names import (
    LABEL_ATTEMPT,
    LABEL_COMPONENT,
    LABEL_MANAGED_BY,
    LABEL_PULL_REQUEST,
    LABEL_REPOSITORY_ID,
    LABEL_REVIEWJOB,
    MANAGED_BY,
    checkout_secret_name,
    pod_name,
)
from review_operator.builders.question import Thread, answer_budget, answer_values
from review_operator.config import ControllerSettings, RunnerSettings

REVIEW_POD_COMPONENT = "review-pod"
CHECKOUT_SECRET_COMPONENT = "checkout-token"  # noqa: S105 - a label value, not a secret
TOKEN_KEY = "token"  # noqa: S105 - the key name inside the Secret
TOKEN_DIR = "/var/run/review-operator/checkout"  # noqa: S105 - a mount path
WORKSPACE = "/workspace"
CHECKOUT_DIR = f"{WORKSPACE}/repo"
RUN_DIR = f"{WORKSPACE}/run"
NON_ROOT_UID = 65532
TMP = "/tmp"  # noqa: S108 - an emptyDir mounted per pod, not a shared host directory
SAFE_TO_EVICT = "cluster-autoscaler.kubernetes.io/safe-to-evict"
DO_NOT_DISRUPT = "karpenter.sh/do-not-disrupt"  # Karpenter's consolidation and drift leave the pod alone


def effective_limits(job: ReviewJob, settings: ControllerSettings) -> ReviewLimits:
    """Overrides are capped by the controller's maxima: whoever can create a ReviewJob cannot buy a
    longer, more expensive or different-model review than the operator allows."""
    o = job.spec.overrides
    return cap_limits(
        settings,
        model=o.model,
        max_turns=o.max_turns,
        max_budget_usd=o.max_budget_usd,
        timeout_seconds=o.timeout_seconds,
    )


def owner_reference(job: ReviewJob) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": job.metadata.name,
        "uid": job.metadata.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _labels(job: ReviewJob, component: str) -> dict[str, str]:
    return {
        LABEL_COMPONENT: component,
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_REVIEWJOB: job.metadata.name,
        LABEL_REPOSITORY_ID: str(job.spec.repository.id),
        LABEL_PULL_REQUEST: str(job.spec.pull_request.number),
    }


def build_checkout_secret(job: ReviewJob, token: str) -> dict[str, Any]:
    """The per-review Secret with the read-only checkout token, garbage-collected with the ReviewJob."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": checkout_secret_name(job.metadata.name),
            "namespace": job.metadata.namespace,
            "labels": _labels(job, CHECKOUT_SECRET_COMPONENT),
            "ownerReferences": [owner_reference(job)],
        },
        "stringData": {TOKEN_KEY: token},
    }


def _restricted_container_security() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }


def _env(values: dict[str, str]) -> list[dict[str, Any]]:
    return [{"name": k, "value": v} for k, v in values.items()]


def _pod_metadata(job: ReviewJob, attempt: int, settings: ControllerSettings) -> dict[str, Any]:
    annotations = {SAFE_TO_EVICT: "false", DO_NOT_DISRUPT: "true"}
    for key, value in job.metadata.annotations.items():
        if any(key.startswith(prefix) for prefix in settings.pod_annotation_passthrough):
            annotations[key] = value
    return {
        "name": pod_name(job.metadata.name, attempt),
        "namespace": job.metadata.namespace,
        "labels": {**_labels(job, REVIEW_POD_COMPONENT), LABEL_ATTEMPT: str(attempt)},
        "annotations": annotations,
        "ownerReferences": [owner_reference(job)],
    }


def _pod_security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": NON_ROOT_UID,
        "runAsGroup": NON_ROOT_UID,
        "fsGroup": NON_ROOT_UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _volumes(job: ReviewJob, settings: ControllerSettings, with_checkout_token: bool) -> list[dict[str, Any]]:
    volumes: list[dict[str, Any]] = [
        {"name": "workspace", "emptyDir": {"sizeLimit": settings.workspace_size_limit}},
        {"name": "home", "emptyDir": {"sizeLimit": "256Mi"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "512Mi"}},
    ]
    if with_checkout_token:
        secret = {"secretName": checkout_secret_name(job.metadata.name), "defaultMode": 0o400}
        volumes.append({"name": "checkout-token", "secret": secret})
    return volumes


def base_sha(job: ReviewJob, scope: ReviewScope | None) -> str:
    """The PR's base: the push's, else what GitHub answered when the review started ('' unknown)."""
    return job.spec.pull_request.base_sha or (scope.base_sha if scope else None) or ""


def since_sha(scope: ReviewScope | None) -> str:
    """The head of our last review, when only the commits since it are reviewed ('' for a full review)."""
    return (scope.since or "") if scope is not None and scope.mode is ScopeMode.INCREMENTAL else ""


def _checkout_container(
    job: ReviewJob,
    head_sha: str,
    settings: ControllerSettings,
    github_api_url: str,
    with_checkout_token: bool,
    scope: ReviewScope | None,
) -> dict[str, Any]:
    """The init container: the only one that sees the repository token."""
    env = {
        "REVIEWOP_CHECKOUT_REPOSITORY": job.spec.repository.full_name,
        "REVIEWOP_CHECKOUT_HEAD_SHA": head_sha,
        "REVIEWOP_CHECKOUT_BASE_SHA": base_sha(job, scope),
        "REVIEWOP_CHECKOUT_WORKSPACE": CHECKOUT_DIR,
        "REVIEWOP_CHECKOUT_TIMEOUT_SECONDS": str(settings.checkout_timeout_seconds),
        "REVIEWOP_GITHUB_API_URL": github_api_url,
    }
    if since := since_sha(scope):
        env["REVIEWOP_CHECKOUT_SINCE_SHA"] = since  # fetched too, so the runner can diff since..head
    mounts: list[dict[str, Any]] = [
        {"name": "workspace", "mountPath": WORKSPACE},
        {"name": "tmp", "mountPath": TMP},
    ]
    if with_checkout_token:
        env["REVIEWOP_CHECKOUT_TOKEN_FILE"] = f"{TOKEN_DIR}/{TOKEN_KEY}"
        mounts.append({"name": "checkout-token", "mountPath": TOKEN_DIR, "readOnly": True})
    return {
        "name": "checkout",
        "image": settings.image,
        "imagePullPolicy": settings.image_pull_policy,
        "args": ["checkout"],
        "env": _env(env),
        "volumeMounts": mounts,
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
        "securityContext": _restricted_container_security(),
        "terminationMessagePolicy": "File",
    }


def review_runner_settings(
    job: ReviewJob,
    head_sha: str,
    settings: ControllerSettings,
    repo_values: Mapping[str, Any] | None = None,
    scope: ReviewScope | None = None,
    thread: Thread | None = None,
) -> RunnerSettings:
    """What the runner in the review pod is told: the pull request and the effective limits, then
    what the repository's configuration file decided (`RepoReviewSettings.runner_values`: its
    limits are already capped by the cluster, with the ReviewJob's overrides applied)."""
    limits = effective_limits(job, settings)
    pr = job.spec.pull_request
    # Left out when empty or off: the runner's default is the same, and the pod stays byte for byte
    # what it was before descriptions and thinking budgets were passed.
    optional: dict[str, Any] = {"pr_body": pr.body} if pr.body else {}
    if settings.max_thinking_tokens:
        optional["max_thinking_tokens"] = settings.max_thinking_tokens
    if since := since_sha(scope):
        optional["since_sha"] = since
    values: dict[str, Any] = dict(
        repo=job.spec.repository.full_name,
        pr_number=pr.number,
        head_sha=head_sha,
        base_sha=base_sha(job, scope),
        pr_title=pr.title,
        checkout=CHECKOUT_DIR,
        work_dir=RUN_DIR,
        model=limits.model,
        max_turns=limits.max_turns,
        max_budget_usd=limits.max_budget_usd,
        timeout_seconds=limits.timeout_seconds,
        **optional,
    )
    merged = {**values, **(repo_values or {}), **answer_values(job, thread)}
    merged["max_budget_usd"] = answer_budget(job, merged["max_budget_usd"], settings)
    return runner_settings(**merged)


def _review_env(
    job: ReviewJob,
    head_sha: str,
    settings: ControllerSettings,
    repo_values: Mapping[str, Any] | None,
    scope: ReviewScope | None,
    thread: Thread | None,
) -> list[dict[str, Any]]:
    """Operator-supplied extras first; the runner's own settings win over them. The model key comes
    from a Secret reference, never as a value."""
    values = {
        **settings.review_env,
        **runner_env(review_runner_settings(job, head_sha, settings, repo_values, scope, thread)),
        "HOME": "/home/review",
        "TMPDIR": TMP,
    }
    model_key = {
        "name": settings.model_secret_key,
        "valueFrom": {"secretKeyRef": {"name": settings.model_secret_name, "key": settings.model_secret_key}},
    }
    return [*_env(values), model_key]


def _review_container(
    job: ReviewJob,
    head_sha: str,
    settings: ControllerSettings,
    repo_values: Mapping[str, Any] | None,
    scope: ReviewScope | None,
    thread: Thread | None,
) -> dict[str, Any]:
    resources = {
        "requests": {
            "cpu": settings.cpu_request,
            "memory": settings.memory_request,
            "ephemeral-storage": settings.ephemeral_storage_request,
        },
        "limits": {
            "cpu": settings.cpu_limit,
            "memory": settings.memory_limit,
            "ephemeral-storage": settings.ephemeral_storage_limit,
        },
    }
    return {
        "name": "review",
        "image": settings.image,
        "imagePullPolicy": settings.image_pull_policy,
        "args": ["runner"],
        "env": _review_env(job, head_sha, settings, repo_values, scope, thread),
        "volumeMounts": [
            {"name": "workspace", "mountPath": WORKSPACE},
            {"name": "home", "mountPath": "/home/review"},
            {"name": "tmp", "mountPath": TMP},
        ],
        "resources": resources,
        "securityContext": _restricted_container_security(),
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }


def _placement(settings: ControllerSettings) -> dict[str, Any]:
    """Where and as whom the pod runs: only the settings the operator filled in."""
    placement: dict[str, Any] = {}
    if settings.node_selector:
        placement["nodeSelector"] = dict(settings.node_selector)
    if settings.tolerations:
        placement["tolerations"] = list(settings.tolerations)
    if settings.affinity:
        placement["affinity"] = dict(settings.affinity)
    if settings.review_service_account:
        placement["serviceAccountName"] = settings.review_service_account
    if settings.priority_class_name:
        placement["priorityClassName"] = settings.priority_class_name
    return placement


def build_review_pod(
    job: ReviewJob,
    attempt: int,
    head_sha: str,
    settings: ControllerSettings,
    github_api_url: str,
    with_checkout_token: bool,
    repo_values: Mapping[str, Any] | None = None,
    scope: ReviewScope | None = None,
    thread: Thread | None = None,
) -> dict[str, Any]:
    """The review pod of one attempt. Deterministic: the same inputs give the same manifest.
    `repo_values`: what the repository's configuration decided for the runner (see
    `builders.repo_settings`); `scope`: the whole PR, or the commits since our last review;
    `thread`: for a reply in one of our review threads, that thread (`builders.question`)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _pod_metadata(job, attempt, settings),
        "spec": {
            "restartPolicy": "Never",
            "activeDeadlineSeconds": settings.pod_deadline_seconds,
            "terminationGracePeriodSeconds": settings.termination_grace_seconds,
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "securityContext": _pod_security_context(),
            "initContainers": [
                _checkout_container(job, head_sha, settings, github_api_url, with_checkout_token, scope)
            ],
            "containers": [_review_container(job, head_sha, settings, repo_values, scope, thread)],
            "volumes": _volumes(job, settings, with_checkout_token),
            **_placement(settings),
        },
    }

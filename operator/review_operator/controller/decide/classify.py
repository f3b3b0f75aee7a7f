"""Pure classification of how a review pod ended (or is stuck), and what to do about it.

Retryable: eviction, node loss, rate limits (429/529). Final: OOMKilled, DeadlineExceeded, an eviction
for exceeding the pod's own ephemeral-storage limits (the same commit would fill the disk again), agent
max-turns/budget, unauthorized (fail closed at once), unreadable results. Every verdict carries a
machine-readable reason and a short, secret-free message for the user.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from review_operator.api.models import Phase
from review_operator.api.reasons import Reason
from review_operator.api.result import ResultDecodeError, ResultOutcome, ReviewResult, decode_result
from review_operator.api.scrub import clip_token_shapes

REVIEW_CONTAINER = "review"
CHECKOUT_CONTAINER = "checkout"


class Kind(StrEnum):
    RUNNING = "running"  # nothing to do yet
    SUCCEEDED = "succeeded"  # post the result
    RETRY = "retry"  # a new attempt may help
    FINAL = "final"  # stop, tell the user


@dataclass(frozen=True)
class Verdict:
    kind: Kind
    reason: Reason | None = None
    message: str = ""
    phase: Phase | None = None
    result: ReviewResult | None = None
    retry_after_s: float | None = None


RUNNING = Verdict(Kind.RUNNING)

_OUTCOME_VERDICTS: dict[ResultOutcome, tuple[Kind, Reason, Phase, str]] = {
    ResultOutcome.RATE_LIMITED: (
        Kind.RETRY,
        Reason.RATE_LIMITED,
        Phase.FAILED,
        "The model API was rate limited.",
    ),
    ResultOutcome.UNAUTHORIZED: (
        Kind.FINAL,
        Reason.UNAUTHORIZED,
        Phase.FAILED,
        "The model API rejected the credential (401/403); no retries.",
    ),
    ResultOutcome.MAX_TURNS: (Kind.FINAL, Reason.MAX_TURNS, Phase.FAILED, "The review hit its turn limit."),
    ResultOutcome.BUDGET_EXCEEDED: (
        Kind.FINAL,
        Reason.BUDGET_EXCEEDED,
        Phase.FAILED,
        "The review hit its budget.",
    ),
    ResultOutcome.TIMEOUT: (Kind.FINAL, Reason.AGENT_TIMEOUT, Phase.TIMED_OUT, "The agent ran out of time."),
    ResultOutcome.AGENT_ERROR: (Kind.FINAL, Reason.AGENT_ERROR, Phase.FAILED, "The agent failed."),
    ResultOutcome.CHECKOUT_FAILED: (Kind.FINAL, Reason.CHECKOUT_FAILED, Phase.FAILED, "The checkout failed."),
    ResultOutcome.CLI_MISSING: (
        Kind.FINAL,
        Reason.CLI_MISSING,
        Phase.FAILED,
        "The review image has no Claude Code CLI; fix the image (or REVIEWOP_RUNNER_CLI_PATH), no retries.",
    ),
}


def _container_states(status: dict[str, Any], key: str) -> dict[str, dict[str, Any]]:
    return {c.get("name", ""): c.get("state") or {} for c in status.get(key) or []}


def _condition(status: dict[str, Any], type_: str) -> dict[str, Any] | None:
    for cond in status.get("conditions") or []:
        if cond.get("type") == type_:
            found: dict[str, Any] = cond
            return found
    return None


def _from_result(result: ReviewResult) -> Verdict:
    if result.outcome is ResultOutcome.SUCCESS:
        return Verdict(Kind.SUCCEEDED, Reason.SUCCEEDED, "Review completed.", Phase.SUCCEEDED, result)
    kind, reason, phase, message = _OUTCOME_VERDICTS[result.outcome]
    detail = f"{message} {result.error}".strip() if result.error else message
    return Verdict(kind, reason, clip_token_shapes(detail, 1000), phase, result, result.retry_after_s)


# The kubelet's eviction messages when a pod outgrows its own limits (pkg/kubelet/eviction/helpers.go),
# as opposed to node pressure, where another node may do.
_STORAGE_LIMIT_SIGNS = (
    "exceeded its local ephemeral storage limit",
    "ephemeral local storage usage exceeds the total limit",
    "usage of emptydir volume",
)


def _eviction(message: str) -> Verdict:
    if any(sign in message.lower() for sign in _STORAGE_LIMIT_SIGNS):
        return Verdict(
            Kind.FINAL,
            Reason.STORAGE_EXCEEDED,
            f"The review pod was evicted for exceeding its disk limits: {_one_line(message)}",
            Phase.FAILED,
        )
    return Verdict(Kind.RETRY, Reason.EVICTED, "The review pod was evicted from its node.")


def classify_pod(pod: dict[str, Any]) -> Verdict:
    """What a review pod's status says (the pod is a camelCase manifest as the API returns it)."""
    status = pod.get("status") or {}
    phase = status.get("phase")
    if pod.get("metadata", {}).get("deletionTimestamp") and phase not in ("Succeeded", "Failed"):
        return Verdict(Kind.RETRY, Reason.NODE_LOST, "The review pod was deleted while running.")
    if phase not in ("Succeeded", "Failed"):
        target = _condition(status, "DisruptionTarget")
        if target and target.get("status") == "True":
            verdict = _eviction(target.get("message") or "")
            if verdict.kind is Kind.RETRY:
                return Verdict(Kind.RETRY, Reason.EVICTED, "The review pod is being evicted.")
            return verdict
        return RUNNING
    reason = status.get("reason")
    if reason == "Evicted":
        return _eviction(status.get("message") or "")
    if reason == "DeadlineExceeded":
        return Verdict(
            Kind.FINAL, Reason.DEADLINE_EXCEEDED, "The review pod hit activeDeadlineSeconds.", Phase.TIMED_OUT
        )
    init = _container_states(status, "initContainerStatuses").get(CHECKOUT_CONTAINER, {})
    init_term = init.get("terminated") or {}
    if init_term and init_term.get("exitCode", 0) != 0:
        detail = _one_line(init_term.get("message") or f"exit code {init_term.get('exitCode')}")
        return Verdict(Kind.FINAL, Reason.CHECKOUT_FAILED, f"Checkout failed: {detail}", Phase.FAILED)
    term = _container_states(status, "containerStatuses").get(REVIEW_CONTAINER, {}).get("terminated") or {}
    if term.get("reason") == "OOMKilled":
        return Verdict(
            Kind.FINAL, Reason.OOM_KILLED, "The review container ran out of memory (OOMKilled).", Phase.FAILED
        )
    try:
        result = decode_result(term.get("message"))
    except ResultDecodeError as exc:
        if phase == "Failed" or term.get("exitCode", 0) != 0:
            return Verdict(
                Kind.FINAL,
                Reason.CONTAINER_FAILED,
                f"The review container failed (exit code {term.get('exitCode')}) without a result.",
                Phase.FAILED,
            )
        return Verdict(
            Kind.FINAL, Reason.RESULT_UNREADABLE, f"The review result was unreadable: {exc}", Phase.FAILED
        )
    return _from_result(result)


def pod_started_at(pod: dict[str, Any]) -> datetime | None:
    """When the kubelet started the pod (`status.startTime`: its activeDeadlineSeconds counts from
    here), None while no node has started it."""
    value = (pod.get("status") or {}).get("startTime")
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def classify_stuck(
    pod: dict[str, Any], now: datetime, claimed: datetime, pending_timeout_s: float, running_deadline_s: float
) -> Verdict:
    """Time-based verdicts for a pod that has not ended, on two clocks: pending (from the claim: no
    node could run it for too long) and running (from when a node started it, as the pod's own
    deadline counts; from the claim while no node has). Time spent waiting for a node, e.g. for a
    cluster autoscaler, never counts against the running deadline."""
    status = pod.get("status") or {}
    pending_age = (now - claimed).total_seconds()
    scheduled = _condition(status, "PodScheduled")
    if (
        status.get("phase") == "Pending"
        and scheduled
        and scheduled.get("status") == "False"
        and scheduled.get("reason") == "Unschedulable"
        and pending_age > pending_timeout_s
    ):
        return Verdict(
            Kind.FINAL,
            Reason.UNSCHEDULABLE,
            f"No node could run the review pod within the pending timeout ({int(pending_timeout_s)} s; "
            f"waited {int(pending_age)} s): "
            f"{_one_line(scheduled.get('message', ''))}",
            Phase.FAILED,
        )
    started = pod_started_at(pod)
    running_age = (now - (started or claimed)).total_seconds()
    if running_age > running_deadline_s:
        return Verdict(
            Kind.FINAL,
            Reason.RUNNING_DEADLINE,
            f"The attempt ran for more than {int(running_deadline_s)} s.",
            Phase.TIMED_OUT,
        )
    return RUNNING


# The API server's final word on a create: 403 (ResourceQuota, PodSecurity, RBAC, an admission
# webhook's denial), 422 (invalid) and 400 (a webhook denial without a code). The same pod would be
# refused again, so holding a slot for it would only block other reviews.
_REFUSED = (400, 403, 422)


def classify_create_failure(status: int, detail: str) -> Verdict:
    """What a failed create of a review pod (or its Secret) means: final when the API server refused
    it, otherwise (5xx, 429, timeouts, no answer) worth trying again until the claim deadline."""
    if status in _REFUSED:
        why = _one_line(detail, 600) or f"HTTP {status}"
        return Verdict(
            Kind.FINAL, Reason.POD_REJECTED, f"The API server refused the review pod: {why}", Phase.FAILED
        )
    return Verdict(Kind.RETRY, Reason.POD_CREATE_FAILED, f"Creating the review pod failed (HTTP {status}).")


def _one_line(text: str, limit: int = 300) -> str:
    return clip_token_shapes(" ".join(text.split()), limit)

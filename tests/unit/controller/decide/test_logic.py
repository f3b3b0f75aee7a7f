"""Pure controller decisions: admission, classification, planning, pod and Secret builders."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from typing import Any

import pytest

from review_operator.api.models import Phase, ReviewJob
from review_operator.api.reasons import Reason
from review_operator.api.result import Finding, ResultOutcome, ReviewResult, Severity, encode_result
from review_operator.builders.pod import build_checkout_secret, build_review_pod
from review_operator.config import ControllerSettings
from review_operator.controller.decide.admission import Slot, admit, backoff
from review_operator.controller.decide.classify import Kind, classify_pod, classify_stuck
from review_operator.controller.decide.plan import Observed, plan_pass
from review_operator.controller.decide.steps import Finish, Post, Queue, Retry, Step
from review_operator.controller.engine.ledger import Ledger
from tests.factories import SHA_A, T0
from tests.factories import reviewjob as job

SHA_B = "b" * 40


# -- admission -----------------------------------------------------------------------------------


def slot(name: str, repo: int, at: int) -> Slot:
    return Slot(name, repo, T0 + timedelta(seconds=at))


def test_admission_never_exceeds_global_or_per_repo_limits() -> None:
    queued = [slot(f"q{i}", repo=i % 3, at=i) for i in range(30)]
    running = [slot("r0", 0, -5), slot("r1", 0, -4)]
    admitted = admit(running, queued, T0, max_concurrent=5, max_per_repo=2)
    assert len(admitted) == 3
    repos = [next(s.repository_id for s in queued if s.name == n) for n in admitted]
    assert 0 not in repos  # repo 0 already runs two
    assert admitted == ["q1", "q2", "q4"]


def test_admission_is_oldest_first_and_fair_across_repositories() -> None:
    busy = [slot(f"busy{i}", repo=1, at=i) for i in range(10)]
    quiet = [slot("quiet", repo=2, at=50)]
    admitted = admit([], busy + quiet, T0, max_concurrent=3, max_per_repo=3)
    # repo 1 is older, but each round admits one per repository
    assert admitted == ["busy0", "quiet", "busy1"]


def test_admission_respects_retry_backoff_and_start_rate() -> None:
    later = Slot("later", 1, T0, not_before=T0 + timedelta(seconds=30))
    now_ready = slot("ready", 2, 1)
    assert admit([], [later, now_ready], T0, 5, 2) == ["ready"]
    assert admit([], [slot("a", 1, 0), slot("b", 2, 0)], T0, 5, 2, starts_left=1) == ["a"]
    assert admit([], [slot("a", 1, 0)], T0, 5, 2, starts_left=0) == []


@pytest.mark.parametrize(
    "message",
    [
        'Usage of EmptyDir volume "workspace" exceeds the limit "3Gi". ',
        "Pod ephemeral local storage usage exceeds the total limit of containers 4Gi. ",
        'Container checkout exceeded its local ephemeral storage limit "1Gi". ',
    ],
)
def test_eviction_for_exceeding_the_pods_own_disk_limits_is_final(message: str) -> None:
    """The same commit would fill the disk again: no retry, and the user is told why."""
    ended = {
        "metadata": {"name": "p"},
        "status": {"phase": "Failed", "reason": "Evicted", "message": message},
    }
    verdict = classify_pod(ended)
    assert (verdict.kind, verdict.reason, verdict.phase) == (
        Kind.FINAL,
        Reason.STORAGE_EXCEEDED,
        Phase.FAILED,
    )
    assert "disk" in verdict.message
    # The kubelet marks the pod before it ends; the verdict is the same then.
    ending = {
        "metadata": {"name": "p"},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "DisruptionTarget", "status": "True", "reason": "TerminationByKubelet",
                            "message": message}],
        },
    }  # fmt: skip
    assert classify_pod(ending).kind is Kind.FINAL
    # Node pressure is not the pod's fault: another node may do.
    pressure = "The node was low on resource: ephemeral-storage. Threshold quantity: 1Gi, available: 10Mi. "
    ended["status"]["message"] = pressure
    assert classify_pod(ended).kind is Kind.RETRY


def test_backoff_is_capped_jittered_and_honours_retry_after() -> None:
    rng = random.Random(1)
    delays = [backoff(n, 10, 60, None, rng).total_seconds() for n in range(1, 8)]
    assert all(0 < d <= 60 for d in delays)
    assert delays[0] <= 10
    assert backoff(1, 10, 60, 45, rng).total_seconds() >= 45
    assert backoff(1, 10, 60, 3600, rng).total_seconds() <= 60


# -- classification ------------------------------------------------------------------------------


def pod(
    phase: str,
    reason: str | None = None,
    message: str | None = None,
    term_reason: str = "Completed",
    exit_code: int = 0,
    init_exit: int = 0,
) -> dict[str, Any]:
    status: dict[str, Any] = {
        "phase": phase,
        "containerStatuses": [
            {
                "name": "review",
                "state": {"terminated": {"exitCode": exit_code, "reason": term_reason, "message": message}},
            }
        ],
        "initContainerStatuses": [
            {
                "name": "checkout",
                "state": {
                    "terminated": {
                        "exitCode": init_exit,
                        "message": "commit not found" if init_exit else None,
                    }
                },
            }
        ],
    }
    if reason:
        status["reason"] = reason
    return {"metadata": {"name": "p"}, "status": status}


def encoded(outcome: ResultOutcome, **kw: Any) -> str:
    return encode_result(ReviewResult(outcome=outcome, **kw))


@pytest.mark.parametrize(
    ("the_pod", "kind", "reason", "phase"),
    [
        (
            pod("Succeeded", message=encoded(ResultOutcome.SUCCESS, summary="ok")),
            Kind.SUCCEEDED,
            Reason.SUCCEEDED,
            Phase.SUCCEEDED,
        ),
        (pod("Failed", term_reason="OOMKilled", exit_code=137), Kind.FINAL, Reason.OOM_KILLED, Phase.FAILED),
        (pod("Failed", reason="DeadlineExceeded"), Kind.FINAL, Reason.DEADLINE_EXCEEDED, Phase.TIMED_OUT),
        (pod("Failed", reason="Evicted"), Kind.RETRY, Reason.EVICTED, None),
        (
            pod("Failed", exit_code=4, message=encoded(ResultOutcome.RATE_LIMITED, retry_after_s=12)),
            Kind.RETRY,
            Reason.RATE_LIMITED,
            Phase.FAILED,
        ),
        (
            pod("Failed", exit_code=5, message=encoded(ResultOutcome.UNAUTHORIZED)),
            Kind.FINAL,
            Reason.UNAUTHORIZED,
            Phase.FAILED,
        ),
        (
            pod("Failed", exit_code=3, message=encoded(ResultOutcome.MAX_TURNS)),
            Kind.FINAL,
            Reason.MAX_TURNS,
            Phase.FAILED,
        ),
        (
            pod("Failed", exit_code=3, message=encoded(ResultOutcome.BUDGET_EXCEEDED)),
            Kind.FINAL,
            Reason.BUDGET_EXCEEDED,
            Phase.FAILED,
        ),
        (pod("Succeeded", message="{this is not json"), Kind.FINAL, Reason.RESULT_UNREADABLE, Phase.FAILED),
        (pod("Succeeded", message=None), Kind.FINAL, Reason.RESULT_UNREADABLE, Phase.FAILED),
        (
            pod("Failed", exit_code=1, message="Traceback ..."),
            Kind.FINAL,
            Reason.CONTAINER_FAILED,
            Phase.FAILED,
        ),
        (pod("Failed", init_exit=4), Kind.FINAL, Reason.CHECKOUT_FAILED, Phase.FAILED),
        (pod("Running"), Kind.RUNNING, None, None),
    ],
)
def test_pod_endings_are_classified(
    the_pod: dict[str, Any], kind: Kind, reason: Reason | None, phase: Phase | None
) -> None:
    verdict = classify_pod(the_pod)
    assert (verdict.kind, verdict.reason, verdict.phase) == (kind, reason, phase)


def test_rate_limit_carries_retry_after() -> None:
    verdict = classify_pod(
        pod("Failed", exit_code=4, message=encoded(ResultOutcome.RATE_LIMITED, retry_after_s=12))
    )
    assert verdict.retry_after_s == 12


def test_unschedulable_only_after_the_pending_timeout() -> None:
    pending = {
        "status": {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/3 nodes available",
                }
            ],
        }
    }
    assert classify_stuck(pending, T0 + timedelta(seconds=10), T0, 60, 600).kind is Kind.RUNNING
    late = classify_stuck(pending, T0 + timedelta(seconds=61), T0, 60, 600)
    assert (late.kind, late.reason) == (Kind.FINAL, Reason.UNSCHEDULABLE)
    assert "0/3 nodes available" in late.message
    assert "within the pending timeout (60 s; waited 61 s)" in late.message  # what an autoscaler had
    running = {"status": {"phase": "Running"}}
    assert classify_stuck(running, T0 + timedelta(seconds=601), T0, 60, 600).reason is Reason.RUNNING_DEADLINE


# -- planning ------------------------------------------------------------------------------------

SETTINGS = ControllerSettings(max_concurrent=2, max_concurrent_per_repo=1, max_attempts=2)


def plan(observed: Observed, now: datetime, settings: ControllerSettings, rng: random.Random) -> list[Step]:
    return plan_pass(observed, now, settings, rng).steps


def test_pending_jobs_are_queued_and_queued_ones_admitted_under_limits() -> None:
    jobs = [
        job("new", phase=None),
        job("q1", repo_id=1, phase="Queued", created=1),
        job("q2", repo_id=1, phase="Queued", created=2),
        job("q3", repo_id=2, phase="Queued", created=3),
    ]
    planned = plan_pass(Observed(jobs), T0, SETTINGS, random.Random(0))
    assert [type(s).__name__ for s in planned.steps] == ["Queue"]
    assert isinstance(planned.steps[0], Queue)
    # Admission is the engine's ledger, fed by the pass: one slot per repository, two in all.
    ledger = Ledger()
    ledger.reset(jobs, planned.queued, planned.stale, 0, T0)
    admitted = ledger.admissible(T0, SETTINGS.max_concurrent, SETTINGS.max_concurrent_per_repo, 0)
    assert [j.metadata.name for j in admitted] == ["q1", "q3"]


def test_a_newer_head_supersedes_older_reviews_of_the_same_pr() -> None:
    old = job("old", sha=SHA_A, phase="Running", created=0, attempts=1, podName="old-a1")
    new = job("new", sha=SHA_B, phase="Queued", created=5)
    steps = plan(
        Observed(
            [old, new], pods={"old-a1": {"metadata": {"name": "old-a1"}, "status": {"phase": "Running"}}}
        ),
        T0,
        SETTINGS,
        random.Random(0),
    )
    finish = next(s for s in steps if isinstance(s, Finish))
    assert (finish.job.metadata.name, finish.phase, finish.delete_pod) == ("old", Phase.SUPERSEDED, "old-a1")
    assert not finish.note_on_pr


def test_cancel_mark_stops_a_running_review_and_deletes_its_pod() -> None:
    running = job("r", phase="Running", attempts=1, podName="r-a1")
    body = running.model_dump(mode="json", by_alias=True)
    body["spec"]["cancel"] = {"reason": "PullRequestClosed", "requestedAt": T0.isoformat()}
    cancelled = ReviewJob.model_validate(body)
    steps = plan(Observed([cancelled]), T0, SETTINGS, random.Random(0))
    assert len(steps) == 1
    assert isinstance(steps[0], Finish)
    assert (steps[0].phase, steps[0].reason, steps[0].delete_pod) == (
        Phase.CANCELLED,
        "PullRequestClosed",
        "r-a1",
    )


def test_retryable_failures_retry_until_attempts_run_out() -> None:
    evicted = {"metadata": {"name": "r-a1"}, "status": {"phase": "Failed", "reason": "Evicted"}}
    first = plan(
        Observed([job("r", phase="Running", attempts=1, podName="r-a1")], pods={"r-a1": evicted}),
        T0,
        SETTINGS,
        random.Random(0),
    )
    assert isinstance(first[0], Retry)
    assert first[0].not_before > T0
    last = plan(
        Observed([job("r", phase="Running", attempts=2, podName="r-a1")], pods={"r-a1": evicted}),
        T0,
        SETTINGS,
        random.Random(0),
    )
    assert isinstance(last[0], Finish)
    assert last[0].reason == "Evicted"
    assert "Gave up after 2 attempts" in last[0].message


def test_success_is_posted_and_a_vanished_pod_is_retried() -> None:
    done = pod("Succeeded", message=encoded(ResultOutcome.SUCCESS, summary="fine"))
    steps = plan(
        Observed([job("r", phase="Running", attempts=1, podName="r-a1")], pods={"r-a1": done}),
        T0,
        SETTINGS,
        random.Random(0),
    )
    assert isinstance(steps[0], Post)
    assert steps[0].result.summary == "fine"
    lost = job(
        "r",
        phase="Running",
        attempts=1,
        podName="r-a1",
        conditions=[
            {
                "type": "PodCreated",
                "status": "True",
                "reason": "Created",
                "lastTransitionTime": T0.isoformat(),
            }
        ],
    )
    steps = plan(Observed([lost]), T0, SETTINGS, random.Random(0))
    assert isinstance(steps[0], Retry)
    assert steps[0].reason == "NodeLost"


# -- builders ------------------------------------------------------------------------------------


def test_review_pod_is_sandboxed_and_carries_no_secret_value() -> None:
    settings = ControllerSettings(
        node_selector={"pool": "review"},
        priority_class_name="reviews",
        review_service_account="rel-review",
        tolerations=[{"key": "pool", "operator": "Exists", "effect": "NoSchedule"}],
    )
    manifest = build_review_pod(
        job("rj", phase="Running"), 1, SHA_A, settings, "https://api.github.com", True
    )
    spec = manifest["spec"]
    assert manifest["metadata"]["name"] == "rj-a1"
    assert manifest["metadata"]["ownerReferences"][0]["controller"] is True
    assert manifest["metadata"]["annotations"]["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "false"
    assert manifest["metadata"]["annotations"]["karpenter.sh/do-not-disrupt"] == "true"
    assert spec["restartPolicy"] == "Never"
    assert spec["automountServiceAccountToken"] is False
    assert spec["activeDeadlineSeconds"] == settings.pod_deadline_seconds
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["nodeSelector"] == {"pool": "review"}
    assert spec["priorityClassName"] == "reviews"
    assert spec["serviceAccountName"] == "rel-review"
    for container in spec["containers"] + spec["initContainers"]:
        sc = container["securityContext"]
        assert sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"]
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert container["resources"]["limits"]["memory"]
    review = spec["containers"][0]
    secret_refs = [e for e in review["env"] if "valueFrom" in e]
    assert secret_refs == [
        {
            "name": "ANTHROPIC_API_KEY",
            "valueFrom": {"secretKeyRef": {"name": "review-operator-model", "key": "ANTHROPIC_API_KEY"}},
        }
    ]
    assert all(m["name"] != "checkout-token" for m in review["volumeMounts"])
    checkout = spec["initContainers"][0]
    assert any(m["name"] == "checkout-token" for m in checkout["volumeMounts"])


def test_checkout_secret_is_owned_by_the_reviewjob() -> None:
    secret = build_checkout_secret(job("rj"), "ghs_example")
    assert secret["metadata"]["name"] == "rj-checkout"
    assert secret["metadata"]["ownerReferences"][0]["uid"] == "uid-rj"


def test_overrides_cannot_stretch_the_agent_past_the_pod_deadline() -> None:
    body = job("rj").model_dump(mode="json", by_alias=True)
    body["spec"]["overrides"] = {"timeoutSeconds": 7000, "maxTurns": 3, "model": "claude-haiku-4-5"}
    manifest = build_review_pod(ReviewJob.model_validate(body), 1, SHA_A, ControllerSettings(), "u", False)
    env = {e["name"]: e.get("value") for e in manifest["spec"]["containers"][0]["env"]}
    assert env["REVIEWOP_RUNNER_TIMEOUT_SECONDS"] == str(ControllerSettings().agent_timeout_seconds)
    assert env["REVIEWOP_RUNNER_MAX_TURNS"] == "3"
    assert env["REVIEWOP_RUNNER_MODEL"] == "claude-haiku-4-5"
    assert "volumes" in manifest["spec"]
    assert all(v["name"] != "checkout-token" for v in manifest["spec"]["volumes"])


def test_overrides_are_capped_by_the_controllers_maxima() -> None:
    """A ReviewJob asking for the CRD's largest limits and an unlisted model gets the configured caps."""
    body = job("rj").model_dump(mode="json", by_alias=True)
    body["spec"]["overrides"] = {"maxBudgetUsd": 100, "maxTurns": 200, "model": "claude-opus-4-1"}
    settings = ControllerSettings(
        override_max_budget_usd=3, override_max_turns=40, override_models=["claude-haiku-4-5"]
    )
    manifest = build_review_pod(ReviewJob.model_validate(body), 1, SHA_A, settings, "u", False)
    env = {e["name"]: e.get("value") for e in manifest["spec"]["containers"][0]["env"]}
    assert env["REVIEWOP_RUNNER_MAX_BUDGET_USD"] == "3.0"
    assert env["REVIEWOP_RUNNER_MAX_TURNS"] == "40"
    assert env["REVIEWOP_RUNNER_MODEL"] == settings.model
    # With the defaults, the same overrides are still bounded well below what the CRD admits.
    defaults = ControllerSettings()
    manifest = build_review_pod(ReviewJob.model_validate(body), 1, SHA_A, defaults, "u", False)
    env = {e["name"]: e.get("value") for e in manifest["spec"]["containers"][0]["env"]}
    assert float(env["REVIEWOP_RUNNER_MAX_BUDGET_USD"] or 0) <= 5
    assert int(env["REVIEWOP_RUNNER_MAX_TURNS"] or 0) <= 60
    assert env["REVIEWOP_RUNNER_MODEL"] == defaults.model


def test_broken_timeout_chain_is_reported() -> None:
    assert ControllerSettings().timeout_chain_errors() == []
    errors = ControllerSettings(agent_timeout_seconds=900, pod_deadline_seconds=900).timeout_chain_errors()
    assert errors and "pod deadline" in errors[0]
    assert ControllerSettings(running_deadline_seconds=800).timeout_chain_errors()


def test_findings_survive_the_round_trip_through_the_pod() -> None:
    result = ReviewResult(
        outcome=ResultOutcome.SUCCESS, findings=[Finding(path="a.py", line=3, severity=Severity.HIGH)]
    )
    verdict = classify_pod(pod("Succeeded", message=encode_result(result)))
    assert verdict.result is not None
    assert json.loads(verdict.result.model_dump_json())["findings"][0]["path"] == "a.py"

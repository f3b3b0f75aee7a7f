"""Pinned outputs of the pure builders: the review pod manifest and every status patch.

The golden files were written by the code before it was refactored to derive these from typed
models; any change to a byte of them is a behaviour change and must be deliberate. Regenerate with
`PYTHONPATH=operator python -m tests.unit.test_pinned_manifests` and review the diff.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from review_operator.api.models import Phase, ReviewJob
from review_operator.api.result import Finding, ReviewResult, Severity
from review_operator.builders.pod import build_review_pod
from review_operator.config import ControllerSettings
from review_operator.controller.decide import status
from tests.factories import T0, reviewjob

GOLDEN = Path(__file__).parent / "golden"
SHA = "c" * 40


def _pod_job() -> ReviewJob:
    job = reviewjob("rj-pinned", Phase.RUNNING, repo_id=7)
    job.metadata.annotations = {"sim.review-operator.dev/delay": "3", "other.example/x": "no"}
    job.spec.pull_request.title = "Fix the thing"
    job.spec.pull_request.base_sha = "b" * 40
    return job


def review_pods() -> dict[str, Any]:
    settings = ControllerSettings(
        namespace="ns",
        node_selector={"pool": "review"},
        tolerations=[{"key": "pool", "operator": "Exists", "effect": "NoSchedule"}],
        affinity={"nodeAffinity": {}},
        priority_class_name="reviews",
        review_service_account="rel-review",
        review_env={"ANTHROPIC_BASE_URL": "http://model.example", "REVIEWOP_RUNNER_MODEL": "shadowed"},
        pod_annotation_passthrough=["sim.review-operator.dev/"],
    )
    return {
        "with_token": build_review_pod(_pod_job(), 2, SHA, settings, "https://api.github.com", True),
        "defaults": build_review_pod(reviewjob("rj"), 1, SHA, ControllerSettings(), "u", False),
    }


def _result() -> ReviewResult:
    return ReviewResult.model_validate(
        {
            "outcome": "success",
            "findings": [Finding(path="a.py", line=3, severity=Severity.HIGH).model_dump(mode="json")],
            "cost_usd": 0.123456789,
            "turns": 4,
            "duration_ms": 5000,
            "tokens": {"input": 10, "output": 20, "cache_read": 30, "cache_creation": 40},
            "dropped": 1,
            "skipped": 2,
            "tools": {f"t{i}": i for i in range(25)},
        }
    )


def status_patches() -> dict[str, Any]:
    now = T0 + timedelta(minutes=5)
    later = now + timedelta(seconds=90)
    condition = {
        "type": "Admitted",
        "status": "True",
        "reason": "SlotAssigned",
        "message": "Attempt 1 admitted.",
        "lastTransitionTime": T0.isoformat(),
    }
    running = reviewjob("rj", Phase.RUNNING, conditions=[condition], attempts=1)
    running.metadata.generation = 3
    fresh = reviewjob("rj")
    return {
        "queued": status.queued(fresh, now),
        "claimed": status.claimed(fresh, 1, "rj-a1", SHA, now),
        "claimed_again": status.claimed(running, 2, "rj-a2", SHA, now),
        "pod_created": status.pod_created(running, "rj-a2", now),
        "retrying": status.retrying(running, "Evicted", "The pod was evicted.", later, now),
        "finished": status.finished(running, Phase.SUCCEEDED, "Succeeded", "Done.", _result(), now),
        "failed": status.finished(running, Phase.FAILED, "OOMKilled", "Out of memory.", None, now),
        "posting_delayed": status.posting_delayed(
            running, _result(), "PostingDelayed", "GitHub is down.", 2, now, later, now
        ),
    }


def test_review_pod_manifest_bytes_are_unchanged() -> None:
    assert json.dumps(review_pods(), indent=1) + "\n" == (GOLDEN / "review_pods.json").read_text()


def test_status_patches_are_unchanged() -> None:
    # Equal as JSON values: a merge patch's meaning does not depend on the order of its keys.
    expected = json.loads((GOLDEN / "status_patches.json").read_text())
    assert json.loads(json.dumps(status_patches())) == expected


if __name__ == "__main__":
    for name, build in (("review_pods", review_pods), ("status_patches", status_patches)):
        (GOLDEN / f"{name}.json").write_text(json.dumps(build(), indent=1) + "\n")

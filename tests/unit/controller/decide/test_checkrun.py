"""What the check run shows after each step and while the pod runs (`decide/checkrun.py`), and the
conclusion a posted review's findings call for (`github/conclusion.py`). Pure."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from review_operator.api.models import Phase
from review_operator.api.reasons import Reason
from review_operator.api.result import Finding, Severity
from review_operator.config import GitHubSettings
from review_operator.controller.decide.checkrun import CheckMark, for_pod, for_step
from review_operator.controller.decide.steps import Cleanup, EnsurePod, Finish, Hold, Queue, Retry
from review_operator.github.conclusion import action_required_threshold, conclusion_for, details_url
from tests.factories import reviewjob

T = datetime(2026, 1, 1, tzinfo=UTC)


def pod(name: str, phase: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "status": {"phase": phase}}


def test_queueing_shows_queued_naming_the_reviewjob_and_its_attempt() -> None:
    mark = for_step(Queue(reviewjob("rj", Phase.PENDING)))
    assert mark is not None and (mark.status, mark.attempt, mark.conclusion) == ("queued", 1, None)
    assert "`ns/rj`, attempt 1" in mark.summary


def test_a_retry_shows_queued_again_for_the_next_attempt() -> None:
    job = reviewjob("rj", Phase.RUNNING, attempts=1, podName="rj-a1")
    mark = for_step(Retry(job, Reason.EVICTED, "The pod was evicted.", T))
    assert mark is not None and (mark.status, mark.attempt) == ("queued", 2)
    assert Reason.EVICTED in mark.title and "evicted" in mark.summary


def test_the_running_pod_shows_in_progress_only_when_it_runs_and_is_the_reviews() -> None:
    job = reviewjob("rj", Phase.RUNNING, attempts=2, podName="rj-a2")
    mark = for_pod(job, pod("rj-a2", "Running"))
    assert mark is not None and (mark.status, mark.attempt) == ("in_progress", 2)
    assert "`ns/rj`, attempt 2" in mark.summary
    assert for_pod(job, pod("rj-a2", "Pending")) is None  # no node runs it yet
    assert for_pod(job, pod("rj-a1", "Running")) is None  # an earlier attempt's pod
    assert for_pod(job, None) is None
    assert (
        for_pod(reviewjob("rj", Phase.QUEUED, attempts=2, podName="rj-a2"), pod("rj-a2", "Running")) is None
    )


@pytest.mark.parametrize(
    ("phase", "reason", "conclusion", "only_existing"),
    [
        (Phase.FAILED, Reason.OOM_KILLED, "neutral", False),
        (Phase.FAILED, Reason.POSTING_FAILED, "neutral", False),
        (Phase.TIMED_OUT, Reason.DEADLINE_EXCEEDED, "neutral", False),
        (Phase.SUPERSEDED, Reason.SUPERSEDED, "cancelled", True),
        (Phase.SUPERSEDED, Reason.HEAD_MOVED, "cancelled", True),
        (Phase.SUPERSEDED, Reason.ALREADY_REVIEWED, "skipped", True),
        (Phase.CANCELLED, "PullRequestClosed", "cancelled", True),
        (Phase.CANCELLED, Reason.SKIPPED_BY_CONFIG, "skipped", True),
    ],
)
def test_endings_conclude_by_phase_never_failure(
    phase: Phase, reason: str, conclusion: str, only_existing: bool
) -> None:
    job = reviewjob("rj", Phase.RUNNING, attempts=1, podName="rj-a1")
    mark = for_step(Finish(job, phase, reason, "why it ended"))
    assert mark is not None
    assert (mark.status, mark.conclusion, mark.only_existing) == ("completed", conclusion, only_existing)
    assert reason in mark.title and "why it ended" in mark.summary


def test_success_and_other_steps_leave_the_run_to_posting_or_as_it_is() -> None:
    job = reviewjob("rj", Phase.RUNNING, attempts=1, podName="rj-a1")
    assert for_step(Finish(job, Phase.SUCCEEDED, Reason.SUCCEEDED, "posted")) is None
    for step in (EnsurePod(job), Cleanup(job), Hold(job, "DailyBudgetReached", "paused")):
        assert for_step(step) is None


def test_marks_rank_in_the_order_a_review_goes_through_them() -> None:
    def mark(status: Any, attempt: int) -> CheckMark:
        return CheckMark(status, attempt, "t", "s", "neutral" if status == "completed" else None)

    order = [mark("queued", 1), mark("in_progress", 1), mark("queued", 2), mark("in_progress", 2)]
    assert [m.rank for m in order] == sorted(m.rank for m in order)
    assert all(mark("completed", 1).rank > m.rank for m in order)


def _findings(*severities: Severity) -> list[Finding]:
    return [Finding(path="a.py", line=1, severity=s, title=str(s), body="b") for s in severities]


@pytest.mark.parametrize(
    ("bar", "severities", "conclusion"),
    [
        ("high", (), "success"),
        ("high", (Severity.NIT, Severity.MEDIUM), "neutral"),
        ("high", (Severity.LOW, Severity.HIGH), "action_required"),
        ("high", (Severity.CRITICAL,), "action_required"),
        ("nit", (Severity.NIT,), "action_required"),
        ("critical", (Severity.HIGH,), "neutral"),
        ("never", (Severity.CRITICAL,), "neutral"),
        ("never", (), "success"),
    ],
)
def test_findings_and_the_bar_give_the_conclusion(
    bar: str, severities: tuple[Severity, ...], conclusion: str
) -> None:
    threshold = action_required_threshold(GitHubSettings(check_action_required_severity=bar))
    assert conclusion_for(threshold, _findings(*severities)) == conclusion


def test_the_details_url_template_names_the_reviewjob_and_is_checked_at_start_up() -> None:
    settings = GitHubSettings(check_details_url="https://d.example.com/{namespace}/{name}?x=1")
    assert details_url(settings, "ns", "rj") == "https://d.example.com/ns/rj?x=1"
    assert details_url(GitHubSettings(), "ns", "rj") is None
    for bad in ("https://d.example.com/{token}", "https://d.example.com/{name", "ftp://x/{name}"):
        with pytest.raises(ValidationError):
            GitHubSettings(check_details_url=bad)
    with pytest.raises(ValidationError):
        GitHubSettings(check_action_required_severity="blocker")

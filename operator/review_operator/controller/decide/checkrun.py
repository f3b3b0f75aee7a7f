"""What a review's GitHub check run should show after a step, or while its pod runs. Pure.

The run follows the review: `queued` when it is queued (again, after a retry), `in_progress` while
its pod runs, and completed when it ends. A posted review completes its run while posting (with the
findings as annotations and the conclusion they call for, `github/conclusion.py`), so its `Finish`
asks for nothing here. A review that failed or timed out concludes `neutral`, naming the reason; a
superseded or cancelled one `cancelled` (`skipped` when it was never meant to run: an
already-reviewed head, the repository's configuration), and only if a run was created for it.

Each mark ranks above the marks it follows, so the engine shows each once and never lets a late
one undo a newer one (an `in_progress` arriving after the run completed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from review_operator.api.models import Phase, ReviewJob
from review_operator.api.reasons import Reason
from review_operator.controller.decide.steps import Finish, Queue, Retry, Step

CheckStatus = Literal["queued", "in_progress", "completed"]
EndConclusion = Literal["neutral", "cancelled", "skipped"]
_ORDER = {"queued": 0, "in_progress": 1}
_FINAL_RANK = (1 << 30, 0)
_SKIPPED = frozenset({Reason.ALREADY_REVIEWED, Reason.SKIPPED_BY_CONFIG})


@dataclass(frozen=True)
class CheckMark:
    status: CheckStatus
    attempt: int
    title: str
    summary: str
    conclusion: EndConclusion | None = None
    only_existing: bool = False  # complete a run that exists; create none just to close it

    @property
    def rank(self) -> tuple[int, int]:
        """Later marks rank higher: attempts in order, queued before in progress, completed last."""
        return _FINAL_RANK if self.status == "completed" else (self.attempt, _ORDER[self.status])


def _who(job: ReviewJob, attempt: int) -> str:
    return f"ReviewJob `{job.metadata.namespace}/{job.metadata.name}`, attempt {attempt}"


def for_step(step: Step) -> CheckMark | None:
    """The mark a step, once done, calls for (None: the run stays as it is; a question has no run)."""
    if step.job.spec.kind.is_question:
        return None
    match step:
        case Queue(job=job):
            attempt = job.status.attempts + 1
            return CheckMark(
                "queued", attempt, "Queued", f"{_who(job, attempt)}: waiting for a free review slot."
            )
        case Retry(job=job, reason=reason, message=message):
            attempt = job.status.attempts + 1
            summary = f"{_who(job, attempt)}: queued again after {reason}: {message}"
            return CheckMark("queued", attempt, f"Queued again ({reason})", summary)
        case Finish(job=job, phase=phase, reason=reason, message=message):
            return _ended(job, phase, reason, message)
    return None


def _ended(job: ReviewJob, phase: Phase, reason: str, message: str) -> CheckMark | None:
    attempt = max(job.status.attempts, 1)
    summary = f"{_who(job, attempt)}: {phase.value} ({reason}). {message}"
    if phase is Phase.SUCCEEDED:
        return None  # completed by posting, with the findings
    if phase in (Phase.FAILED, Phase.TIMED_OUT):
        # Our failure, not the code's: `failure` would block a merge behind a required check.
        title = "Review timed out" if phase is Phase.TIMED_OUT else "Review failed"
        return CheckMark("completed", attempt, f"{title}: {reason}", summary, "neutral")
    conclusion: EndConclusion = "skipped" if reason in _SKIPPED else "cancelled"
    title = "Review skipped" if conclusion == "skipped" else f"Review {phase.value.lower()}"
    return CheckMark("completed", attempt, f"{title}: {reason}", summary, conclusion, only_existing=True)


def for_pod(job: ReviewJob, pod: dict[str, Any] | None) -> CheckMark | None:
    """`in_progress` once the review's own pod runs (a node started it); None otherwise."""
    if pod is None or job.status.phase is not Phase.RUNNING or job.spec.cancel is not None:
        return None
    if job.spec.kind.is_question:
        return None
    if (pod.get("metadata") or {}).get("name") != job.status.pod_name:
        return None
    if (pod.get("status") or {}).get("phase") != "Running":
        return None
    attempt = job.status.attempts
    return CheckMark("in_progress", attempt, "Reviewing", f"{_who(job, attempt)}: the review pod is running.")

"""The state machine and its table agree: every row of `TRANSITIONS` is driven through `decide`
and yields that row's target and reason, and everything `decide` yields over a corpus of
observations (every pod ending `classify` knows, every phase) is a row. The generated
`docs/state-machine.md` is current."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from review_operator.api.models import Phase, ReviewJob
from review_operator.api.result import ResultOutcome, ReviewResult, encode_result
from review_operator.builders.question import Thread, thread_comment
from review_operator.config import ControllerSettings
from review_operator.controller.decide import checkrun
from review_operator.controller.decide.heads import pr_key
from review_operator.controller.decide.machine import decide
from review_operator.controller.decide.plan import stale_reviews
from review_operator.controller.decide.steps import (
    Cleanup,
    CreatePod,
    CreateRefused,
    DelayPost,
    EnsurePod,
    Finish,
    HeadUnresolved,
    Hold,
    Observation,
    Pause,
    PodSeen,
    Post,
    Posted,
    PostFailed,
    PostingOff,
    PostMoved,
    PostRefused,
    Queue,
    Retry,
    Seen,
    Stale,
    StartFacts,
    Step,
    TokenRefused,
)
from review_operator.controller.decide.transitions import TRANSITIONS, Transition, document, embedded
from review_operator.k8s.errors import KubeError
from tests.factories import T0, reviewjob
from tests.harness.controlplane import REPO_ROOT

SETTINGS = ControllerSettings(max_attempts=2, pending_timeout_seconds=60, posting_give_up_seconds=600)
RESULT = ReviewResult(outcome=ResultOutcome.SUCCESS, summary="ok")
OTHER = "b" * 40


def running(**status: Any) -> ReviewJob:
    fields = {"attempts": 1, "podName": "rj-a1", "startTime": T0.isoformat(), **status}
    return reviewjob("rj", Phase.RUNNING, **fields)


def command(head: str, phase: Phase) -> ReviewJob:
    body_job = reviewjob("rj", phase, headSha=head, attempts=1, podName="rj-a1", startTime=T0.isoformat())
    body = body_job.model_dump(mode="json", by_alias=True, exclude_none=True)
    del body["spec"]["pullRequest"]["headSha"]
    body["spec"]["trigger"] = {"event": "issue_comment", "sender": "dev", "commentId": 9}
    return ReviewJob.model_validate(body)


def asked(kind: str = "Reply", **status: Any) -> ReviewJob:
    """A running question: `/ask` (Ask) or a reply in a review thread (Reply, the thread root 5)."""
    body = running(**status).model_dump(mode="json", by_alias=True, exclude_none=True)
    del body["spec"]["pullRequest"]["headSha"]
    body["status"]["headSha"] = "c" * 40
    event = "pull_request_review_comment" if kind == "Reply" else "issue_comment"
    body["spec"]["trigger"] = {"event": event, "sender": "dev", "commentId": 9}
    question: dict[str, Any] = {"text": "Why?", "commentId": 9, "author": "dev"}
    if kind == "Reply":
        question["threadId"] = 5
    body["spec"] |= {"kind": kind, "question": question}
    return ReviewJob.model_validate(body)


OUR_THREAD = Thread(
    ours=True, path="app.py", line=3, comments=(thread_comment("bot[bot]", "Bug here", True),)
)


def cancelled(phase: Phase | None) -> ReviewJob:
    body = reviewjob("rj", phase).model_dump(mode="json", by_alias=True, exclude_none=True)
    body["spec"]["cancel"] = {"reason": "PullRequestClosed", "requestedAt": T0.isoformat()}
    return ReviewJob.model_validate(body)


def pod(
    phase: str, message: str | None = None, reason: str | None = None, exit_code: int = 0
) -> dict[str, Any]:
    state = {"terminated": {"exitCode": exit_code, "reason": "Completed", "message": message}}
    status: dict[str, Any] = {"phase": phase, "containerStatuses": [{"name": "review", "state": state}]}
    if reason:
        status["reason"] = reason
    return {"metadata": {"name": "rj-a1"}, "status": status}


def kept(**posting: Any) -> ReviewJob:
    return running(podName=None, posting={"state": "Delayed", "result": encode_result(RESULT), **posting})


POST = Post(running(), RESULT, "rj-a1")
UNAUTHORIZED_RESULT = encode_result(ReviewResult(outcome=ResultOutcome.UNAUTHORIZED, summary="401"))
LATER = T0 + timedelta(seconds=5)
# One observation (and the moment it is decided at) per row of the table.
SCENARIOS: dict[str, Callable[[], Observation]] = {
    "queue": lambda: Seen(reviewjob("rj")),
    "no-head": lambda: HeadUnresolved(reviewjob("rj", Phase.QUEUED)),
    "hold": lambda: Seen(
        reviewjob("rj", Phase.QUEUED), paused=Pause("DailyBudgetReached", "Daily model budget reached.")
    ),
    "hold-key": lambda: Seen(
        reviewjob("rj", Phase.QUEUED), paused=Pause("ModelKeyRejected", "The model API rejected the key.")
    ),
    "cancel": lambda: Seen(cancelled(Phase.QUEUED)),
    "stale": lambda: Seen(reviewjob("rj", Phase.QUEUED), stale=Stale(OTHER, covered=True)),
    "ensure-pod": lambda: Seen(running(startTime=T0.isoformat())),
    "start": lambda: StartFacts(running(), "a" * 40),
    "start-moved": lambda: StartFacts(running(), OTHER),
    "start-repeat": lambda: StartFacts(
        command("c" * 40, Phase.RUNNING), "c" * 40, [reviewjob("push", Phase.SUCCEEDED, sha="c" * 40)]
    ),
    "config-skip": lambda: StartFacts(
        running(), "a" * 40, skip="`.github/review-operator.yaml` sets `mode: manual`"
    ),
    "question-start": lambda: StartFacts(asked(), "c" * 40, thread=OUR_THREAD),
    "not-our-thread": lambda: StartFacts(asked(), "c" * 40, thread=Thread(ours=False)),
    "no-answer": lambda: PodSeen(asked(), pod("Succeeded", encode_result(RESULT))),
    "token-refused": lambda: TokenRefused(running(), "HTTP 401"),
    "pod-refused": lambda: CreateRefused(running(), 403, "forbidden", KubeError("HTTP 403", 403)),
    "pod-lost": lambda: Seen(running(conditions=[created()])),
    "no-pod-deadline": lambda: Seen(running(startTime=(T0 - timedelta(seconds=61)).isoformat())),
    "pod-retry": lambda: PodSeen(running(), pod("Failed", reason="Evicted")),
    "pod-retries-spent": lambda: PodSeen(running(attempts=2), pod("Failed", reason="Evicted")),
    "pod-failed": lambda: PodSeen(running(), pod("Failed", exit_code=1, message="Traceback")),
    "pod-key-rejected": lambda: PodSeen(running(), pod("Failed", UNAUTHORIZED_RESULT, exit_code=21)),
    "pod-timed-out": lambda: PodSeen(running(), pod("Failed", reason="DeadlineExceeded")),
    "pod-succeeded": lambda: PodSeen(running(), pod("Succeeded", encode_result(RESULT))),
    "posted": lambda: Posted(POST),
    "posting-off": lambda: PostingOff(POST),
    "post-moved": lambda: PostMoved(POST, OTHER),
    "post-refused": lambda: PostRefused(POST, "HTTP 401"),
    "post-delayed": lambda: PostFailed(POST, "HTTP 502", None, True, T0),
    "post-failed": lambda: PostFailed(POST, "HTTP 422", None, False, T0),
    "post-due": lambda: Seen(kept(nextAttemptAt=T0.isoformat())),
    "kept-unreadable": lambda: Seen(running(podName=None, posting={"state": "Delayed", "result": "{nope"})),
}


def created() -> dict[str, str]:
    return {
        "type": "PodCreated",
        "status": "True",
        "reason": "Created",
        "message": "",
        "lastTransitionTime": T0.isoformat(),
    }


def target(step: Step) -> Phase:
    match step:
        case Queue() | Retry() | Hold():
            return Phase.QUEUED
        case EnsurePod() | CreatePod() | Post() | DelayPost():
            return Phase.RUNNING
        case Finish(phase=phase):
            return phase
        case Cleanup(job=job):
            return job.status.phase
    raise AssertionError(step)


def reason(step: Step) -> str | None:
    return step.reason if isinstance(step, (Finish, Retry, Hold)) else None


def matches(row: Transition, source: Phase, step: Step) -> bool:
    return (
        source in row.sources
        and row.step.startswith(type(step).__name__)
        and target(step) == row.target
        and (not row.reasons or reason(step) in row.reasons)
    )


@pytest.mark.parametrize("row", [t for t in TRANSITIONS if t.key != "admit"], ids=lambda t: t.key)
def test_every_row_is_what_decide_does(row: Transition) -> None:
    obs = SCENARIOS[row.key]()
    source = observed_job(obs).status.phase
    step = decide(obs, LATER, SETTINGS, random.Random(0))
    assert step is not None, row
    assert matches(row, source, step), (row, step)


def observed_job(obs: Observation) -> ReviewJob:
    return (
        obs.step.job if isinstance(obs, (Posted, PostingOff, PostMoved, PostRefused, PostFailed)) else obs.job
    )


def corpus() -> list[Observation]:
    endings = [
        pod("Succeeded", encode_result(RESULT)),
        pod("Succeeded", "{broken"),
        pod("Failed", reason="Evicted"),
        pod("Failed", reason="DeadlineExceeded"),
        pod("Failed", exit_code=137),
        pod("Failed", exit_code=1, message="Traceback"),
        pod("Running"),
        pod("Pending"),
    ]
    for outcome in ResultOutcome:
        endings.append(pod("Failed", encode_result(ReviewResult(outcome=outcome, summary="x")), exit_code=3))
    jobs = [running(), running(attempts=2), running(startTime=(T0 - timedelta(hours=2)).isoformat())]
    found: list[Observation] = [s() for s in SCENARIOS.values()]
    found += [PodSeen(job, p) for job in jobs for p in endings]
    found += [Seen(job, p) for job in jobs for p in endings]
    found += [Seen(reviewjob("rj", phase)) for phase in Phase]
    found += [Seen(reviewjob("rj", phase), paused=Pause("DailyBudgetReached", "paused")) for phase in Phase]
    found += [Seen(reviewjob("rj", phase), paused=Pause("ModelKeyRejected", "paused")) for phase in Phase]
    return found


def test_everything_decide_does_is_a_row() -> None:
    for obs in corpus():
        step = decide(obs, LATER, SETTINGS, random.Random(0))
        if step is None or isinstance(step, Cleanup):
            continue
        source = observed_job(obs).status.phase
        assert any(matches(row, source, step) for row in TRANSITIONS), (obs, step)


def test_the_generated_document_is_current() -> None:
    committed = (REPO_ROOT / "docs" / "state-machine.md").read_text()
    assert committed == document(), "docs/state-machine.md is stale: run `make generate`"


def test_the_architecture_page_shows_the_current_diagram() -> None:
    page = (REPO_ROOT / "docs" / "architecture.md").read_text()
    assert page == embedded(page), "docs/architecture.md's diagram is stale: run `make generate`"


def test_a_review_command_runs_whatever_the_repository_config_says() -> None:
    asked = command("c" * 40, Phase.RUNNING)
    step = decide(StartFacts(asked, "c" * 40, skip="mode: manual"), LATER, SETTINGS, random.Random(0))
    assert isinstance(step, CreatePod)


def test_a_reply_outside_our_threads_or_in_a_vanished_one_costs_no_pod() -> None:
    for thread in (Thread(ours=False), None):
        step = decide(StartFacts(asked(), "c" * 40, thread=thread), LATER, SETTINGS, random.Random(0))
        assert isinstance(step, Finish), step
        assert (step.phase, step.reason, step.note_on_pr) == (Phase.CANCELLED, "NotOurThread", False)


def test_a_question_runs_whatever_the_head_the_config_or_the_prs_reviews_say() -> None:
    # An `/ask` of a head already reviewed is no repeated `/review`, and `mode: manual` skips no question.
    reviewed = [reviewjob("push", Phase.SUCCEEDED, sha="c" * 40)]
    obs = StartFacts(asked("Ask"), "c" * 40, reviewed, skip="mode: manual")
    step = decide(obs, LATER, SETTINGS, random.Random(0))
    assert isinstance(step, CreatePod) and step.thread is None


def test_a_question_never_writes_the_prs_summary_comment_when_it_fails() -> None:
    step = decide(
        PodSeen(asked("Ask"), pod("Failed", exit_code=1, message="x")), LATER, SETTINGS, random.Random(0)
    )
    assert isinstance(step, Finish) and step.phase is Phase.FAILED and not step.note_on_pr


def test_an_answer_is_posted_and_a_question_is_never_stale() -> None:
    answered = RESULT.model_copy(update={"answer": "Because."})
    step = decide(
        PodSeen(asked(), pod("Succeeded", encode_result(answered))), LATER, SETTINGS, random.Random(0)
    )
    assert isinstance(step, Post) and step.result.answer == "Because."
    done = decide(Posted(step), LATER, SETTINGS, random.Random(0))
    assert isinstance(done, Finish) and (done.phase, done.message) == (Phase.SUCCEEDED, "Answer posted.")


def test_a_push_never_ends_a_question_nor_does_a_question_cover_a_head() -> None:
    # The question's head is c…; GitHub's head moved to b…: the question goes on, and the stale review
    # of a… is not "covered" by it (the PR is told that no review covers the new head).
    review = reviewjob("review", Phase.RUNNING, attempts=1, podName="review-a1")
    stale = stale_reviews([asked("Ask"), review], {pr_key(review): OTHER}, T0)
    assert set(stale) == {"review"} and stale["review"] == Stale(OTHER, covered=False)


def test_a_question_has_no_check_run() -> None:
    assert checkrun.for_step(Queue(asked())) is None
    assert checkrun.for_step(Finish(asked(), Phase.FAILED, "AgentError", "x")) is None
    assert checkrun.for_pod(asked(), {"metadata": {"name": "rj-a1"}, "status": {"phase": "Running"}}) is None

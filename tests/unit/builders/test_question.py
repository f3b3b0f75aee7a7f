"""A question's review pod: the same sandbox as a review's, the runner in answer mode, a smaller budget."""

from __future__ import annotations

import pytest

from review_operator.api.models import JobKind, Question, ReviewJob, TriggerEvent
from review_operator.builders.pod import build_review_pod
from review_operator.builders.question import Thread, shown_thread, thread_comment
from review_operator.config import THREAD_MAX_COMMENTS, ControllerSettings, RunnerSettings
from tests.factories import reviewjob

SETTINGS = ControllerSettings(max_budget_usd=2.0, ask_max_budget_usd=0.3)
HEAD = "c" * 40


def asked(kind: JobKind) -> ReviewJob:
    job = reviewjob("pr-1-1-t9", "Running", attempts=1)
    event = TriggerEvent.PULL_REQUEST_REVIEW_COMMENT if kind is JobKind.REPLY else TriggerEvent.ISSUE_COMMENT
    trigger = job.spec.trigger.model_copy(update={"event": event, "comment_id": 9})
    thread_id = 5 if kind is JobKind.REPLY else None
    question = Question(text="Why is it cached?", comment_id=9, thread_id=thread_id, author="dev")
    spec = job.spec.model_copy(update={"trigger": trigger, "kind": kind, "question": question})
    return job.model_copy(update={"spec": spec})


def runner_of(pod: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> RunnerSettings:
    containers = pod["spec"]["containers"]  # type: ignore[index]
    for var in containers[0]["env"]:
        if "value" in var:
            monkeypatch.setenv(var["name"], var["value"])
    return RunnerSettings()


def test_a_reply_runs_in_answer_mode_with_its_thread_under_the_smaller_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    thread = Thread(
        ours=True, path="app.py", line=3, comments=(thread_comment("bot[bot]", "Bug here", True),)
    )
    review = build_review_pod(reviewjob("rj", "Running", attempts=1), 1, HEAD, SETTINGS, "http://gh", True)
    pod = build_review_pod(asked(JobKind.REPLY), 1, HEAD, SETTINGS, "http://gh", True, thread=thread)
    # The same sandbox: only the review container's environment differs.
    assert pod["spec"]["securityContext"] == review["spec"]["securityContext"]
    assert pod["spec"]["automountServiceAccountToken"] is False
    assert pod["spec"]["initContainers"][0]["env"][0] == review["spec"]["initContainers"][0]["env"][0]
    runner = runner_of(pod, monkeypatch)
    assert (runner.mode, runner.question, runner.max_budget_usd) == ("answer", "Why is it cached?", 0.3)
    assert (runner.thread_path, runner.thread_line) == ("app.py", 3)
    assert [(c.author, c.body, c.ours) for c in runner.thread] == [("bot[bot]", "Bug here", True)]


def test_a_review_keeps_its_budget_and_mode_and_an_ask_has_no_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    review = runner_of(
        build_review_pod(reviewjob("rj", "Running"), 1, HEAD, SETTINGS, "http://gh", True), monkeypatch
    )
    assert (review.mode, review.max_budget_usd) == ("review", 2.0)
    for var in ("REVIEWOP_RUNNER_MODE", "REVIEWOP_RUNNER_QUESTION", "REVIEWOP_RUNNER_MAX_BUDGET_USD"):
        monkeypatch.delenv(var, raising=False)
    ask = runner_of(build_review_pod(asked(JobKind.ASK), 1, HEAD, SETTINGS, "http://gh", True), monkeypatch)
    assert (ask.mode, ask.max_budget_usd, ask.thread) == ("answer", 0.3, [])


def test_a_long_thread_keeps_the_finding_and_the_latest_replies() -> None:
    comments = [thread_comment("bot[bot]", "finding", True)] + [
        thread_comment("dev", f"reply {i}", False) for i in range(30)
    ]
    shown = shown_thread(comments)
    assert len(shown) == THREAD_MAX_COMMENTS and shown[0].body == "finding" and shown[-1].body == "reply 29"
    token = "ghp_" + "b" * 36
    assert token not in thread_comment("dev", f"use {token}", False).body

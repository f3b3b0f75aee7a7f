"""`/ask` and replies in our review threads, through the real webhook app into the running controller
(issue 20 item 3). The answer the review pod reports is what the real runner, driving the real Claude
Code CLI against the fake model, wrote in answer mode; kwok ends the pod with it.

Exactly one answer per comment: a redelivered delivery is the same ReviewJob, and a controller killed
between creating the answer and recording it finds the answer by its hidden marker after the restart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kubernetes import client

from review_operator.api.models import GROUP, PLURAL, VERSION
from tests.e2e.test_controller import SIM, Stack, stack  # noqa: F401 - the stack fixture
from tests.e2e.test_controller_commands import comment_on
from tests.fakes.anthropic_api import FakeAnthropicAPI, text, tool
from tests.fakes.runner_harness import make_checkout, run_runner
from tests.github_double.fixtures import INSTALLATION_ID, app_key, openapi  # noqa: F401 - the stack's fixtures
from tests.github_double.review_comments import add_reply, add_thread
from tests.github_double.server import BOT, Recorded, Repo
from tests.integration.webhook_helpers import running_webhook, thread_reply

MARKER = "<!-- review-operator:answer job="
PERSON = {"login": "someone", "type": "User", "id": 77}


async def real_answer(tmp_path: Path, answer: str) -> str:
    """The termination message of the real runner answering in answer mode (the real CLI, the fake model)."""
    checkout = make_checkout(tmp_path / "src", {"app.py": "x = 1\n"}, {"app.py": "x = 2\n"})
    api = FakeAnthropicAPI([tool("Read", file_path="app.py"), text(json.dumps({"answer": answer}))])
    env = {"REVIEWOP_RUNNER_MODE": "answer", "REVIEWOP_RUNNER_QUESTION": "Why?"}
    async with api:
        run = await run_runner(api, checkout, tmp_path / "work", env=env)
    assert run.code == 0 and run.result.answer == answer, run.stdout
    return run.message


def simulate(st: Stack, name: str, message: str) -> None:
    """The pod kwok runs for this ReviewJob ends Succeeded with `message` (set before the controller
    runs: the webhook records no annotations)."""
    patch = {"metadata": {"annotations": {SIM + "message": message, SIM + "duration": "500ms"}}}
    client.CustomObjectsApi(st.api).patch_namespaced_custom_object(
        GROUP, VERSION, st.namespace, PLURAL, name, patch
    )


def answers_on_pr(st: Stack, repo: Repo, pr: int) -> list[dict[str, Any]]:
    return [c for c in st.double.pulls[(repo.id, pr)].comments if MARKER in c["body"]]


def reactions(st: Stack, repo: Repo, pr: int) -> list[tuple[int, str]]:
    return [(r["comment_id"], r["content"]) for r in st.double.pulls[(repo.id, pr)].reactions]


def reply_on(repo: Repo, pr: int, comment_id: int, thread_id: int, body: str) -> dict[str, Any]:
    """The real `pull_request_review_comment.created` example, moved onto a reply in the double's thread."""
    payload = thread_reply(body, in_reply_to=thread_id, login="dev")
    payload["comment"]["id"] = comment_id
    repository = payload["repository"]
    repository.update(id=repo.id, name=repo.name, full_name=f"{repo.owner}/{repo.name}")
    repository["owner"]["login"] = repo.owner
    payload["pull_request"]["number"] = pr
    payload["installation"] = {"id": INSTALLATION_ID}
    return payload


async def test_an_ask_delivered_twice_with_a_controller_killed_mid_answer_is_answered_once(
    stack: Stack,  # noqa: F811 - the imported fixture
    tmp_path: Path,
) -> None:
    repo, pr = stack.repos[5], 3
    message = await real_answer(tmp_path, "The cache is cleared on reload.")
    stack.controller.stop()  # the ReviewJob gets its simulated ending before any pod exists
    pull = stack.double.pulls[(repo.id, pr)]
    asked = stack.double.add_comment(pull, "/ask Is the cache cleared on reload?", login="dev")
    payload = comment_on(repo, pr, "/ask Is the cache cleared on reload?", comment_id=asked)
    payload["installation"] = {"id": INSTALLATION_ID}
    async with running_webhook(stack.namespace, stack.plane.kubeconfig) as (hook, _):
        first = await hook.deliver("issue_comment", payload, delivery="ask-1")
        again = await hook.deliver("issue_comment", payload, delivery="ask-1")  # GitHub's redelivery
        assert (first.status, again.status) == (201, 200)
        name = (await first.json())["reviewjob"]
        assert (await again.json())["reviewjob"] == name == f"pr-{repo.id}-{pr}-a{asked}"
    simulate(stack, name, message)

    killed: list[Recorded] = []

    def crash_after_the_answer(recorded: Recorded) -> None:
        # The answer is created on GitHub; the controller dies before it hears so (no status written).
        if recorded.method == "POST" and recorded.path.endswith(f"/issues/{pr}/comments") and not killed:
            killed.append(recorded)
            stack.controller.kill()

    stack.double.after_request.append(crash_after_the_answer)
    stack.controller.start()
    await stack.wait(lambda: bool(killed), 60, "the answer posted and the controller killed")
    stack.double.after_request.clear()
    assert stack.get(name)["status"]["phase"] == "Running"  # it never recorded the answer
    stack.controller.start()
    status = (await stack.wait_final([name]))[name]["status"]
    assert (status["phase"], status["reason"]) == ("Succeeded", "Succeeded"), status
    [answer] = answers_on_pr(stack, repo, pr)
    assert "The cache is cleared on reload." in answer["body"] and f"job={name}" in answer["body"]
    assert status["posting"]["answerCommentId"] == answer["id"]
    assert stack.double.count("POST", f"/issues/{pr}/comments$") == 1
    assert stack.reviews_on(repo, pr) == []  # a question posts no review
    assert not any("summary" in c["body"] for c in pull.comments if c is not answer)  # nor a summary
    await stack.wait(lambda: reactions(stack, repo, pr) == [(asked, "eyes"), (asked, "rocket")], 15, "👀, 🚀")


async def test_a_reply_in_our_thread_is_answered_in_it_and_one_in_someone_elses_costs_nothing(
    stack: Stack,  # noqa: F811 - the imported fixture
    tmp_path: Path,
) -> None:
    repo, pr = stack.repos[6], 4
    message = await real_answer(tmp_path, "Yes: `load()` clears it when the file changes.")
    stack.controller.stop()
    pull = stack.double.pulls[(repo.id, pr)]
    ours = add_thread(stack.double, pull, "🟠 **high**: The cache is never invalidated.", BOT)
    asked = add_reply(stack.double, pull, ours, "This is intended: see load().")
    theirs = add_thread(stack.double, pull, "Rename this?", PERSON)
    elsewhere = add_reply(stack.double, pull, theirs, "Why?")
    async with running_webhook(stack.namespace, stack.plane.kubeconfig) as (hook, _):
        mine = await hook.deliver(
            "pull_request_review_comment", reply_on(repo, pr, asked, ours, "This is intended.")
        )
        other = await hook.deliver(
            "pull_request_review_comment", reply_on(repo, pr, elsewhere, theirs, "Why?")
        )
        assert (mine.status, other.status) == (201, 201)
        name, other_name = (await mine.json())["reviewjob"], (await other.json())["reviewjob"]
    for job in (name, other_name):
        simulate(stack, job, message)
    stack.controller.start()
    done = await stack.wait_final([name, other_name])
    assert done[name]["status"]["phase"] == "Succeeded", done[name]["status"]
    skipped = done[other_name]["status"]
    assert (skipped["phase"], skipped["reason"]) == ("Cancelled", "NotOurThread"), skipped
    created = [
        c for c in skipped.get("conditions", []) if c["type"] == "PodCreated" and c["status"] == "True"
    ]
    assert created == []  # no pod, no checkout token: nothing spent
    answers = [c for c in pull.review_comments if MARKER in c.get("body", "")]
    assert [(a["in_reply_to_id"], a["user"]["login"]) for a in answers] == [(ours, BOT["login"])]
    assert "clears it when the file changes" in answers[0]["body"]
    assert stack.reviews_on(repo, pr) == [] and pull.comments == []  # nothing on the conversation
    await stack.wait(
        lambda: (
            [r for r in reactions(stack, repo, pr) if r[0] == asked] == [(asked, "eyes"), (asked, "rocket")]
        ),
        15,
        "👀, 🚀 on the reply",
    )
    assert all(r[0] != elsewhere for r in reactions(stack, repo, pr))  # not ours to answer: no reaction

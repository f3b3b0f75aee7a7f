"""Answering questions against the GitHub double (issue 20 item 3): exactly one answer per comment,
in the thread for a reply, the thread read only when our App started it, reactions on review comments."""

from __future__ import annotations

from typing import Any

import pytest

from review_operator.api.models import ReviewJob
from review_operator.api.result import ResultOutcome, ReviewResult
from review_operator.github import fetch_thread, make_github, post_answer, react_to_review_comment
from review_operator.github.answers import answer_marker
from tests.github_double import fixtures
from tests.github_double.fixtures import World, make_job, settings_for
from tests.github_double.review_comments import COMMENT_TEMPLATE, add_reply, add_thread
from tests.github_double.server import BOT

pytestmark = pytest.mark.integration
openapi, app_key, world = fixtures.openapi, fixtures.app_key, fixtures.world

ANSWER = ReviewResult(
    outcome=ResultOutcome.SUCCESS, answer="It is cleared on reload.", turns=2, cost_usd=0.01
)
PERSON = {"login": "someone", "type": "User", "id": 77}


def question(world: World, kind: str, comment_id: int, thread_id: int | None = None) -> ReviewJob:
    """The ReviewJob the webhook records for a `/ask` (Ask) or a reply in a thread (Reply)."""
    body = make_job(world).model_dump(mode="json", by_alias=True, exclude_none=True)
    event = "pull_request_review_comment" if kind == "Reply" else "issue_comment"
    suffix = f"t{comment_id}" if kind == "Reply" else f"a{comment_id}"
    body["metadata"]["name"] = f"pr-{world.repo.id}-1-{suffix}"
    body["spec"]["trigger"] = {"event": event, "sender": "dev", "commentId": comment_id}
    q: dict[str, Any] = {"text": "Why is this cached?", "commentId": comment_id, "author": "dev"}
    if thread_id is not None:
        q["threadId"] = thread_id
    body["spec"] |= {"kind": kind, "question": q}
    return ReviewJob.model_validate(body)


def client(world: World):  # type: ignore[no-untyped-def]
    """A fresh client, as a restarted controller has: nothing remembered."""
    return make_github(settings_for(world)).for_job(make_job(world))


def answers_on_pr(world: World, job: ReviewJob) -> list[dict[str, Any]]:
    return [c for c in world.pull.comments if answer_marker(job.metadata.name) in c["body"]]


def answers_in_threads(world: World, job: ReviewJob) -> list[dict[str, Any]]:
    return [c for c in world.pull.review_comments if answer_marker(job.metadata.name) in c.get("body", "")]


async def test_an_ask_is_answered_once_on_the_pr_even_when_posted_again(world: World) -> None:
    asked = world.double.add_comment(world.pull, "/ask Why is this cached?", login="dev")
    job = question(world, "Ask", asked)
    first = await post_answer(client(world), job, ANSWER)
    again = await post_answer(client(world), job, ANSWER)
    assert first.created and not again.created and again.comment_id == first.comment_id
    [posted] = answers_on_pr(world, job)
    assert (
        "It is cleared on reload." in posted["body"] and "> @dev asked: Why is this cached?" in posted["body"]
    )
    assert posted["user"]["login"] == BOT["login"]
    assert world.double.count("POST", "/issues/1/comments$") == 1


async def test_a_poster_killed_after_the_create_finds_its_answer_and_posts_no_second(world: World) -> None:
    asked = world.double.add_comment(world.pull, "/ask Why?", login="dev")
    job = question(world, "Ask", asked)
    # The create is processed, but the answer never reaches the poster (a crash, a dropped connection):
    # it looks for its marker before trying again.
    world.double.drop_after_next("POST", "/issues/1/comments$")
    await post_answer(client(world), job, ANSWER)
    # And a restarted controller, whose status write never happened, posts again: it finds the marker.
    again = await post_answer(client(world), job, ANSWER)
    assert not again.created
    assert len(answers_on_pr(world, job)) == 1
    assert world.double.count("POST", "/issues/1/comments$") == 1


async def test_an_answer_forged_by_a_person_does_not_suppress_ours(world: World) -> None:
    asked = world.double.add_comment(world.pull, "/ask Why?", login="dev")
    job = question(world, "Ask", asked)
    world.double.add_comment(world.pull, f"fake {answer_marker(job.metadata.name)}", login="mallory")
    answer = await post_answer(client(world), job, ANSWER)
    assert answer.created and len(answers_on_pr(world, job)) == 2  # the forgery and ours


async def test_a_reply_in_our_thread_reads_the_thread_and_is_answered_in_it_once(world: World) -> None:
    pull = world.double.pulls[(world.repo.id, 1)]
    root = add_thread(world.double, pull, "🟠 **high**: The cache is never invalidated.", BOT)
    earlier = add_reply(world.double, pull, root, "Is it?", login="dev")
    asked = add_reply(world.double, pull, root, "It is cleared on reload, isn't it?", login="dev")
    add_reply(world.double, pull, root, "A later reply, not context", login="other")
    job = question(world, "Reply", asked, root)
    thread = await fetch_thread(client(world), job)
    assert thread is not None and thread.ours and (thread.path, thread.line) == ("app.py", 10)
    assert [(c.author, c.body, c.ours) for c in thread.comments] == [
        (BOT["login"], "🟠 **high**: The cache is never invalidated.", True),
        ("dev", "Is it?", False),
    ]
    assert earlier < asked
    first = await post_answer(client(world), job, ANSWER)
    world.double.drop_after_next("POST", "/replies$")  # a crash after the next create changes nothing
    again = await post_answer(client(world), job, ANSWER)
    assert first.created and not again.created
    [posted] = answers_in_threads(world, job)
    assert posted["in_reply_to_id"] == root and posted["user"]["login"] == BOT["login"]
    assert world.double.count("POST", f"/pulls/1/comments/{root}/replies$") == 1
    # What the double answered is what GitHub's description says a review comment is.
    assert world.double.openapi.validate_response("GET", COMMENT_TEMPLATE, "200", posted) == []
    reply_template = "/repos/{owner}/{repo}/pulls/{pull_number}/comments/{comment_id}/replies"
    assert world.double.openapi.validate_response("POST", reply_template, "201", posted) == []


async def test_a_thread_someone_else_started_is_not_ours_and_its_replies_are_not_read(world: World) -> None:
    pull = world.double.pulls[(world.repo.id, 1)]
    root = add_thread(world.double, pull, "Please rename this.", PERSON)
    asked = add_reply(world.double, pull, root, "Why?", login="dev")
    thread = await fetch_thread(client(world), question(world, "Reply", asked, root))
    assert thread is not None and not thread.ours and thread.comments == ()
    assert world.double.count("GET", "/pulls/1/comments$") == 0
    gone = await fetch_thread(client(world), question(world, "Reply", asked, 999_999))
    assert gone is None


async def test_a_reply_is_acknowledged_on_the_review_comment_once(world: World) -> None:
    pull = world.double.pulls[(world.repo.id, 1)]
    root = add_thread(world.double, pull, "A finding.", BOT)
    asked = add_reply(world.double, pull, root, "Why?", login="dev")
    job = question(world, "Reply", asked, root)
    for content in ("eyes", "eyes", "rocket"):
        await react_to_review_comment(client(world), job, asked, content)  # type: ignore[arg-type]
    assert [(r["comment_id"], r["content"]) for r in pull.reactions] == [(asked, "eyes"), (asked, "rocket")]
    assert world.double.count("POST", f"/pulls/comments/{asked}/reactions$") == 3

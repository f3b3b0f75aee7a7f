"""Questions in pull requests (issue 20 item 3): `/ask <question>` in a PR comment, and a reply in a
review thread. Pure decisions, like `events`: each becomes a ReviewJob of kind Ask or Reply, named
after the comment that asked, so a redelivery is a duplicate. Whether a thread is ours (its first
comment written by our App) is the controller's to check, before anything is spent: the payload does
not say who started the thread."""

from __future__ import annotations

import re

from review_operator.api.models import (
    QUESTION_MAX_CHARS,
    AuthorAssociation,
    JobKind,
    ObjectMeta,
    Question,
    Repository,
    ReviewJob,
    ReviewJobSpec,
    Trigger,
    TriggerEvent,
)
from review_operator.api.scrub import clip_token_shapes
from review_operator.builders.names import question_suffix, reviewjob_labels, reviewjob_name
from review_operator.webhook import payloads
from review_operator.webhook.decision import (
    Create,
    Decision,
    Ignore,
    Policy,
    association,
    pull_request_of,
    shown,
)

# `/ask <question>`: the question is the rest of the comment (several lines allowed).
ASK_COMMAND = re.compile(r"\s*/ask(?:\s+(?P<question>[\s\S]*))?$")


def ask(ev: payloads.IssueCommentEvent, match: re.Match[str], delivery_id: str) -> Decision:
    """A trusted `/ask` comment on a pull request (the caller checked event, repository and author)."""
    issue, comment, repo = ev.issue, ev.comment, ev.repository
    text = (match.group("question") or "").strip()
    if not text:
        return Ignore("`/ask` needs a question after it")
    trigger = Trigger(
        event=TriggerEvent.ISSUE_COMMENT,
        action=ev.action,
        delivery_id=delivery_id,
        sender=ev.sender.login,
        comment_id=comment.id,
    )
    question = Question(
        text=clip_token_shapes(text, QUESTION_MAX_CHARS), comment_id=comment.id, author=comment.user.login
    )
    pr = (issue.title, issue.body, issue.user.login, association(issue.author_association))
    return _question(repo, issue.number, pr, ev.installation, trigger, JobKind.ASK, question)


def thread_reply(ev: payloads.PullRequestReviewCommentEvent, delivery_id: str, policy: Policy) -> Decision:
    """A reply in a review thread: a question to answer in that thread. Whether the thread is ours
    (its first comment written by our App) is the controller's to check, before anything is spent:
    the payload does not say who started the thread."""
    comment, pr, repo = ev.comment, ev.pull_request, ev.repository
    if ev.action != "created":
        return Ignore(f"pull_request_review_comment action {shown(ev.action)!r} is not handled")
    if comment.in_reply_to_id is None:
        return Ignore("review comment is not a reply in a thread")
    if comment.user.type == "Bot" or comment.user.login.endswith("[bot]"):
        # Our own answers among them: answering them would never end.
        return Ignore("reply written by a bot")
    if not policy.allows(repo.full_name):
        return Ignore("repository is not in the allow-list")
    if comment.author_association.upper() not in policy.trusted:
        return Ignore(f"commenter association {shown(comment.author_association)} is not trusted")
    text = (comment.body or "").strip()
    if not text:
        return Ignore("empty reply")
    trigger = Trigger(
        event=TriggerEvent.PULL_REQUEST_REVIEW_COMMENT,
        action=ev.action,
        delivery_id=delivery_id,
        sender=ev.sender.login,
        comment_id=comment.id,
    )
    question = Question(
        text=clip_token_shapes(text, QUESTION_MAX_CHARS),
        comment_id=comment.id,
        thread_id=comment.in_reply_to_id,
        author=comment.user.login,
    )
    about = (pr.title, pr.body, pr.user.login, association(pr.author_association))
    return _question(repo, pr.number, about, ev.installation, trigger, JobKind.REPLY, question)


def _question(
    repo: payloads.RepositoryPayload,
    number: int,
    pr: tuple[str | None, str | None, str, AuthorAssociation],
    installation: payloads.Installation | None,
    trigger: Trigger,
    kind: JobKind,
    question: Question,
) -> Create:
    """A question's ReviewJob, named after the comment that asked: a redelivery is a duplicate. Its
    head, like a command's, is the PR's head when it starts."""
    title, body, author, association = pr
    spec = ReviewJobSpec(
        repository=Repository(owner=repo.owner.login, name=repo.name, id=repo.id),
        pull_request=pull_request_of(number, None, None, None, title, body, author, association, False),
        installation_id=installation.id if installation else None,
        trigger=trigger,
        kind=kind,
        question=question,
    )
    suffix = question_suffix(question.comment_id, in_thread=kind is JobKind.REPLY)
    meta = ObjectMeta(
        name=reviewjob_name(repo.id, number, None, question=suffix),
        labels=reviewjob_labels(repo.id, number, None),
    )
    return Create(job=ReviewJob(metadata=meta, spec=spec), repository_id=repo.id)

"""Pull request review comments in the GitHub double: the comments of review threads, replies in a
thread, and reactions on them. Response bodies start from the OpenAPI description's own examples.

GitHub facts kept (OpenAPI description, "Create a reply for a review comment", "Get a review comment
for a pull request", "Create reaction for a pull request review comment"): a reply answers 201 with
the new PullRequestReviewComment, its `in_reply_to_id` the thread's first comment (a reply to a
reply is a reply to the first); an unknown comment is 404; reactions answer 201 when created and 200
with the existing one when this user already left it; reading needs `pull_requests: read`, writing
`pull_requests: write`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.github_double import server as s
from tests.github_double.routes import _paged, _pull

if TYPE_CHECKING:
    from tests.github_double.openapi import Operation
    from tests.github_double.server import GitHubDouble, Grant, Pull

COMMENT_TEMPLATE = "/repos/{owner}/{repo}/pulls/comments/{comment_id}"


def review_comment_record(
    d: GitHubDouble, pull: Pull, user: dict[str, Any], body: str, **fields: Any
) -> dict[str, Any]:
    """A full PullRequestReviewComment as GitHub returns it, stored on the pull request."""
    data = d.openapi.example("GET", COMMENT_TEMPLATE, "200")
    comment_id = d.next_id()
    repo = pull.repo
    data.update(
        id=comment_id,
        body=body,
        user=dict(data["user"], **user),
        commit_id=pull.head_sha,
        original_commit_id=pull.head_sha,
        pull_request_url=f"https://api.github.com/repos/{repo.owner}/{repo.name}/pulls/{pull.number}",
        html_url=f"https://github.com/{repo.owner}/{repo.name}/pull/{pull.number}#discussion_r{comment_id}",
        url=f"https://api.github.com/repos/{repo.owner}/{repo.name}/pulls/comments/{comment_id}",
    )
    data.pop("in_reply_to_id", None)
    data.update(fields)
    pull.review_comments.append(data)
    return data


def add_thread(
    d: GitHubDouble, pull: Pull, body: str, user: dict[str, Any], path: str = "app.py", line: int = 10
) -> int:
    """A review thread's first comment (our finding when `user` is the App's bot); its id."""
    record = review_comment_record(d, pull, user, body, path=path, line=line, side="RIGHT")
    return int(record["id"])


def add_reply(d: GitHubDouble, pull: Pull, thread_id: int, body: str, login: str = "dev") -> int:
    """A person's reply in a thread (what a `pull_request_review_comment` delivery announces); its id."""
    root = _find(pull, thread_id)
    assert root is not None, thread_id
    user = {"login": login, "type": "User", "id": 4242}
    record = review_comment_record(
        d, pull, user, body, path=root.get("path"), line=root.get("line"), in_reply_to_id=thread_id
    )
    return int(record["id"])


def _find(pull: Pull, comment_id: int) -> dict[str, Any] | None:
    return next((c for c in pull.review_comments if c.get("id") == comment_id), None)


def _located(d: GitHubDouble, params: dict[str, str], grant: Grant, level: str) -> Any:
    """(pull, comment) of `comment_id` in the named repository, or the error GitHub gives."""
    repo = d.repo_for(params["owner"], params["repo"])
    if repo is None:
        return s._error(404, "Not Found")
    if not d.allowed(grant, repo, "pull_requests", level):
        in_scope = grant.repository_ids is None or repo.id in grant.repository_ids
        return s._error(403 if in_scope else 404, "Resource not accessible by integration")
    comment_id = int(params["comment_id"])
    for pull in d.pulls.values():
        if pull.repo.id == repo.id and (found := _find(pull, comment_id)) is not None:
            return pull, found
    return s._error(404, "Not Found")


async def get_review_comment(
    d: GitHubDouble, request: web.Request, op: Operation, params: dict[str, str], body: Any, grant: Grant
) -> web.Response:
    located = _located(d, params, grant, "read")
    if isinstance(located, web.Response):
        return located
    return web.json_response(located[1])


async def list_review_comments(
    d: GitHubDouble, request: web.Request, op: Operation, params: dict[str, str], body: Any, grant: Grant
) -> web.Response:
    pull = _pull(d, params, grant, "pull_requests", "read", "pull_number")
    if isinstance(pull, web.Response):
        return pull
    # Only full records: what a review created before this module existed stored is skipped.
    return _paged(request, [c for c in pull.review_comments if "id" in c])


async def create_reply(
    d: GitHubDouble, request: web.Request, op: Operation, params: dict[str, str], body: Any, grant: Grant
) -> web.Response:
    pull = _pull(d, params, grant, "pull_requests", "write", "pull_number")
    if isinstance(pull, web.Response):
        return pull
    replied = _find(pull, int(params["comment_id"]))
    if replied is None:
        return s._error(404, "Not Found")
    root_id = replied.get("in_reply_to_id") or replied["id"]
    record = review_comment_record(
        d,
        pull,
        grant.user,
        body["body"],
        path=replied.get("path"),
        line=replied.get("line"),
        in_reply_to_id=root_id,
    )
    return web.json_response(record, status=201)


async def create_review_comment_reaction(
    d: GitHubDouble, request: web.Request, op: Operation, params: dict[str, str], body: Any, grant: Grant
) -> web.Response:
    located = _located(d, params, grant, "write")
    if isinstance(located, web.Response):
        return located
    pull, comment = located
    login = grant.user["login"]
    for reaction in pull.reactions:
        if (reaction["comment_id"], reaction["content"], reaction["user"]["login"]) == (
            comment["id"],
            body["content"],
            login,
        ):
            return web.json_response({k: v for k, v in reaction.items() if k != "comment_id"})
    data = d.openapi.example("POST", op.template, "201")
    data.update(id=d.next_id(), content=body["content"], user=dict(data["user"], **grant.user))
    pull.reactions.append({**data, "comment_id": comment["id"]})
    return web.json_response(data, status=201)


ROUTES: dict[tuple[str, str], Any] = {
    ("GET", COMMENT_TEMPLATE): get_review_comment,
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/comments"): list_review_comments,
    ("POST", "/repos/{owner}/{repo}/pulls/{pull_number}/comments/{comment_id}/replies"): create_reply,
    ("POST", "/repos/{owner}/{repo}/pulls/comments/{comment_id}/reactions"): create_review_comment_reaction,
}

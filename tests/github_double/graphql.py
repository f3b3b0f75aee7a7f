"""`POST /graphql` of the GitHub double: every query is parsed and validated against GitHub's real
schema (npm `@octokit/graphql-schema`, its introspection `schema.json`) and executed with resolvers
over the double's state, so answers have GitHub's shapes.

What GitHub does and the double copies:
- A request invalid against the schema: HTTP 200 with `{"errors": [...]}` and no `data` (recorded in
  `violations`, which fails the test like an OpenAPI violation does).
- A field that fails (no access, no such node): HTTP 200, `data` with that field null, and an error
  carrying GitHub's top-level `type` (`NOT_FOUND`, `FORBIDDEN`) and `path`.
- Connections need `first` or `last` (at most 100) and page with opaque cursors and `pageInfo`.
- A Bot's `login` has no `[bot]` suffix in GraphQL (REST: `<slug>[bot]`); node ids are opaque
  strings (`PRRT_…` for a review thread), `fullDatabaseId` is the REST id as a BigInt string.
- A review thread `isOutdated` once a later commit changed the line it is anchored to; its `line` is
  then null (`originalLine` keeps the line it was written on); otherwise `line` follows the code.
- `resolveReviewThread` needs, for an App installation token, `pull_requests: write` AND
  `contents: write`; with `contents: read` GitHub answers FORBIDDEN "Resource not accessible by
  integration" (measured: github/gh-aw#35726, oven-sh/bun#40468, community discussion 44650;
  GitHub's docs list no permissions for GraphQL mutations). Resolving a resolved thread succeeds.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from graphql import (
    GraphQLError,
    GraphQLSchema,
    build_client_schema,
    execute,
    parse,
    validate,
)

from tests.github_double.git import git

if TYPE_CHECKING:
    from tests.github_double.server import GitHubDouble, Grant, Pull

SCHEMA = Path(__file__).resolve().parents[1] / "npm/node_modules/@octokit/graphql-schema/schema.json"
MAX_PAGE = 100


@functools.cache
def schema() -> GraphQLSchema:
    # assume_valid: GitHub's published schema breaks one spec rule (deprecated fields implementing
    # non-deprecated interface fields, e.g. PullRequestReviewComment.databaseId); GitHub serves it
    # as is, and queries are still validated against it in full.
    return build_client_schema(json.loads(SCHEMA.read_text()), assume_valid=True)


class FieldFailed(Exception):
    """A resolver's refusal, answered as GitHub does: an error with its `type`, the field null."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def node_id(prefix: str, number: int) -> str:
    """An opaque node id in GitHub's current format (`PRRT_kwDO…`); clients must not parse it."""
    return f"{prefix}_kwDO" + base64.urlsafe_b64encode(f"{prefix}:{number}".encode()).decode().rstrip("=")


def _cursor(index: int) -> str:
    return base64.b64encode(f"cursor:v2:{index}".encode()).decode()


def _index(cursor: str) -> int:
    try:
        return int(base64.b64decode(cursor).decode().rsplit(":", 1)[1])
    except (ValueError, IndexError) as exc:
        raise FieldFailed(
            "INVALID_CURSOR_ARGUMENTS", f"`{cursor}` does not appear to be a valid cursor."
        ) from exc


def connection(
    field: str, items: list[Any], first: int | None, after: str | None, last: int | None, before: str | None
) -> dict[str, Any]:
    if first is None and last is None:
        raise FieldFailed(
            "MISSING_PAGINATION_BOUNDARIES",
            f"You must provide a `first` or `last` value to properly paginate the `{field}` connection.",
        )
    for name, value in (("first", first), ("last", last)):
        if value is not None and value > MAX_PAGE:
            raise FieldFailed(
                "EXCESSIVE_PAGINATION",
                f"Requesting {value} records on the `{field}` connection exceeds the `{name}` limit of "
                f"{MAX_PAGE} records.",
            )
    start = _index(after) + 1 if after else 0
    end = _index(before) if before else len(items)
    window = list(range(start, min(end, len(items))))
    if first is not None:
        window = window[:first]
    if last is not None:
        window = window[-last:] if last else []
    return {
        "totalCount": len(items),
        "nodes": [items[i] for i in window],
        "edges": [{"cursor": _cursor(i), "node": items[i]} for i in window],
        "pageInfo": {
            "hasNextPage": bool(window) and window[-1] < len(items) - 1,
            "hasPreviousPage": bool(window) and window[0] > 0,
            "startCursor": _cursor(window[0]) if window else None,
            "endCursor": _cursor(window[-1]) if window else None,
        },
    }


def paged(field: str, items: Callable[[], list[Any]]) -> Callable[..., dict[str, Any]]:
    """A connection field for graphql-core's default resolver (it calls a callable with the args)."""

    def resolve(
        _info: Any,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        return connection(field, items(), first, after, last, before)

    return resolve


def actor(user: dict[str, Any]) -> dict[str, Any]:
    bot = user.get("type") == "Bot"
    login = str(user["login"])
    return {
        "__typename": "Bot" if bot else "User",
        "login": login.removesuffix("[bot]") if bot else login,
        "id": node_id("BOT" if bot else "U", int(user.get("id", 0))),
        "databaseId": user.get("id"),
        "url": f"https://github.com/{'apps/' + login.removesuffix('[bot]') if bot else login}",
        "resourcePath": f"/{login}",
        "avatarUrl": "https://avatars.githubusercontent.com/u/0",
    }


def anchored_line(bare: Path, commit: str, head: str, path: str, line: int) -> int | None:
    """Where `line` of `path` at `commit` is at `head`; None when a later commit changed (or removed)
    that line: GitHub then calls the comment outdated."""
    if commit == head:
        return line
    out = git("diff", "-U0", "--no-renames", commit, head, "--", path, cwd=bare)
    if not out:
        return line
    if re.search(r"^deleted file mode", out, re.M):
        return None
    shift = 0
    for m in re.finditer(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", out, re.M):
        old_start, old_len = int(m[1]), int(m[2] if m[2] is not None else 1)
        new_len = int(m[4] if m[4] is not None else 1)
        if old_len == 0:  # lines inserted after old_start
            shift += new_len if old_start < line else 0
        elif old_start <= line < old_start + old_len:
            return None
        elif old_start + old_len <= line:
            shift += new_len - old_len
    return line + shift


class State:
    """The double's pulls as GraphQL objects, for one request made with `grant`."""

    def __init__(self, double: GitHubDouble, grant: Grant) -> None:
        self.d = double
        self.grant = grant

    # ---- review comments and threads ------------------------------------------------------------
    @staticmethod
    def roots(pull: Pull) -> list[dict[str, Any]]:
        """Each review comment that is not a reply starts a thread."""
        return [c for c in pull.review_comments if "id" in c and not c.get("in_reply_to_id")]

    def comment(self, pull: Pull, c: dict[str, Any], line: int | None) -> dict[str, Any]:
        return {
            "__typename": "PullRequestReviewComment",
            "id": node_id("PRRC", int(c["id"])),
            "fullDatabaseId": str(c["id"]),
            "databaseId": int(c["id"]),
            "body": c["body"],
            "path": c["path"],
            "line": line,
            "originalLine": c.get("line"),
            "url": c["html_url"],
            "author": actor(c["user"]),
            "createdAt": c.get("created_at"),
        }

    def thread(self, pull: Pull, root: dict[str, Any]) -> dict[str, Any]:
        side = root.get("side", "RIGHT")
        line = (
            root.get("line")
            if side == "LEFT"
            else anchored_line(pull.repo.bare, root["commit_id"], pull.head_sha, root["path"], root["line"])
        )
        replies = [c for c in pull.review_comments if c.get("in_reply_to_id") == root["id"]]
        can_resolve = self.may_resolve(pull)
        return {
            "__typename": "PullRequestReviewThread",
            "id": node_id("PRRT", int(root["id"])),
            "isResolved": bool(root.get("_resolved")),
            "isOutdated": line is None,
            "isCollapsed": bool(root.get("_resolved")),
            "path": root["path"],
            "line": line,
            "originalLine": root.get("line"),
            "diffSide": side,
            "subjectType": "LINE",
            "viewerCanResolve": can_resolve and not root.get("_resolved"),
            "viewerCanUnresolve": can_resolve and bool(root.get("_resolved")),
            "viewerCanReply": True,
            "comments": paged("comments", lambda: [self.comment(pull, c, line) for c in [root, *replies]]),
        }

    def may_resolve(self, pull: Pull) -> bool:
        return self.d.allowed(self.grant, pull.repo, "pull_requests", "write") and self.d.allowed(
            self.grant, pull.repo, "contents", "write"
        )

    # ---- root fields -----------------------------------------------------------------------------
    def repository(self, _info: Any, owner: str, name: str, **_: Any) -> dict[str, Any]:
        repo = self.d.repo_for(owner, name)
        if repo is None or not self.d.allowed(self.grant, repo, "metadata", "read"):
            raise FieldFailed(
                "NOT_FOUND", f"Could not resolve to a Repository with the name '{owner}/{name}'."
            )

        def pull_request(_info: Any, number: int) -> dict[str, Any]:
            pull = self.d.pulls.get((repo.id, number))
            if pull is None or not self.d.allowed(self.grant, repo, "pull_requests", "read"):
                raise FieldFailed(
                    "NOT_FOUND", f"Could not resolve to a PullRequest with the number of {number}."
                )
            return {
                "__typename": "PullRequest",
                "id": node_id("PR", repo.id * 100000 + number),
                "number": number,
                "headRefOid": pull.head_sha,
                "baseRefOid": pull.base_sha,
                "reviewThreads": paged(
                    "reviewThreads", lambda: [self.thread(pull, r) for r in self.roots(pull)]
                ),
            }

        return {
            "__typename": "Repository",
            "id": node_id("R", repo.id),
            "databaseId": repo.id,
            "name": repo.name,
            "nameWithOwner": f"{repo.owner}/{repo.name}",
            "pullRequest": pull_request,
        }

    def viewer(self, _info: Any) -> dict[str, Any]:
        # An installation token has no user: GitHub answers REST `GET /user` with 403 "Resource not
        # accessible by integration" (e.g. actions/create-github-app-token#258); the double refuses
        # `viewer` the same way, so a client cannot come to rely on it in App mode.
        if self.grant.user.get("type") == "Bot":
            raise FieldFailed("FORBIDDEN", "Resource not accessible by integration")
        return actor(self.grant.user)

    def resolve_review_thread(self, _info: Any, input: dict[str, Any]) -> dict[str, Any]:
        for pull in self.d.pulls.values():
            for root in self.roots(pull):
                if node_id("PRRT", int(root["id"])) != input["threadId"]:
                    continue
                in_scope = self.grant.repository_ids is None or pull.repo.id in self.grant.repository_ids
                if not in_scope:
                    break
                if not self.may_resolve(pull):
                    raise FieldFailed("FORBIDDEN", "Resource not accessible by integration")
                root["_resolved"] = True
                root["_resolved_by"] = self.grant.user["login"]
                self.d.resolved_threads.append(input["threadId"])
                return {"clientMutationId": input.get("clientMutationId"), "thread": self.thread(pull, root)}
        raise FieldFailed(
            "NOT_FOUND", f"Could not resolve to a node with the global id of '{input['threadId']}'"
        )

    def root(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "viewer": self.viewer,
            "resolveReviewThread": self.resolve_review_thread,
        }


def _error(e: GraphQLError) -> dict[str, Any]:
    out = dict(e.formatted)
    if isinstance(e.original_error, FieldFailed):
        out["type"] = e.original_error.kind
    return out


async def handle(d: GitHubDouble, request: web.Request, body: Any, grant: Grant | None) -> web.Response:
    if grant is None:
        return web.json_response(
            {
                "message": "This endpoint requires you to be authenticated.",
                "documentation_url": "https://docs.github.com/graphql/guides/forming-calls-with-graphql#authenticating-with-graphql",
            },
            status=401,
        )
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return web.json_response({"message": "Problems parsing JSON"}, status=400)
    try:
        document = parse(body["query"])
    except GraphQLError as exc:
        d.violations.append(f"POST /graphql: {exc.message}")
        return web.json_response({"errors": [_error(exc)]})
    invalid = validate(schema(), document)
    if invalid:
        d.violations.extend(f"POST /graphql: {e.message}" for e in invalid)
        return web.json_response({"errors": [_error(e) for e in invalid]})
    result = execute(
        schema(),
        document,
        root_value=State(d, grant).root(),
        variable_values=body.get("variables"),
        operation_name=body.get("operationName"),
    )
    if result.data is None and result.errors:  # variables that do not fit the operation
        d.violations.extend(f"POST /graphql: {e.message}" for e in result.errors)
        return web.json_response({"errors": [_error(e) for e in result.errors]})
    out: dict[str, Any] = {"data": result.data}
    if result.errors:
        out["errors"] = [_error(e) for e in result.errors]
    return web.json_response(out)

"""Our earlier review threads on a pull request: read them, and resolve those a new review settles.

GitHub has no REST endpoint for review threads; both the read (`pullRequest.reviewThreads`) and the
write (`resolveReviewThread`) are GraphQL. Which threads to resolve is `thread_plan.plan_threads`
(pure); this module only asks and writes. Called by the poster after the new review exists and the
head was checked, so nothing is resolved for a review that was never posted or was superseded.
Resolving a thread twice is harmless on GitHub, so a retry or a restarted controller just does it
again (threads already resolved are skipped).

A failure here never fails the review: it comes back as a problem the summary shows. The exception
is Unauthorized (401): the credential is gone, and the poster fails closed as for every other call.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from githubkit.exception import GitHubException, GraphQLFailed

from review_operator.api.models import ReviewJob
from review_operator.github.auth import RepoClient
from review_operator.github.calls import pr_coordinates
from review_operator.github.errors import GitHubError, GitHubNotFound, Rejected, Unauthorized, translate
from review_operator.github.format import EarlierFindings, OpenThread, finding_heading, fingerprint_of
from review_operator.github.thread_plan import EarlierThread, plan_threads

log = logging.getLogger(__name__)
MAX_THREAD_PAGES = 20  # 2,000 threads: beyond that the rest stay as they are

THREADS_QUERY = """
query($owner: String!, $name: String!, $number: Int!, $cursor: String, $asUser: Boolean!) {
  viewer @include(if: $asUser) { login }
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviewThreads(first: 100, after: $cursor) {
        pageInfo { hasNextPage endCursor }
        nodes {
          id
          isResolved
          isOutdated
          path
          line
          originalLine
          comments(first: 1) {
            nodes { fullDatabaseId body url author { __typename login } }
          }
        }
      }
    }
  }
}
"""

RESOLVE_MUTATION = """
mutation($thread: ID!) {
  resolveReviewThread(input: {threadId: $thread}) { thread { id isResolved } }
}
"""


def graphql_error(exc: GraphQLFailed, operation: str) -> GitHubError:
    """GitHub answers GraphQL errors with HTTP 200 and `errors[].type`; the message names the types
    only (GitHub's messages can quote the request)."""
    types = sorted({e.type or "UNKNOWN" for e in exc.response.errors or []})
    if "NOT_FOUND" in types:
        return GitHubNotFound(f"{operation}: GitHub answered NOT_FOUND")
    return Rejected(f"{operation}: GitHub answered {', '.join(types) or 'an error'}")


async def _graphql(gh: RepoClient, operation: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    try:
        return await gh.github.async_graphql(query, variables)
    except GraphQLFailed as exc:
        raise graphql_error(exc, operation) from None
    except GitHubException as exc:
        raise translate(exc, operation) from None


async def _our_login(gh: RepoClient, viewer: str) -> str:
    """The login our comments carry in GraphQL. App mode: the App's bot account, which GraphQL names
    without REST's `[bot]` suffix. Token mode: the token's user (`viewer`)."""
    if gh.app_mode and gh.bot_login is not None:
        return (await gh.bot_login()).removesuffix("[bot]")
    return viewer


def _thread(node: dict[str, Any], ours_login: str, app_mode: bool) -> EarlierThread:
    first = ((node.get("comments") or {}).get("nodes") or [{}])[0] or {}
    author = first.get("author") or {}
    is_bot = author.get("__typename") == "Bot"
    ours = bool(author) and str(author.get("login", "")).casefold() == ours_login.casefold()
    heading = finding_heading(first.get("body"))
    return EarlierThread(
        id=str(node["id"]),
        ours=ours and (is_bot or not app_mode),
        fingerprint=fingerprint_of(first.get("body")),
        resolved=bool(node["isResolved"]),
        outdated=bool(node["isOutdated"]),
        path=str(node["path"]),
        line=node.get("line"),
        severity="" if heading is None else heading[0],
        title="" if heading is None else heading[1],
        url=str(first.get("url") or ""),
    )


async def fetch_threads(gh: RepoClient, job: ReviewJob) -> list[EarlierThread]:
    """Every review thread of the PR (up to MAX_THREAD_PAGES pages), each marked ours or not."""
    owner, repo, number = pr_coordinates(job)
    out: list[EarlierThread] = []
    cursor: str | None = None
    for _ in range(MAX_THREAD_PAGES):
        # `viewer` only with a token of a person: an App's installation token has no user behind it.
        variables = {
            "owner": owner,
            "name": repo,
            "number": number,
            "cursor": cursor,
            "asUser": not gh.app_mode,
        }
        data = await _graphql(gh, "list review threads", THREADS_QUERY, variables)
        pull = (data.get("repository") or {}).get("pullRequest")
        if pull is None:
            raise GitHubNotFound("list review threads: no such pull request")
        login = await _our_login(gh, str((data.get("viewer") or {}).get("login", "")))
        connection = pull["reviewThreads"]
        out += [_thread(n, login, gh.app_mode) for n in connection["nodes"] if n]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        cursor = connection["pageInfo"]["endCursor"]
    return out


async def resolve_thread(gh: RepoClient, thread_id: str) -> None:
    await gh.before_write()  # the content limits, then leadership: the last thing before the write
    await _graphql(gh, "resolve review thread", RESOLVE_MUTATION, {"thread": thread_id})


@dataclass(frozen=True)
class Settled:
    earlier: EarlierFindings
    resolved_ids: tuple[str, ...] = ()


async def settle_threads(
    gh: RepoClient, job: ReviewJob, reported: Iterable[str], *, incremental: bool
) -> Settled:
    """Resolves our earlier threads the new review settles; returns what the summary says about them."""
    try:
        threads = await fetch_threads(gh, job)
    except Unauthorized:
        raise
    except GitHubError as exc:
        log.warning("earlier review threads of %s not read: %s", job.metadata.name, exc)
        return Settled(EarlierFindings(problem=f"they could not be read ({exc})"))
    plan = plan_threads(threads, reported, incremental=incremental)
    carried = tuple(OpenThread(t.path, t.line, t.title, t.severity, t.url) for t in plan.carry)
    resolved, problem = await _resolve_all(gh, job, plan.resolve)
    return Settled(EarlierFindings(carried, len(resolved), problem), tuple(resolved))


async def _resolve_all(
    gh: RepoClient, job: ReviewJob, threads: Sequence[EarlierThread]
) -> tuple[list[str], str]:
    if not threads:
        return [], ""
    resolver = gh.resolver() if gh.resolver is not None else gh
    done: list[str] = []
    for t in threads:
        try:
            await resolve_thread(resolver, t.id)
        except Unauthorized:
            raise
        except GitHubError as exc:
            log.warning("resolving a review thread of %s failed: %s", job.metadata.name, exc)
            hint = "; GitHub lets an App resolve threads only with `contents: write`"
            why = f"{exc}{hint if isinstance(exc, Rejected) else ''}"
            return done, f"{len(threads) - len(done)} could not be resolved ({why})"
        done.append(t.id)
    log.info("resolved %d earlier review threads of %s", len(done), job.metadata.name)
    return done, ""

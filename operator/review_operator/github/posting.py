"""Posting a review on a pull request exactly once, plus the per-PR summary comment.

Exactly once: before any create, the poster looks for an object carrying this ReviewJob's hidden
marker; after an uncertain failure (5xx, dropped connection, timeout) it looks again before it
repeats the POST. The summary comment is one per PR, found by its marker and edited in place.
The PR head is re-checked before posting: a moved head means the review is superseded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from githubkit.utils import Unset
from githubkit_schemas.latest.models import DiffEntry
from githubkit_schemas.latest.types import (
    ReposOwnerRepoPullsPullNumberReviewsPostBodyPropCommentsItemsType as ReviewCommentBody,
)

from review_operator.api.models import ReviewJob
from review_operator.api.result import Finding, ReviewResult, Severity
from review_operator.github import checks
from review_operator.github.auth import RepoClient
from review_operator.github.calls import call, create_once, job_key, pr_coordinates
from review_operator.github.diff import diff_index, is_commentable
from review_operator.github.errors import Rejected, Transient
from review_operator.github.event import event_for, request_changes_threshold
from review_operator.github.format import (
    Provenance,
    finding_fingerprint,
    format_failure_summary,
    format_inline_comment,
    format_review_body,
    format_summary,
    has_review_marker,
    is_summary,
)
from review_operator.github.listing import body_of, first_ours, issue_comments, reviews
from review_operator.github.pulls import get_pull_head
from review_operator.github.threads import settle_threads

log = logging.getLogger(__name__)


class PostStatus(StrEnum):
    POSTED = "posted"
    ALREADY_POSTED = "already_posted"
    SUPERSEDED = "superseded"


@dataclass(frozen=True)
class PostOutcome:
    status: PostStatus
    review_id: int | None = None
    review_url: str | None = None
    summary_comment_id: int | None = None
    inline_comments: int = 0
    body_findings: int = 0
    check_run_id: int | None = None
    current_head_sha: str | None = None
    threads_resolved: int = 0  # our earlier review threads this post resolved
    threads_carried: int = 0  # our earlier review threads still open, listed in the summary
    threads_failed: bool = False  # some could not be read or resolved (the summary says why)


@dataclass(frozen=True)
class _Review:
    id: int
    html_url: str


async def _diff(gh: RepoClient, job: ReviewJob) -> dict[str, Any]:
    owner, repo, number = pr_coordinates(job)

    async def files() -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = []
        f: DiffEntry
        async for f in gh.github.rest.paginate(
            gh.github.rest.pulls.async_list_files, owner=owner, repo=repo, pull_number=number, per_page=100
        ):
            out.append((f.filename, None if isinstance(f.patch, Unset) else f.patch))
        return out

    return diff_index(await call("list pull request files", files))


async def find_review(gh: RepoClient, job: ReviewJob) -> _Review | None:
    """The review carrying this ReviewJob's marker, if one was posted (by any earlier attempt)."""
    key = job_key(job)
    found = await call(
        "list reviews", lambda: first_ours(gh, reviews(gh, job), lambda r: has_review_marker(r.body, key))
    )
    return None if found is None else _Review(found.id, found.html_url)


async def find_summary(gh: RepoClient, job: ReviewJob) -> int | None:
    """Id of the PR's summary comment (ours: in App mode, written by a bot account)."""
    found = await call(
        "list issue comments",
        lambda: first_ours(gh, issue_comments(gh, job), lambda c: is_summary(body_of(c))),
    )
    return None if found is None else int(found.id)


async def upsert_summary(gh: RepoClient, job: ReviewJob, body: str) -> int:
    """Edits the PR's summary comment in place, or creates it (once) when there is none."""
    owner, repo, number = pr_coordinates(job)
    existing = await find_summary(gh, job)
    if existing is not None:
        await gh.before_write()
        await call(
            "update summary comment",
            lambda: gh.github.rest.issues.async_update_comment(owner, repo, existing, body=body),
        )
        return existing

    async def create() -> int:
        resp = await call(
            "create summary comment",
            lambda: gh.github.rest.issues.async_create_comment(owner, repo, number, body=body),
        )
        return resp.parsed_data.id

    comment_id, _ = await create_once(gh, "summary comment", lambda: find_summary(gh, job), create)
    return comment_id


def _split(findings: list[Finding], index: dict[str, Any]) -> tuple[list[Finding], list[Finding]]:
    inline = [f for f in findings if is_commentable(index, f.path, f.side.value, f.line)]
    outside = [f for f in findings if not is_commentable(index, f.path, f.side.value, f.line)]
    return inline, outside


def provenance(job: ReviewJob, result: ReviewResult) -> Provenance:
    """The reviewed range (the push's base, when the ReviewJob has one) and the spend of every attempt:
    those recorded in status, and this one's (once: a post retried after a delay is the same attempt)."""
    attempt = max(1, job.status.attempts)
    scope = job.status.scope
    # What the runner reviewed is its result's word; why a review was full, the controller's (or the
    # runner's, when it could not have the earlier commit).
    because = result.full_reason or ("" if scope is None else scope.message)
    return Provenance(
        base_sha=job.spec.pull_request.base_sha or (None if scope is None else scope.base_sha),
        attempts=attempt,
        total_cost_usd=job.status.spend.total_with(attempt, result.cost_usd),
        since_sha=result.since_sha or None,
        full_because="" if result.since_sha else because,
    )


async def post_review(
    gh: RepoClient,
    job: ReviewJob,
    result: ReviewResult,
    *,
    head_sha: str,
    request_changes_severity: Severity | Literal["settings"] | None = "settings",
    check_run_id: int | None = None,
) -> PostOutcome:
    """Posts one review (inline comments on diff lines, the rest in the body) and the summary comment.

    Idempotent: a second call for the same ReviewJob finds the first review by its marker, posts no
    second one, and only refreshes the summary. A moved head returns SUPERSEDED and posts nothing.
    `request_changes_severity`: the bar for REQUEST_CHANGES (None: always a comment); by default the
    cluster's settings, else the repository's effective one (`builders.repo_settings`).
    With check runs on, the review's run is completed too (`check_run_id`: its id, when known).
    """
    threshold = (
        request_changes_threshold(gh.settings)
        if request_changes_severity == "settings"
        else request_changes_severity
    )
    key = job_key(job)
    review = await find_review(gh, job)
    status = PostStatus.ALREADY_POSTED
    index = await _diff(gh, job)
    inline, outside = _split(result.findings, index)
    counts = (len(inline), len(outside))
    if review is None:
        current = await get_pull_head(gh, job)
        if current != head_sha:
            log.info("head moved before posting; not posting", extra={"reviewjob": key})
            return PostOutcome(PostStatus.SUPERSEDED, current_head_sha=current)
        review, *posted = await _create_review(gh, job, result, head_sha, inline, outside, threshold)
        counts = (posted[0], posted[1])
        status = PostStatus.POSTED
        log.info("posted review", extra={"reviewjob": key, "review_id": review.id})
    elif (current := await get_pull_head(gh, job)) != head_sha:
        # Posted earlier and the PR moved on since: the summary now belongs to a newer review.
        return PostOutcome(status, review_id=review.id, review_url=review.html_url, current_head_sha=current)
    # Only now, with the review on GitHub and the head still this one: our earlier threads it settles.
    reported = [finding_fingerprint(f) for f in result.findings]
    settled = await settle_threads(gh, job, reported, incremental=bool(result.since_sha))
    summary = format_summary(
        key,
        result,
        head_sha,
        review_url=review.html_url,
        inline=counts[0],
        outside_diff=counts[1],
        provenance=provenance(job, result),
        earlier=settled.earlier,
    )
    comment_id = await upsert_summary(gh, job, summary)
    if gh.settings.check_runs:
        check_run_id = await checks.complete(gh, job, head_sha, result, check_run_id)
    return PostOutcome(
        status,
        review_id=review.id,
        review_url=review.html_url,
        summary_comment_id=comment_id,
        inline_comments=counts[0],
        body_findings=counts[1],
        check_run_id=check_run_id,
        current_head_sha=head_sha,
        threads_resolved=settled.earlier.resolved,
        threads_carried=len(settled.earlier.carried),
        threads_failed=bool(settled.earlier.problem),
    )


async def _create_review(
    gh: RepoClient,
    job: ReviewJob,
    result: ReviewResult,
    head_sha: str,
    inline: list[Finding],
    outside: list[Finding],
    threshold: Severity | None,
) -> tuple[_Review, int, int]:
    """Creates the review once; returns it with the inline and in-body finding counts actually posted."""
    owner, repo, number = pr_coordinates(job)
    key = job_key(job)
    state = {"inline": list(inline), "outside": list(outside)}

    async def create() -> _Review:
        comments: list[ReviewCommentBody] = [
            {"path": f.path, "line": f.line, "side": f.side.value, "body": format_inline_comment(f)}
            for f in state["inline"]
        ]
        body = format_review_body(key, result, head_sha, state["outside"])
        try:
            resp = await call(
                "create review",
                lambda: gh.github.rest.pulls.async_create_review(
                    owner,
                    repo,
                    number,
                    commit_id=head_sha,
                    body=body,
                    event=event_for(threshold, result.findings),
                    comments=comments,
                ),
            )
        except Rejected:
            if not state["inline"]:
                raise
            # 422 means nothing was created; GitHub disagreed about the diff, so go body-only.
            log.warning("review with inline comments rejected; retrying with all findings in the body")
            state["outside"] = state["inline"] + state["outside"]
            state["inline"] = []
            raise Transient("create review: inline comments rejected") from None
        return _Review(resp.parsed_data.id, resp.parsed_data.html_url)

    review, _ = await create_once(gh, "review", lambda: find_review(gh, job), create)
    return review, len(state["inline"]), len(state["outside"])


async def post_failure_note(
    gh: RepoClient, job: ReviewJob, phase: str, reason: str, message: str
) -> PostOutcome:
    """Writes why the review failed into the PR's summary comment (edited in place, never duplicated)."""
    key = job_key(job)
    head = job.status.head_sha or job.spec.pull_request.head_sha
    comment_id = await upsert_summary(gh, job, format_failure_summary(key, head, phase, reason, message))
    # The check run (when on) is completed by the controller's check-run bookkeeping, for every ending.
    return PostOutcome(PostStatus.POSTED, summary_comment_id=comment_id)

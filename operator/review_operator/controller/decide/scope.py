"""Whether a review covers the whole pull request or only the commits since our last review.

Pure. The engine asks GitHub two things (`engine/scope.py`): the head of our App's last review posted
on the PR, and how that commit relates to this head (the compare API's `status`); this module turns
the answers into the `ReviewScope` recorded in the ReviewJob's status and handed to the review pod.
A delta is reviewed only when the earlier head is an ancestor of this one: anything else (a force-push
that dropped it, a commit GitHub no longer has, an answer GitHub could not give) is a full review,
and the scope says why.
"""

from __future__ import annotations

from enum import StrEnum

from review_operator.api.models import ReviewJob, ReviewScope, ScopeMode


class Comparison(StrEnum):
    """How the last reviewed head relates to this one (GitHub's compare `status`, plus what else can be)."""

    AHEAD = "ahead"  # this head descends from it: the delta is reviewable
    IDENTICAL = "identical"
    BEHIND = "behind"
    DIVERGED = "diverged"
    GONE = "gone"  # 404: GitHub no longer has the earlier commit (or never had it)
    UNKNOWN = "unknown"  # GitHub could not answer now


def full_requested(job: ReviewJob) -> bool:
    """`/review full`: the whole PR, whatever was reviewed before."""
    return bool(job.spec.trigger.full)


def needs_history(job: ReviewJob, enabled: bool) -> bool:
    """Whether GitHub must be asked for our last review at all."""
    return enabled and not full_requested(job)


def _full(reason: str, message: str, base: str | None) -> ReviewScope:
    return ReviewScope(mode=ScopeMode.FULL, reason=reason, message=message, base_sha=base)


def decide_scope(
    job: ReviewJob,
    head: str,
    *,
    enabled: bool,
    base: str | None,
    last_reviewed: str | None,
    comparison: Comparison | None,
) -> ReviewScope:
    """The scope of the review of `head`. `last_reviewed`: the head of our last review posted on the PR
    (None: none); `comparison`: how it relates to `head` (None: not asked); `base`: the PR's base as
    GitHub answered, for a ReviewJob whose spec has none."""
    if not enabled:
        return _full("Disabled", "Incremental reviews are off: the whole pull request was reviewed.", base)
    if full_requested(job):
        return _full("FullRequested", "`/review full` asked for the whole pull request.", base)
    if comparison is Comparison.UNKNOWN:
        about = f"`{last_reviewed[:12]}` (our last review)" if last_reviewed else "our last review"
        message = f"GitHub could not say how {about} relates to this head."
        return _full("Unknown", message, base)
    if last_reviewed is None:
        return _full("FirstReview", "The first review of this pull request covers all of it.", base)
    short = last_reviewed[:12]
    if last_reviewed == head or comparison is Comparison.IDENTICAL:
        return _full("SameHead", f"`{short}` was reviewed before; reviewed again, all of it.", base)
    if comparison is Comparison.AHEAD:
        message = f"Incremental: only the commits since the review of `{short}`."
        return ReviewScope(
            mode=ScopeMode.INCREMENTAL,
            since=last_reviewed,
            reason="Incremental",
            message=message,
            base_sha=base,
        )
    if comparison in (Comparison.BEHIND, Comparison.DIVERGED):
        message = f"The previously reviewed commit `{short}` is not in this head's history (a force-push)."
        return _full("ForcePushed", message, base)
    if comparison is Comparison.GONE:
        message = f"The previously reviewed commit `{short}` no longer exists on GitHub."
        return _full("EarlierCommitGone", message, base)
    message = f"GitHub was not asked how `{short}` (our last review) relates to this head."
    return _full("Unknown", message, base)

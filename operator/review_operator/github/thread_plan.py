"""Which of our earlier review threads a new review resolves and which it carries over. Pure.

Input: the PR's review threads as GitHub reports them (`threads.fetch_threads`), the fingerprints of
the findings the new review reports, and whether it reviewed only the delta since our last review.

- A thread is considered only when it is ours: its first comment was written by our App and carries a
  finding marker. Anyone else's thread, or one a person started, is never touched.
- A finding the new review reports again keeps its thread open (the new review has its own comment).
- A full review saw the whole PR: every earlier open thread of ours it no longer reports is resolved.
- An incremental review saw only the delta: a thread whose anchored lines the delta changed (GitHub
  marks it outdated) and whose finding it no longer reports is resolved; a thread on lines the delta
  left alone is carried over, open, and listed in the summary so it shows every open finding.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class EarlierThread:
    """One review thread on the PR, as far as deciding its fate needs it."""

    id: str  # GraphQL node id (what resolveReviewThread takes)
    ours: bool  # the first comment is our App's
    fingerprint: str | None  # of the finding its first comment reports (None: not a finding comment)
    resolved: bool
    outdated: bool  # GitHub: a later commit changed the lines it is anchored to
    path: str
    line: int | None  # in the current diff (None when outdated)
    title: str = ""
    severity: str = ""
    url: str = ""


@dataclass(frozen=True)
class ThreadPlan:
    resolve: tuple[EarlierThread, ...]
    carry: tuple[EarlierThread, ...]


def plan_threads(
    threads: Iterable[EarlierThread], reported: Iterable[str], *, incremental: bool
) -> ThreadPlan:
    """`reported`: fingerprints of every finding of the new review (inline or in its body)."""
    again = set(reported)
    resolve: list[EarlierThread] = []
    carry: list[EarlierThread] = []
    for t in threads:
        if not t.ours or t.fingerprint is None or t.resolved or t.fingerprint in again:
            continue
        if incremental and not t.outdated:
            carry.append(t)
        else:
            resolve.append(t)
    return ThreadPlan(tuple(resolve), tuple(_unique(carry)))


def _unique(threads: Sequence[EarlierThread]) -> list[EarlierThread]:
    """One entry per finding: the same finding carried from several earlier reviews is listed once."""
    seen: set[str] = set()
    out = []
    for t in threads:
        if t.fingerprint not in seen:
            seen.add(t.fingerprint or "")
            out.append(t)
    return out

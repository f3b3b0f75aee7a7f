"""The steps the state machine asks for, and the observations the engine brings back to it.

A step is an instruction to the engine (write this status, create this pod, post this result);
an observation is a fact (what a pass saw of a ReviewJob and its pod, or what executing a step
found out: GitHub refused a token, the API server refused a pod, a post failed). Both are plain
data: every decision between them is `machine.decide`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from review_operator.api.models import Phase, ReviewJob, ReviewScope
from review_operator.api.result import ReviewResult
from review_operator.builders.question import Thread
from review_operator.builders.repo_settings import RepoReviewSettings

# -- steps ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Queue:
    """Pending → Queued: waits for a slot (admission claims it later)."""

    job: ReviewJob


@dataclass(frozen=True)
class EnsurePod:
    """Running (a claim was written), but its pod is not known to exist: check, then create it."""

    job: ReviewJob


@dataclass(frozen=True)
class CreatePod:
    """The checks before the pod passed: mint the checkout token and create the pod."""

    job: ReviewJob
    repo: RepoReviewSettings | None = None  # what the repository's configuration file decided
    scope: ReviewScope | None = None  # the whole PR or the commits since our last review (None: no GitHub)
    thread: Thread | None = None  # a reply in one of our review threads: that thread


@dataclass(frozen=True)
class Finish:
    job: ReviewJob
    phase: Phase
    reason: str
    message: str
    result: ReviewResult | None = None
    delete_pod: str | None = None
    note_on_pr: bool = True
    model_key_rejected: bool = False  # the pod ended Unauthorized from the model: the breaker opens


@dataclass(frozen=True)
class Retry:
    job: ReviewJob
    reason: str
    message: str
    not_before: datetime
    delete_pod: str | None = None
    result: ReviewResult | None = None  # what the failed attempt reported (its spend is recorded)


@dataclass(frozen=True)
class Pause:
    """Why admission is paused (the daily budget, a rejected model key): the reason and message the
    queued reviews show while they wait."""

    reason: str
    message: str


@dataclass(frozen=True)
class Hold:
    """Queued, and stays so for a reason shown on the ReviewJob (admission is paused)."""

    job: ReviewJob
    reason: str
    message: str


@dataclass(frozen=True)
class Cleanup:
    """Final, but its pod, Secret or finished label may be left from an interrupted finish."""

    job: ReviewJob


@dataclass(frozen=True)
class Post:
    job: ReviewJob
    result: ReviewResult
    pod: str | None  # None once the result is kept in status (a delayed post needs no pod)


@dataclass(frozen=True)
class DelayPost:
    """Posting failed for now: keep the result in status, let the pod and its slot go, try again
    no sooner than `not_before`."""

    job: ReviewJob
    result: ReviewResult
    message: str
    not_before: datetime
    since: datetime
    delete_pod: str | None


Step = Queue | Hold | EnsurePod | CreatePod | Finish | Retry | Post | DelayPost | Cleanup


# -- observations --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stale:
    """A review of a commit that is not the PR's head (any more)."""

    head: str  # the PR's head, or the newest head under review when GitHub is not asked
    covered: bool  # another review of that head is queued or running


@dataclass(frozen=True)
class Seen:
    """A pass saw the ReviewJob (and its pod, if any), and whether its commit is stale."""

    job: ReviewJob
    pod: dict[str, Any] | None = None
    stale: Stale | None = None
    paused: Pause | None = None  # why admission is paused for now (budget, model key), if it is


@dataclass(frozen=True)
class PodSeen:
    """A review pod changed between two passes (the fast path: only its ending matters)."""

    job: ReviewJob
    pod: dict[str, Any]


@dataclass(frozen=True)
class HeadUnresolved:
    """A `/review` command's head could not be had from GitHub when its slot was claimed."""

    job: ReviewJob


@dataclass(frozen=True)
class StartFacts:
    """Before the pod: GitHub's head of the PR (None: unknown) and the PR's other ReviewJobs."""

    job: ReviewJob
    actual_head: str | None
    siblings: list[ReviewJob] = field(default_factory=list)
    repo: RepoReviewSettings | None = None  # the repository's configuration (None without GitHub)
    skip: str | None = None  # why the configuration skips automatic reviews of this PR, if it does
    scope: ReviewScope | None = None  # full or incremental (None without GitHub: full)
    # A reply in a review thread: the thread as GitHub has it (None: no GitHub, or the thread is gone).
    thread: Thread | None = None


@dataclass(frozen=True)
class TokenRefused:
    """GitHub refused to mint the checkout token (revoked key, installation gone, repo not granted)."""

    job: ReviewJob
    message: str


@dataclass(frozen=True)
class CreateRefused:
    """The API server answered the pod create with an error (status and its own explanation)."""

    job: ReviewJob
    status: int
    detail: str
    error: Exception  # raised again when the refusal is not final (the next pass tries again)


@dataclass(frozen=True)
class PostingOff:
    """Posting is disabled (or no GitHub credentials): the result is final as it is."""

    step: Post


@dataclass(frozen=True)
class Posted:
    step: Post


@dataclass(frozen=True)
class PostMoved:
    """GitHub's head moved past the reviewed commit: nothing was posted."""

    step: Post
    current_head: str


@dataclass(frozen=True)
class PostRefused:
    """GitHub refused the posting credential (401/403 that is not a rate limit)."""

    step: Post
    message: str


@dataclass(frozen=True)
class PostFailed:
    """A post failed: `retryable` for rate limits, 5xx and dropped connections; `at` is when."""

    step: Post
    message: str
    retry_after: float | None
    retryable: bool
    at: datetime


Observation = (
    Seen
    | PodSeen
    | HeadUnresolved
    | StartFacts
    | TokenRefused
    | CreateRefused
    | PostingOff
    | Posted
    | PostMoved
    | PostRefused
    | PostFailed
)

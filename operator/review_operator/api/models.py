"""The ReviewJob API: pydantic models that are the single source of truth for the CRD schema.

Every field carries a description; it becomes the CRD's documentation (`kubectl explain rj.spec`).
Constraints declared here (patterns, bounds, enums) are enforced by the API server through the
generated structural schema, so a malformed ReviewJob is rejected before any controller sees it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

GROUP = "review-operator.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "ReviewJob"
PLURAL = "reviewjobs"
SINGULAR = "reviewjob"
SHORT_NAMES = ("rj",)

SHA_PATTERN = r"^[0-9a-f]{40}$"
# GitHub logins. A personal account's username has alphanumerics and hyphens, does not start with a
# hyphen and has at most 39 characters (new usernames also may not end with one or hold two in a row;
# older accounts can, so hyphens are not restricted further). An Enterprise Managed User is
# provisioned as IDP-USERNAME_SHORT-CODE, the shortcode being 3 to 8 alphanumerics, and the whole
# username, underscore and shortcode included, is at most 39 characters ("mona-cat_octo"; the setup
# user is "SHORT-CODE_admin"). Source: GitHub Docs, "Username considerations for external
# authentication", docs.github.com/en/enterprise-cloud@latest/admin/managing-iam/
# iam-configuration-reference/username-considerations-for-external-authentication
# (sections "About shortcodes for Enterprise Managed Users" and "About username normalization").
# App bots appear as "<app-slug>[bot]". The CRD's regular expressions (RE2) have no look-ahead, so the
# 39-character total of a managed username is spelled out per shortcode length.
_HANDLE = r"[A-Za-z0-9][A-Za-z0-9-]"
_MANAGED = "|".join(f"{_HANDLE}{{0,{37 - k}}}_[A-Za-z0-9]{{{k}}}" for k in range(3, 9))
OWNER_PATTERN = rf"^(?:{_HANDLE}{{0,38}}|{_MANAGED})$"
LOGIN_PATTERN = rf"^(?:{_HANDLE}{{0,38}}(?:\[bot\])?|{_MANAGED})$"
REPO_NAME_PATTERN = r"^[A-Za-z0-9._-]{1,100}$"
MODEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}$"
REASON_PATTERN = r"^[A-Z][A-Za-z0-9]{0,63}$"
# The PR description kept in the spec (and shown to the model): enough for any real description, small
# enough that a ReviewJob stays far below the API server's object size limit.
PR_BODY_MAX_CHARS = 8000
# A question (`/ask`, a reply in one of our review threads) and each earlier comment of its thread.
QUESTION_MAX_CHARS = 4000


class _Model(BaseModel):
    """Shared configuration: camelCase on the wire, unknown fields rejected in code as in the CRD."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, use_enum_values=False)


def rfc3339(moment: datetime) -> str:
    """A Kubernetes timestamp (`2026-12-01T10:00:00Z`) of an aware UTC datetime."""
    return moment.isoformat().replace("+00:00", "Z")


def _f(description: str, **kwargs: Any) -> Any:
    return Field(description=description, **kwargs)


class AuthorAssociation(StrEnum):
    OWNER = "OWNER"
    MEMBER = "MEMBER"
    COLLABORATOR = "COLLABORATOR"
    CONTRIBUTOR = "CONTRIBUTOR"
    FIRST_TIME_CONTRIBUTOR = "FIRST_TIME_CONTRIBUTOR"
    FIRST_TIMER = "FIRST_TIMER"
    MANNEQUIN = "MANNEQUIN"
    NONE = "NONE"


class TriggerEvent(StrEnum):
    PULL_REQUEST = "pull_request"
    ISSUE_COMMENT = "issue_comment"
    MANUAL = "manual"
    CHECK_RUN = "check_run"  # "Re-run" of our check run on GitHub
    CHECK_SUITE = "check_suite"  # "Re-run all checks" of our App's check suite
    PULL_REQUEST_REVIEW_COMMENT = "pull_request_review_comment"  # a reply in one of our review threads

    @property
    def on_request(self) -> bool:
        """Someone asked for this review (a command, a Re-run): the repository's configuration
        that skips automatic reviews does not apply."""
        return self in (
            TriggerEvent.ISSUE_COMMENT,
            TriggerEvent.CHECK_RUN,
            TriggerEvent.CHECK_SUITE,
            TriggerEvent.PULL_REQUEST_REVIEW_COMMENT,
        )


class JobKind(StrEnum):
    """What a ReviewJob produces: a review of the PR, or an answer to a question about it."""

    REVIEW = "Review"
    ASK = "Ask"  # `/ask <question>` in a PR comment: answered by a comment on the PR
    REPLY = "Reply"  # a reply in one of our review threads: answered in that thread

    @property
    def is_question(self) -> bool:
        return self is not JobKind.REVIEW


class Phase(StrEnum):
    PENDING = "Pending"
    QUEUED = "Queued"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    TIMED_OUT = "TimedOut"
    SUPERSEDED = "Superseded"
    CANCELLED = "Cancelled"

    @property
    def is_final(self) -> bool:
        return self in FINAL_PHASES


FINAL_PHASES = frozenset({Phase.SUCCEEDED, Phase.FAILED, Phase.TIMED_OUT, Phase.SUPERSEDED, Phase.CANCELLED})


class CancelReason(StrEnum):
    PULL_REQUEST_CLOSED = "PullRequestClosed"
    CONVERTED_TO_DRAFT = "ConvertedToDraft"
    CANCEL_COMMAND = "CancelCommand"
    MANUAL = "Manual"


class PostingState(StrEnum):
    NOT_STARTED = "NotStarted"
    POSTING = "Posting"
    DELAYED = "Delayed"
    POSTED = "Posted"
    SKIPPED = "Skipped"
    FAILED = "Failed"


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Repository(_Model):
    """A GitHub repository."""

    owner: Annotated[str, _f("Repository owner (user or organisation login).", pattern=OWNER_PATTERN)]
    name: Annotated[str, _f("Repository name without the owner.", pattern=REPO_NAME_PATTERN)]
    id: Annotated[int, _f("GitHub's numeric repository id; stable across renames.", ge=1)]

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


class PullRequest(_Model):
    """The pull request as GitHub described it when the review was requested."""

    number: Annotated[int, _f("Pull request number.", ge=1, le=2**31 - 1)]
    head_sha: Annotated[
        str | None,
        _f(
            "Head commit to review (40 lowercase hex). Absent for a `/review` command until the "
            "controller resolves the current head.",
            alias="headSha",
            pattern=SHA_PATTERN,
        ),
    ] = None
    base_sha: Annotated[
        str | None,
        _f("Base commit the diff is taken against.", alias="baseSha", pattern=SHA_PATTERN),
    ] = None
    base_ref: Annotated[
        str | None,
        _f("Base branch name, for display and review rules.", alias="baseRef", max_length=255),
    ] = None
    title: Annotated[str, _f("Pull request title (untrusted text).", max_length=1024)] = ""
    body: Annotated[
        str,
        _f(
            "Pull request description (untrusted text written by the PR author), token shapes scrubbed "
            "before it is cut to 8000 characters; shown to the model fenced as untrusted data.",
            max_length=PR_BODY_MAX_CHARS,
        ),
    ] = ""
    author: Annotated[str, _f("Login of the pull request's author.", pattern=LOGIN_PATTERN)]
    author_association: Annotated[
        AuthorAssociation,
        _f("The author's association with the repository, as GitHub reports it.", alias="authorAssociation"),
    ]
    draft: Annotated[bool, _f("Whether the pull request was a draft when recorded.")] = False


# How a command comment is acknowledged (GitHub reaction contents): seen, done, failed.
Reaction = Literal["eyes", "rocket", "confused"]


class Trigger(_Model):
    """The event that asked for the review."""

    event: Annotated[TriggerEvent, _f("Kind of event that asked for this review.")]
    action: Annotated[str, _f("The event's action, e.g. opened or synchronize.", max_length=64)] = ""
    delivery_id: Annotated[
        str,
        _f(
            "X-GitHub-Delivery of the webhook delivery that created this object.",
            alias="deliveryId",
            max_length=128,
        ),
    ] = ""
    sender: Annotated[str, _f("Login of the user whose action triggered the review.", pattern=LOGIN_PATTERN)]
    comment_id: Annotated[
        int | None,
        _f(
            "Id of the command's comment (`/review`, `/ask`) or of the reply in a review thread.",
            alias="commentId",
            ge=1,
        ),
    ] = None
    force: Annotated[
        bool | None,
        _f(
            "`/review force`: review even if this head was already reviewed (rate-limited per PR by "
            "the webhook)."
        ),
    ] = None
    full: Annotated[
        bool | None,
        _f(
            "`/review full`: review the whole pull request, never only the commits since our last "
            "review (forced like `/review force`)."
        ),
    ] = None


class ScopeMode(StrEnum):
    FULL = "Full"
    INCREMENTAL = "Incremental"


class ReviewScope(_Model):
    """What part of the pull request a review covers: all of it, or the commits pushed since the
    head of our last review posted on it (decided when its pod is created)."""

    mode: Annotated[ScopeMode, _f("Full: the PR's whole diff; Incremental: only `since..head`.")]
    since: Annotated[
        str | None,
        _f(
            "Incremental: the head of our last review posted on the PR (an ancestor of this head, as "
            "GitHub's compare answered).",
            pattern=SHA_PATTERN,
        ),
    ] = None
    base_sha: Annotated[
        str | None,
        _f(
            "The PR's base commit as GitHub answered when the review started (a `/review` command's "
            "spec has none).",
            alias="baseSha",
            pattern=SHA_PATTERN,
        ),
    ] = None
    reason: Annotated[
        str,
        _f(
            "Why this scope: Incremental, FirstReview, SameHead, FullRequested, ForcePushed, "
            "EarlierCommitGone, Disabled or Unknown.",
            pattern=REASON_PATTERN,
        ),
    ]
    message: Annotated[str, _f("The reason in words (shown in the PR's summary).", max_length=512)] = ""


class Overrides(_Model):
    """Per-review limits."""

    model: Annotated[str | None, _f("Claude model for this review.", pattern=MODEL_PATTERN)] = None
    max_turns: Annotated[int | None, _f("Upper bound on agent turns.", alias="maxTurns", ge=1, le=200)] = None
    max_budget_usd: Annotated[
        float | None,
        _f(
            "Upper bound on model spend for one attempt, in USD.",
            alias="maxBudgetUsd",
            gt=0,
            le=100,
        ),
    ] = None
    timeout_seconds: Annotated[
        int | None,
        _f(
            "Wall-clock limit of the agent run, in seconds.",
            alias="timeoutSeconds",
            ge=30,
            le=7200,
        ),
    ] = None


class Question(_Model):
    """A question to answer (kinds Ask and Reply): untrusted text from a trusted commenter."""

    text: Annotated[
        str,
        _f(
            "The question (untrusted text), token shapes scrubbed before it is cut to 4000 characters; "
            "shown to the model fenced as untrusted data.",
            max_length=QUESTION_MAX_CHARS,
        ),
    ]
    comment_id: Annotated[
        int,
        _f(
            "The comment that asked: an issue comment (Ask) or a pull request review comment (Reply). "
            "The answer's hidden marker names it; it is acknowledged with reactions.",
            alias="commentId",
            ge=1,
        ),
    ]
    thread_id: Annotated[
        int | None,
        _f(
            "Reply: the id of the thread's first review comment (the reply's `in_reply_to_id`); the "
            "controller answers only when our App wrote it.",
            alias="threadId",
            ge=1,
        ),
    ] = None
    author: Annotated[str, _f("Login of the commenter who asked.", pattern=LOGIN_PATTERN)]


class Cancel(_Model):
    """A request to stop the review."""

    reason: Annotated[CancelReason, _f("Why the review should stop.")]
    requested_at: Annotated[datetime, _f("When cancellation was requested.", alias="requestedAt")]
    delivery_id: Annotated[
        str, _f("Delivery that requested cancellation.", alias="deliveryId", max_length=128)
    ] = ""
    comment_id: Annotated[
        int | None,
        _f("The `/cancel` comment that asked for it (acknowledged with a reaction).", alias="commentId"),
    ] = None


class ReviewJobSpec(_Model):
    """What to review: one pull request at one head commit, and the limits of the review."""

    # The controller mints tokens and posts for the repository and installation recorded here, so a
    # spec rewritten after creation must never reach it: `api.crd` generates CEL rules that keep every
    # field as created, except these, which may go from absent to set once and then stay as they are.
    SET_ONCE_FIELDS: ClassVar[frozenset[str]] = frozenset({"cancel"})

    repository: Annotated[Repository, _f("Repository holding the pull request.")]
    pull_request: Annotated[PullRequest, _f("The pull request under review.", alias="pullRequest")]
    installation_id: Annotated[
        int | None,
        _f(
            "GitHub App installation that covers the repository (absent with a personal access token).",
            alias="installationId",
            ge=1,
        ),
    ] = None
    trigger: Annotated[Trigger, _f("What asked for this review.")]
    kind: Annotated[
        JobKind,
        _f(
            "Review: review the pull request. Ask: answer a `/ask` comment on the PR. Reply: answer a "
            "reply in one of our review threads, in that thread. Questions never supersede or cancel "
            "reviews."
        ),
    ] = JobKind.REVIEW
    question: Annotated[
        Question | None,
        _f("Kinds Ask and Reply: the question and where it was asked (absent for a review)."),
    ] = None
    overrides: Annotated[Overrides, _f("Per-review limits that replace the controller's defaults.")] = Field(
        default_factory=Overrides
    )
    cancel: Annotated[
        Cancel | None,
        _f(
            "Set to stop the review (PR closed, turned draft, or by hand). The only spec field that can "
            "change after creation, and only once: the rest of the spec is immutable."
        ),
    ] = None

    @model_validator(mode="after")
    def _question_matches_kind(self) -> ReviewJobSpec:
        if self.kind.is_question != (self.question is not None):
            raise ValueError("`question` is set exactly when `kind` is Ask or Reply")
        if (self.kind is JobKind.REPLY) != (
            self.question is not None and self.question.thread_id is not None
        ):
            raise ValueError("`question.threadId` is set exactly when `kind` is Reply")
        return self


class Condition(_Model):
    """One observation of the ReviewJob, in the Kubernetes conditions convention."""

    type: Annotated[str, _f("Condition type, e.g. Admitted, PodReady, Posted.", pattern=REASON_PATTERN)]
    status: Annotated[ConditionStatus, _f("True, False or Unknown.")]
    reason: Annotated[str, _f("Machine-readable reason in CamelCase.", pattern=REASON_PATTERN)]
    message: Annotated[str, _f("Human-readable detail.", max_length=1024)] = ""
    last_transition_time: Annotated[datetime, _f("When the status last changed.", alias="lastTransitionTime")]
    observed_generation: Annotated[
        int | None,
        _f("Spec generation the condition was computed for.", alias="observedGeneration", ge=0),
    ] = None


class Tokens(_Model):
    """Model token usage."""

    input: Annotated[int, _f("Input tokens billed.", ge=0)] = 0
    output: Annotated[int, _f("Output tokens billed.", ge=0)] = 0
    cache_read: Annotated[int, _f("Prompt-cache read tokens.", alias="cacheRead", ge=0)] = 0
    cache_creation: Annotated[int, _f("Prompt-cache write tokens.", alias="cacheCreation", ge=0)] = 0


class ResultSummary(_Model):
    """What the review produced."""

    outcome: Annotated[str, _f("Outcome class reported by the runner.", max_length=64)] = ""
    cost_usd: Annotated[
        float, _f("Model spend of the final attempt, in USD (all attempts: spend).", alias="costUsd", ge=0)
    ] = 0
    turns: Annotated[int, _f("Agent turns used.", ge=0)] = 0
    duration_ms: Annotated[int, _f("Agent wall time in milliseconds.", alias="durationMs", ge=0)] = 0
    tokens: Annotated[Tokens, _f("Token usage.")] = Field(default_factory=Tokens)
    findings: Annotated[int, _f("Findings reported.", ge=0)] = 0
    dropped: Annotated[int, _f("Findings dropped by thresholds or size limits.", ge=0)] = 0
    skipped_files: Annotated[
        int, _f("Files not reviewed (lockfiles, generated, caps).", alias="skippedFiles", ge=0)
    ] = 0
    tools_used: Annotated[dict[str, int], _f("Tool calls by tool name.", alias="toolsUsed")] = Field(
        default_factory=dict
    )


class AttemptSpend(_Model):
    """What one attempt cost (recorded once, when the attempt ends with a result)."""

    attempt: Annotated[int, _f("Attempt number (from 1).", ge=1)]
    at: Annotated[datetime | None, _f("When this attempt's spend was recorded.")] = None
    outcome: Annotated[str, _f("Outcome class reported by the runner.", max_length=64)] = ""
    cost_usd: Annotated[float, _f("Model spend of this attempt, in USD.", alias="costUsd", ge=0)] = 0
    turns: Annotated[int, _f("Agent turns used.", ge=0)] = 0
    tokens: Annotated[Tokens, _f("Token usage.")] = Field(default_factory=Tokens)


class Spend(_Model):
    """Model spend of every attempt of this review, and the totals."""

    total_cost_usd: Annotated[
        float, _f("Model spend of all attempts, in USD.", alias="totalCostUsd", ge=0)
    ] = 0
    total_tokens: Annotated[Tokens, _f("Token usage of all attempts.", alias="totalTokens")] = Field(
        default_factory=Tokens
    )
    attempts: Annotated[list[AttemptSpend], _f("Per attempt, in order.", max_length=100)] = Field(
        default_factory=list
    )

    def recorded(self, attempt: int) -> bool:
        return any(a.attempt == attempt for a in self.attempts)

    def total_with(self, attempt: int, cost_usd: float) -> float:
        """The total in USD with `attempt` costing `cost_usd`, counted once whether it was recorded
        already or not (a post retried after a delay is the same attempt)."""
        recorded = sum(a.cost_usd for a in self.attempts if a.attempt == attempt)
        return round(max(0.0, self.total_cost_usd - recorded) + cost_usd, 6)


class Posting(_Model):
    """Progress of posting the review to GitHub."""

    state: Annotated[PostingState, _f("Where posting the review stands.")] = PostingState.NOT_STARTED
    review_id: Annotated[int | None, _f("Id of the posted pull request review.", alias="reviewId")] = None
    review_url: Annotated[
        str | None, _f("Link to the posted review.", alias="reviewUrl", max_length=2048)
    ] = None
    summary_comment_id: Annotated[
        int | None, _f("Id of the PR's summary comment.", alias="summaryCommentId")
    ] = None
    answer_comment_id: Annotated[
        int | None, _f("A question's answer: the comment (or thread reply) posted.", alias="answerCommentId")
    ] = None
    answer_url: Annotated[
        str | None, _f("Link to a question's answer.", alias="answerUrl", max_length=2048)
    ] = None
    attempts: Annotated[int, _f("Posting attempts made.", ge=0)] = 0
    posted_at: Annotated[datetime | None, _f("When the review was posted.", alias="postedAt")] = None
    message: Annotated[str, _f("Why posting failed or was skipped.", max_length=1024)] = ""
    delayed_since: Annotated[
        datetime | None,
        _f("When posting first failed (giving up is measured from here).", alias="delayedSince"),
    ] = None
    next_attempt_at: Annotated[
        datetime | None, _f("Earliest time of the next posting attempt.", alias="nextAttemptAt")
    ] = None
    result: Annotated[
        str | None,
        _f(
            "The review pod's result (its termination message), kept while posting waits, so the pod "
            "and its slot can go.",
            max_length=8192,
        ),
    ] = None


class ReviewJobStatus(_Model):
    """How the review is going, written only by the controller."""

    phase: Annotated[Phase, _f("Lifecycle phase.")] = Phase.PENDING
    reason: Annotated[
        str | None,
        _f("Machine-readable reason for the phase, e.g. OOMKilled.", pattern=REASON_PATTERN),
    ] = None
    message: Annotated[str, _f("Human-readable explanation of the phase.", max_length=1024)] = ""
    conditions: Annotated[
        list[Condition],
        _f(
            "Latest observations, one per type.",
            max_length=16,
            json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
        ),
    ] = Field(default_factory=list)
    attempts: Annotated[int, _f("Pods started for this review so far.", ge=0, le=100)] = 0
    pod_name: Annotated[
        str | None, _f("Pod of the current or last attempt.", alias="podName", max_length=253)
    ] = None
    head_sha: Annotated[
        str | None,
        _f(
            "Head commit actually reviewed (resolved for commands).",
            alias="headSha",
            pattern=SHA_PATTERN,
        ),
    ] = None
    queued_at: Annotated[datetime | None, _f("When the review entered the queue.", alias="queuedAt")] = None
    start_time: Annotated[
        datetime | None, _f("When the current attempt's pod was created.", alias="startTime")
    ] = None
    completion_time: Annotated[
        datetime | None, _f("When the review reached a final phase.", alias="completionTime")
    ] = None
    next_attempt_at: Annotated[
        datetime | None, _f("Earliest time of the next retry.", alias="nextAttemptAt")
    ] = None
    result: Annotated[ResultSummary | None, _f("What the review produced.")] = None
    scope: Annotated[
        ReviewScope | None,
        _f("What the current attempt reviews: the whole PR or the commits since our last review."),
    ] = None
    spend: Annotated[Spend, _f("Model spend per attempt and in total.")] = Field(default_factory=Spend)
    posting: Annotated[Posting, _f("Posting state.")] = Field(default_factory=Posting)
    observed_generation: Annotated[
        int | None, _f("Spec generation last acted on.", alias="observedGeneration", ge=0)
    ] = None


class ObjectMeta(BaseModel):
    """The subset of metadata the code reads; the rest (managedFields, owners, …) is dropped on read,
    which keeps a controller holding thousands of ReviewJobs small."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    name: str = ""
    namespace: str = ""
    uid: str = ""
    generation: int = 0
    resource_version: str = Field(default="", alias="resourceVersion")
    creation_timestamp: datetime | None = Field(default=None, alias="creationTimestamp")
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class ReviewJob(BaseModel):
    """A request to review one pull request at one head commit."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    api_version: str = Field(default=API_VERSION, alias="apiVersion")
    kind: str = KIND
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: ReviewJobSpec
    status: ReviewJobStatus = Field(default_factory=ReviewJobStatus)

    def to_manifest(self) -> dict[str, Any]:
        """The object as the API server expects it (camelCase, no unset optionals)."""
        body: dict[str, Any] = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        return body


class _StatusWrite(BaseModel):
    model_config = ConfigDict(extra="ignore")

    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    status: ReviewJobStatus = Field(default_factory=ReviewJobStatus)


def after_status_write(before: ReviewJob, answer: bytes) -> ReviewJob:
    """The ReviewJob as stored after a status write that was conditional on `before`'s version.

    Such a write succeeds only if nothing changed since `before` was read, and a write to the status
    subresource changes only status and metadata: the answer's spec is `before.spec`, shared rather
    than validated again (a controller holding thousands of ReviewJobs then keeps one copy of each).
    """
    if not before.metadata.resource_version:
        return ReviewJob.model_validate_json(answer)
    written = _StatusWrite.model_validate_json(answer)
    return before.model_copy(update={"metadata": written.metadata, "status": written.status})

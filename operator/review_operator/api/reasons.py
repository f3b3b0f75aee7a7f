"""The one vocabulary of machine-readable reasons the controller writes to `status.reason`.

Classification, planning, events and metric labels all draw from this enum, so a reason cannot be
set that the metrics do not know. A cancellation's reason is the ReviewJob's `spec.cancel.reason`,
so every `CancelReason` is also a `Reason` (a test holds the two together).
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    SUCCEEDED = "Succeeded"
    OOM_KILLED = "OOMKilled"
    DEADLINE_EXCEEDED = "DeadlineExceeded"
    UNSCHEDULABLE = "Unschedulable"
    EVICTED = "Evicted"
    STORAGE_EXCEEDED = "EphemeralStorageExceeded"
    NODE_LOST = "NodeLost"
    RATE_LIMITED = "RateLimited"
    UNAUTHORIZED = "Unauthorized"
    AGENT_ERROR = "AgentError"
    AGENT_TIMEOUT = "AgentTimeout"
    MAX_TURNS = "MaxTurns"
    BUDGET_EXCEEDED = "BudgetExceeded"
    CHECKOUT_FAILED = "CheckoutFailed"
    CLI_MISSING = "CliMissing"
    RESULT_UNREADABLE = "ResultUnreadable"
    CONTAINER_FAILED = "ContainerFailed"
    RUNNING_DEADLINE = "RunningDeadlineExceeded"
    SUPERSEDED = "NewerCommit"
    HEAD_MOVED = "HeadMoved"
    ALREADY_REVIEWED = "AlreadyReviewed"
    SKIPPED_BY_CONFIG = "SkippedByConfig"
    PULL_REQUEST_CLOSED = "PullRequestClosed"
    CONVERTED_TO_DRAFT = "ConvertedToDraft"
    CANCEL_COMMAND = "CancelCommand"
    MANUAL = "Manual"
    CANCELLED = "Cancelled"
    RETRIES_EXHAUSTED = "RetriesExhausted"
    POSTING_FAILED = "PostingFailed"
    HEAD_UNRESOLVED = "HeadUnresolved"
    POSTING_DELAYED = "PostingDelayed"
    POD_REJECTED = "PodRejected"
    POD_CREATE_FAILED = "PodCreateFailed"
    NOT_OUR_THREAD = "NotOurThread"  # a reply in a review thread our App did not start: not answered
    NO_ANSWER = "NoAnswer"  # a question's pod succeeded with an empty answer

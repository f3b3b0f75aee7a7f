"""The review result: what the runner writes to the termination message and the controller reads.

The wire form is compact JSON, at most `MAX_MESSAGE_BYTES` (the kubelet's termination-message cap).
When the JSON is too large it is gzipped and base64-encoded behind the `gz:` prefix; when even that
does not fit, the lowest-severity findings are dropped first and counted in `dropped`.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

RESULT_VERSION = 1
MAX_MESSAGE_BYTES = 4096
# An answer to a question (`/ask`, a reply in our review thread): a few paragraphs, and small enough
# that a result holding one still fits the termination message (gzip absorbs the rest).
ANSWER_MAX_CHARS = 3000
GZIP_PREFIX = "gz:"


class ResultOutcome(StrEnum):
    """How the agent run ended; the controller maps each class to a phase and a retry policy."""

    SUCCESS = "success"
    AGENT_ERROR = "agent_error"
    MAX_TURNS = "max_turns"
    BUDGET_EXCEEDED = "budget_exceeded"
    RATE_LIMITED = "rate_limited"
    UNAUTHORIZED = "unauthorized"
    TIMEOUT = "timeout"
    CHECKOUT_FAILED = "checkout_failed"
    # The image has no usable Claude Code CLI: a deployment fault that no retry heals.
    CLI_MISSING = "cli_missing"


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    NIT = "nit"

    @property
    def rank(self) -> int:
        """Higher is more severe."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {
    Severity.NIT: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}


class Side(StrEnum):
    RIGHT = "RIGHT"
    LEFT = "LEFT"


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Finding(_Wire):
    path: Annotated[str, Field(min_length=1, max_length=1024)]
    line: Annotated[int, Field(ge=1)]
    side: Side = Side.RIGHT
    severity: Severity = Severity.MEDIUM
    confidence: Annotated[float, Field(ge=0, le=1)] = 0.5
    title: Annotated[str, Field(max_length=200)] = ""
    body: Annotated[str, Field(max_length=4000)] = ""
    suggestion: Annotated[str | None, Field(max_length=4000)] = None


class TokenUsage(_Wire):
    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_creation: int = 0


class ReviewResult(_Wire):
    v: int = RESULT_VERSION
    outcome: ResultOutcome
    summary: Annotated[str, Field(max_length=8000)] = ""
    findings: list[Finding] = Field(default_factory=list)
    cost_usd: Annotated[float, Field(ge=0)] = 0.0
    turns: Annotated[int, Field(ge=0)] = 0
    duration_ms: Annotated[int, Field(ge=0)] = 0
    tokens: TokenUsage = Field(default_factory=TokenUsage)
    dropped: Annotated[int, Field(ge=0)] = 0
    skipped: Annotated[int, Field(ge=0)] = 0
    skipped_files: list[str] = Field(default_factory=list)
    reviewed_files: Annotated[int, Field(ge=0)] = 0  # files whose diff the model was given
    model: Annotated[str, Field(max_length=128)] = ""  # the model the runner asked for
    tools: dict[str, int] = Field(default_factory=dict)
    denied: Annotated[int, Field(ge=0)] = 0
    error: Annotated[str, Field(max_length=1000)] = ""
    retry_after_s: Annotated[float | None, Field(ge=0)] = None
    # A digest, never the text: what the model was asked can be matched later against the prompts
    # that a runner version produces, while the audit log holds no PR-authored text.
    prompt_sha256: Annotated[str, Field(pattern=r"^(?:[0-9a-f]{64})?$")] = ""
    # Incremental review: the commit the reviewed diff started from (`git diff since head`); empty for a
    # full review. `full_reason`: why the runner reviewed the whole PR although asked for a delta.
    since_sha: Annotated[str, Field(pattern=r"^(?:[0-9a-f]{40})?$")] = ""
    full_reason: Annotated[str, Field(max_length=300)] = ""
    # Answer mode (a question, not a review): the answer to post; empty for a review.
    answer: Annotated[str, Field(max_length=ANSWER_MAX_CHARS)] = ""


def prompt_digest(system: str, user: str) -> str:
    """sha256 of the exact prompts sent (system, then the first user message), framed as a JSON pair
    so that no split of the same characters between the two gives the same digest."""
    framed = json.dumps([system, user], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(framed.encode()).hexdigest()


def result_digest(result: ReviewResult) -> str:
    """sha256 of the result as `encode_result` writes it (the form kept in `status.posting`)."""
    return hashlib.sha256(encode_result(result).encode()).hexdigest()


class ResultDecodeError(ValueError):
    """The termination message is missing, not our format, or fails validation."""


def _compact(result: ReviewResult) -> str:
    data: dict[str, Any] = result.model_dump(mode="json", exclude_defaults=True)
    data["v"] = result.v
    data["outcome"] = result.outcome.value
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def _fit(text: str) -> str | None:
    if len(text.encode()) <= MAX_MESSAGE_BYTES:
        return text
    packed = GZIP_PREFIX + base64.b64encode(gzip.compress(text.encode(), mtime=0)).decode()
    return packed if len(packed) <= MAX_MESSAGE_BYTES else None


def encode_result(result: ReviewResult) -> str:
    """Serialises a result so it fits the termination message, dropping the least severe findings."""
    current = result
    while True:
        fitted = _fit(_compact(current))
        if fitted is not None:
            return fitted
        if current.findings:
            ranked = sorted(current.findings, key=lambda f: (f.severity.rank, f.confidence))
            keep = [f for f in current.findings if f is not ranked[0]]
            current = current.model_copy(update={"findings": keep, "dropped": current.dropped + 1})
        elif len(current.summary) > 200:
            current = current.model_copy(
                update={"summary": current.summary[: len(current.summary) // 2] + "…"}
            )
        elif len(current.answer) > 200:
            current = current.model_copy(update={"answer": current.answer[: len(current.answer) // 2] + "…"})
        elif current.skipped_files:
            current = current.model_copy(update={"skipped_files": []})
        else:
            current = current.model_copy(update={"error": current.error[:200], "tools": {}})
            fitted = _fit(_compact(current))
            if fitted is None:  # pragma: no cover - bounded fields make this unreachable
                raise ValueError("result cannot fit the termination message")
            return fitted


def decode_result(message: str | None) -> ReviewResult:
    """Parses a termination message; raises ResultDecodeError for anything that is not a valid result."""
    if not message or not message.strip():
        raise ResultDecodeError("empty termination message")
    text = message.strip()
    try:
        if text.startswith(GZIP_PREFIX):
            text = gzip.decompress(base64.b64decode(text[len(GZIP_PREFIX) :], validate=True)).decode()
        data = json.loads(text)
    except (ValueError, OSError, EOFError) as exc:
        raise ResultDecodeError(f"termination message is not a result: {type(exc).__name__}") from exc
    if not isinstance(data, dict) or data.get("v") != RESULT_VERSION:
        raise ResultDecodeError("termination message has no supported result version")
    try:
        return ReviewResult.model_validate(data)
    except ValidationError as exc:
        raise ResultDecodeError(f"invalid result: {exc.error_count()} validation errors") from exc

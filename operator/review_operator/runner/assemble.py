"""Turns what the run produced into the ReviewResult the controller reads. Pure functions."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from review_operator.api.result import Finding, ResultOutcome, ReviewResult, Severity, TokenUsage
from review_operator.api.scrub import Scrubber
from review_operator.runner.diff import Selection
from review_operator.runner.outcome import Classified, classify_result
from review_operator.runner.review import (
    AgentOutputError,
    filter_findings,
    parse_agent_output,
    summary_with_outside,
)

MAX_SKIPPED_LISTED = 50


@dataclass(frozen=True)
class Limits:
    min_severity: Severity
    min_confidence: float
    max_findings: int


@dataclass(frozen=True)
class RunFacts:
    """The CLI's final ResultMessage, flattened (None fields when the run never got that far)."""

    subtype: str | None = None
    is_error: bool = False
    api_error_status: int | None = None
    errors: list[str] | None = None
    text: str | None = None
    structured: Any = None
    cost_usd: float = 0.0
    turns: int = 0
    usage: dict[str, Any] | None = None


def tokens(usage: dict[str, Any] | None) -> TokenUsage:
    u = usage or {}

    def n(key: str) -> int:
        value = u.get(key, 0)
        return int(value) if isinstance(value, int | float) else 0

    return TokenUsage(
        input=n("input_tokens"),
        output=n("output_tokens"),
        cache_read=n("cache_read_input_tokens"),
        cache_creation=n("cache_creation_input_tokens"),
    )


def _audit_line(tools: dict[str, int], denied: int) -> str:
    if not tools and not denied:
        return ""
    used = ", ".join(f"{name}×{count}" for name, count in sorted(tools.items()))
    line = f"Tools used: {used or 'none'}."
    if denied:
        line += f" The tool guard denied {denied} call(s) outside the checkout."
    return line


def _skipped_line(selection: Selection) -> str:
    if not selection.skipped:
        return ""
    reasons = Counter(reason for _, reason in selection.skipped)
    detail = ", ".join(f"{reason}: {count}" for reason, count in sorted(reasons.items()))
    reviewed, skipped = len(selection.reviewed), len(selection.skipped)
    return f"Reviewed {reviewed} file(s). Not reviewed: {skipped} file(s) ({detail})."


def assemble(
    facts: RunFacts,
    *,
    stopped: Classified | None,
    selection: Selection,
    limits: Limits,
    tools: dict[str, int],
    denied: int,
    duration_ms: int,
    retry_after_s: float | None,
    scrubber: Scrubber,
    prompt_sha256: str = "",
    model: str = "",
) -> ReviewResult:
    """Classifies the run and, when it succeeded, parses and filters the review.

    Every free text is scrubbed before a length limit cuts it (a cut secret no longer matches).
    """
    if stopped is not None:
        verdict = stopped
    elif facts.subtype is None:
        verdict = Classified(ResultOutcome.AGENT_ERROR, "the CLI ended without a result")
    else:
        verdict = classify_result(
            subtype=facts.subtype,
            is_error=facts.is_error,
            api_error_status=facts.api_error_status,
            errors=facts.errors,
            text=facts.text,
        )
    summary, findings, dropped = "", list[Finding](), 0
    outcome, error = verdict.outcome, verdict.error
    if outcome is ResultOutcome.SUCCESS:
        try:
            review = parse_agent_output(facts.text, facts.structured, clean=scrubber.scrub)
        except AgentOutputError as exc:
            outcome, error = ResultOutcome.AGENT_ERROR, f"unusable final answer: {exc}"
        else:
            kept = filter_findings(
                review.findings,
                commentable=selection.commentable,
                min_severity=limits.min_severity,
                min_confidence=limits.min_confidence,
                max_findings=limits.max_findings,
            )
            summary = summary_with_outside(review.summary, kept.outside_diff)
            findings, dropped = kept.inline, kept.dropped + review.invalid
    for extra in (_skipped_line(selection), _audit_line(tools, denied)):
        summary = f"{summary}\n\n{extra}".strip() if extra else summary
    return ReviewResult(
        outcome=outcome,
        summary=scrubber.clip(summary, 8000),
        findings=findings,
        cost_usd=max(facts.cost_usd, 0.0),
        turns=facts.turns,
        duration_ms=duration_ms,
        tokens=tokens(facts.usage),
        dropped=dropped,
        skipped=len(selection.skipped),
        skipped_files=[p for p, _ in selection.skipped[:MAX_SKIPPED_LISTED]],
        reviewed_files=len(selection.reviewed),
        model=model[:128],
        tools=dict(tools),
        denied=denied,
        error=scrubber.clip(error, 1000),
        retry_after_s=retry_after_s if outcome is ResultOutcome.RATE_LIMITED else None,
        prompt_sha256=prompt_sha256,
    )


def scrub_result(result: ReviewResult, scrubber: Scrubber) -> ReviewResult:
    """Every free text of the result, scrubbed and clipped back to its field limit (a second pass:
    `assemble` already scrubbed before cutting; results built elsewhere get their first pass here)."""

    def s(text: str, limit: int) -> str:
        return scrubber.clip(text, limit)

    findings = [
        f.model_copy(
            update={
                "path": s(f.path, 1024),
                "title": s(f.title, 200),
                "body": s(f.body, 4000),
                "suggestion": None if f.suggestion is None else s(f.suggestion, 4000),
            }
        )
        for f in result.findings
    ]
    return result.model_copy(
        update={
            "summary": s(result.summary, 8000),
            "error": s(result.error, 1000),
            "findings": findings,
            "skipped_files": [s(p, 1024) for p in result.skipped_files],
        }
    )

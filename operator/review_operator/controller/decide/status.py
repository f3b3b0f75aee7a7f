"""Pure builders of ReviewJob status patches (merge patches of the status subresource).

Each patch is a `ReviewJobStatus` holding only the fields it sets, dumped with `exclude_unset`: the
wire names and value formats come from the model, and a field set to None is sent as null, which a
merge patch reads as "remove".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from review_operator.api.models import (
    AttemptSpend,
    Condition,
    ConditionStatus,
    Phase,
    Posting,
    PostingState,
    ResultSummary,
    ReviewJob,
    ReviewJobStatus,
    ReviewScope,
    Spend,
    Tokens,
    rfc3339,
)
from review_operator.api.result import ReviewResult, encode_result
from review_operator.api.scrub import clip_token_shapes


def conditions_with(
    job: ReviewJob, type_: str, status: bool, reason: str, message: str, now: datetime
) -> list[dict[str, Any]]:
    """The full conditions list with one condition set (lastTransitionTime moves only on change)."""
    new_status = ConditionStatus.TRUE if status else ConditionStatus.FALSE
    out: list[dict[str, Any]] = []
    found = False
    for cond in job.status.conditions:
        if cond.type == type_:
            found = True
            moved = cond.status != new_status
            cond = Condition(
                type=type_,
                status=new_status,
                reason=reason,
                message=clip_token_shapes(message, 1024),
                last_transition_time=now if moved else cond.last_transition_time,
                observed_generation=job.metadata.generation or None,
            )
        out.append(cond.model_dump(mode="json", by_alias=True, exclude_none=True))
    if not found:
        out.append(
            Condition(
                type=type_,
                status=new_status,
                reason=reason,
                message=clip_token_shapes(message, 1024),
                last_transition_time=now,
                observed_generation=job.metadata.generation or None,
            ).model_dump(mode="json", by_alias=True, exclude_none=True)
        )
    return out


def _patch(**fields: Any) -> dict[str, Any]:
    """The merge patch setting exactly `fields` (snake_case names, as on `ReviewJobStatus`)."""
    patch: dict[str, Any] = ReviewJobStatus(**fields).model_dump(
        mode="json", by_alias=True, exclude_unset=True
    )
    return patch


def queued(job: ReviewJob, now: datetime) -> dict[str, Any]:
    return _patch(
        phase=Phase.QUEUED,
        queued_at=now,
        message="Waiting for a free review slot.",
        observed_generation=job.metadata.generation,
        conditions=conditions_with(job, "Admitted", False, "Queued", "Waiting for a free review slot.", now),
    )


def held(job: ReviewJob, reason: str, message: str, now: datetime) -> dict[str, Any]:
    """Still Queued, and why it does not start (the reason shows on `kubectl get rj`)."""
    return _patch(
        reason=reason,
        message=clip_token_shapes(message, 1024),
        conditions=conditions_with(job, "Admitted", False, reason, message, now),
    )


def claimed(job: ReviewJob, attempt: int, pod: str, head_sha: str, now: datetime) -> dict[str, Any]:
    """Running: the slot is taken before the pod exists, so limits hold across crashes."""
    conditions = conditions_with(job, "Admitted", True, "SlotAssigned", f"Attempt {attempt} admitted.", now)
    interim = job.model_copy(deep=True)
    interim.status.conditions = [Condition.model_validate(c) for c in conditions]
    conditions = conditions_with(interim, "PodCreated", False, "Creating", f"Creating pod {pod}.", now)
    return _patch(
        phase=Phase.RUNNING,
        reason=None,
        message=f"Attempt {attempt} starting.",
        attempts=attempt,
        pod_name=pod,
        head_sha=head_sha,
        start_time=now,
        next_attempt_at=None,
        conditions=conditions,
    )


def pod_created(job: ReviewJob, pod: str, now: datetime, scope: ReviewScope | None = None) -> dict[str, Any]:
    """The pod exists; `scope`: what it reviews (recorded per attempt: a retry decides it again)."""
    conditions = conditions_with(job, "PodCreated", True, "Created", f"Pod {pod} created.", now)
    patch = _patch(conditions=conditions)
    if scope is not None:
        # Every field, absent ones as null: a merge patch must not keep an earlier attempt's `since`.
        patch["scope"] = scope.model_dump(mode="json", by_alias=True)
    return patch


def retrying(
    job: ReviewJob,
    reason: str,
    message: str,
    not_before: datetime,
    now: datetime,
    result: ReviewResult | None = None,
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "phase": Phase.QUEUED,
        "reason": reason,
        "message": clip_token_shapes(f"{message} Retrying after {rfc3339(not_before)}.", 1024),
        "next_attempt_at": not_before,
        "pod_name": None,
        "conditions": conditions_with(job, "PodCreated", False, reason, message, now),
    }
    if (spend := spent(job, result, now)) is not None:
        fields["spend"] = spend
    return _patch(**fields)


def _tokens(result: ReviewResult) -> Tokens:
    t = result.tokens
    return Tokens(input=t.input, output=t.output, cache_read=t.cache_read, cache_creation=t.cache_creation)


def spent(job: ReviewJob, result: ReviewResult | None, now: datetime | None = None) -> Spend | None:
    """The job's spend with its current attempt's result added; None when there is nothing new (no
    result, or this attempt was recorded already: a post retried after a delay is the same attempt)."""
    attempt = max(1, job.status.attempts)
    spend = job.status.spend
    if result is None or spend.recorded(attempt):
        return None
    tokens = _tokens(result)
    entry = AttemptSpend(
        attempt=attempt,
        at=now,
        outcome=result.outcome.value,
        cost_usd=round(result.cost_usd, 6),
        turns=result.turns,
        tokens=tokens,
    )
    total = spend.total_tokens
    return Spend(
        total_cost_usd=spend.total_with(attempt, result.cost_usd),
        total_tokens=Tokens(
            input=total.input + tokens.input,
            output=total.output + tokens.output,
            cache_read=total.cache_read + tokens.cache_read,
            cache_creation=total.cache_creation + tokens.cache_creation,
        ),
        attempts=[*spend.attempts, entry][-100:],
    )


def result_summary(result: ReviewResult) -> ResultSummary:
    return ResultSummary(
        outcome=result.outcome.value,
        cost_usd=round(result.cost_usd, 6),
        turns=result.turns,
        duration_ms=result.duration_ms,
        tokens=_tokens(result),
        findings=len(result.findings),
        dropped=result.dropped,
        skipped_files=result.skipped,
        tools_used=dict(list(result.tools.items())[:20]),
    )


def finished(
    job: ReviewJob, phase: Phase, reason: str, message: str, result: ReviewResult | None, now: datetime
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "phase": phase,
        "reason": reason,
        "message": clip_token_shapes(message, 1024),
        "completion_time": now,
        "next_attempt_at": None,
        "conditions": conditions_with(job, "Finished", True, reason, message, now),
    }
    if result is not None:
        fields["result"] = result_summary(result)
    if (spend := spent(job, result, now)) is not None:
        fields["spend"] = spend
    return _patch(**fields)


def posting_delayed(
    job: ReviewJob,
    result: ReviewResult,
    reason: str,
    message: str,
    attempts: int,
    since: datetime,
    not_before: datetime,
    now: datetime,
) -> dict[str, Any]:
    """Still Running, but the result is kept here and the pod is let go: waiting for GitHub holds
    no slot."""
    text = clip_token_shapes(f"{message} Posting again after {rfc3339(not_before)}.", 1024)
    fields: dict[str, Any] = {
        "reason": reason,
        "message": text,
        "pod_name": None,
        "result": result_summary(result),
        "posting": Posting(
            state=PostingState.DELAYED,
            attempts=attempts,
            message=text,
            delayed_since=since,
            next_attempt_at=not_before,
            result=encode_result(result),
        ),
        "conditions": conditions_with(job, "Posted", False, reason, message, now),
    }
    if (spend := spent(job, result, now)) is not None:
        fields["spend"] = spend
    return _patch(**fields)

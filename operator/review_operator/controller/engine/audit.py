"""The audit line of a finished review: who asked, for what, at what cost, and digests of what the
model was asked and what it answered.

Digests, never contents: the prompts carry the PR author's text and the result the model's, and
neither belongs in a log that is kept longer and read more widely than ReviewJobs. A digest still
ties the line to a prompt a runner version reproduces and to the result kept in `status.posting`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from review_operator.api.models import ReviewJob
from review_operator.api.result import result_digest
from review_operator.builders.pod import effective_limits
from review_operator.config import ControllerSettings
from review_operator.controller.decide.heads import job_head
from review_operator.controller.decide.steps import Finish

audit_log = logging.getLogger("review_operator.audit")


def audit_record(job: ReviewJob, step: Finish, settings: ControllerSettings) -> dict[str, Any]:
    """The audit record of `job` as `step` finished it (`job` carries the final status)."""
    result = step.result
    trigger = job.spec.trigger
    return {
        "event": "review_finished",
        "reviewjob": job.metadata.name,
        "sender": trigger.sender,
        "trigger_event": trigger.event.value,
        "delivery_id": trigger.delivery_id,
        "repository": job.spec.repository.full_name,
        "pr": job.spec.pull_request.number,
        "sha": job_head(job),
        "model": effective_limits(job, settings).model,
        "attempts": job.status.attempts,
        "outcome": step.phase.value,
        "reason": step.reason,
        "cost_usd": job.status.spend.total_cost_usd,
        "attempt_costs_usd": [a.cost_usd for a in job.status.spend.attempts],
        "turns": result.turns if result else 0,
        "tokens": result.tokens.model_dump() if result else {},
        "tools": result.tools if result else {},
        "prompt_sha256": result.prompt_sha256 if result else "",
        "result_sha256": result_digest(result) if result else "",
    }


def audit(job: ReviewJob, step: Finish, settings: ControllerSettings) -> None:
    """Writes the record as one JSON line to the `review_operator.audit` logger."""
    audit_log.info(json.dumps(audit_record(job, step, settings), sort_keys=True))

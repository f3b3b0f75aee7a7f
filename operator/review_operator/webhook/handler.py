"""`POST /webhook/github`: verify, decide, execute, answer honestly, log one line.

Order matters: a request whose declared size is over the cap (413) or whose signature header is
not even well formed (401) is refused before its body is read; the body is read under the bounds
of `intake` (deadline → 408, shared byte budget → 503) while its HMAC is computed; the signature is
checked over the raw bytes before anything is parsed, and 2xx is answered only after the API
server recorded the ReviewJob. Refusals with an unread or half-read body close the connection.
Every failure the sender can cause is a 4xx; only the API server's failures and a full budget
give 503.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from review_operator.api.models import JobKind, ReviewJob, TriggerEvent
from review_operator.builders.names import head_selector, pull_request_selector
from review_operator.k8s.errors import AlreadyExists, Conflict, Invalid, KubeError, NotFound
from review_operator.metrics import DeliveryOutcome, WebhookEvent
from review_operator.webhook import events, intake
from review_operator.webhook.cancel import cancel_pull_request
from review_operator.webhook.forwarded import forwarded_client
from review_operator.webhook.signature import Verifier, well_formed
from review_operator.webhook.state import WEBHOOK, Webhook

log = logging.getLogger("review_operator.webhook")
_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")  # a ReviewJob name (a check run's external id)


@dataclass
class _Answer:
    status: int
    outcome: DeliveryOutcome
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    close: bool = False  # drop the connection: its body was not (fully) read


async def _repeated_command(hook: Webhook, decision: events.Create) -> _Answer | None:
    """A `/review` answered by the one already waiting or running, or a forced review (`/review
    force`, a GitHub Re-run) too soon after the last one on the PR."""
    job = decision.job
    listed = await hook.jobs.list(
        pull_request_selector(decision.repository_id, job.spec.pull_request.number), hook.timeout
    )
    siblings = []
    for manifest in listed:
        try:
            siblings.append(ReviewJob.model_validate(manifest))
        except ValidationError:
            continue  # a malformed ReviewJob cannot stand for this command
    verdict = events.command_verdict(
        job, siblings, datetime.now(UTC), hook.settings.webhook_force_interval_seconds
    )
    if isinstance(verdict, events.Existing):
        return _answer(
            200,
            DeliveryOutcome.DUPLICATE,
            reviewjob=verdict.name,
            reason="a `/review` of this pull request is already queued or running",
        )
    if isinstance(verdict, events.TooSoon):
        answer = _answer(
            429,
            DeliveryOutcome.RATE_LIMITED,
            reason=f"a forced review (`/review force`, Re-run) of this pull request ran lately; "
            f"again in {verdict.retry_after} s",
        )
        answer.headers["Retry-After"] = str(verdict.retry_after)
        return answer
    return None


def _answer(status: int, outcome: DeliveryOutcome, **body: Any) -> _Answer:
    return _Answer(status, outcome, {"result": outcome.value, **body})


def _refuse(status: int, outcome: DeliveryOutcome, **body: Any) -> _Answer:
    answer = _answer(status, outcome, **body)
    answer.close = True
    return answer


async def handle_delivery(request: web.Request) -> web.StreamResponse:
    hook = request.app[WEBHOOK]
    started = time.perf_counter()
    event = request.headers.get("X-GitHub-Event", "")
    delivery = request.headers.get("X-GitHub-Delivery", "")
    context = {"action": "", "repository": ""}
    answer = _answer(500, DeliveryOutcome.ERROR, reason="internal error")
    hook.metrics.in_flight.inc()
    try:
        answer = await _process(hook, request, event, delivery, context)
    finally:
        hook.metrics.in_flight.dec()
        seconds = time.perf_counter() - started
        hook.metrics.observe(WebhookEvent.of(event), answer.outcome, seconds)
        fields = {
            "delivery_id": events.shown(delivery),
            "event": events.shown(event),
            **context,
            "outcome": answer.outcome.value,
            "status": answer.status,
            "latency_ms": round(seconds * 1000, 2),
            # Who sent it, as far as this pod can tell: the TCP peer (an ingress controller, when
            # one is in front) and the client address that ingress forwarded. Logged, never trusted.
            "peer": request.remote or "",
            "client": forwarded_client(request.headers),
        }
        log.info("delivery", extra={"fields": fields})
    response = web.json_response(answer.body, status=answer.status, headers=answer.headers)
    if answer.close:
        # Send the answer, then drop the connection at once: aiohttp would otherwise keep reading
        # (and discarding) the rest of the body for up to 10 s before closing.
        response.force_close()
        with contextlib.suppress(ConnectionError):  # the sender may be gone already
            await response.prepare(request)
            await response.write_eof()
        request.protocol.force_close()
    return response


async def _process(
    hook: Webhook, request: web.Request, event: str, delivery: str, context: dict[str, str]
) -> _Answer:
    received = await _receive(hook, request, event, delivery, context)
    if isinstance(received, _Answer):
        return received
    return await _execute(hook, received)


async def _receive(
    hook: Webhook, request: web.Request, event: str, delivery: str, context: dict[str, str]
) -> _Answer | events.Decision:
    """Reads, verifies and decides; the body and payload are gone before the API is called."""
    limit = hook.settings.webhook_max_body_bytes
    declared = request.content_length
    if declared is not None and declared > limit:
        return _refuse(413, DeliveryOutcome.INVALID, reason="body too large")
    signature = request.headers.get("X-Hub-Signature-256")
    if not well_formed(signature):
        return _refuse(401, DeliveryOutcome.UNAUTHORIZED)
    reading = hook.budget.admit(limit if declared is None else declared)
    if reading is None:
        answer = _refuse(
            503, DeliveryOutcome.OVERLOADED, reason="too many bodies being received; redeliver later"
        )
        answer.headers["Retry-After"] = "1"
        return answer
    try:
        verifier = Verifier(hook.secrets.current())
        try:
            body = await intake.read_body(
                request.content, reading, verifier, limit, hook.settings.webhook_body_timeout_seconds
            )
        except intake.TooSlow:
            return _refuse(408, DeliveryOutcome.TIMEOUT, reason="body not received in time")
        except intake.TooLarge:
            return _refuse(413, DeliveryOutcome.INVALID, reason="body too large")
        except intake.Broken:
            return _refuse(400, DeliveryOutcome.INVALID, reason="body incomplete")
        if not verifier.matches(signature):
            return _answer(401, DeliveryOutcome.UNAUTHORIZED)
        return _decide(body, request.content_type, event, delivery, hook, context)
    finally:
        hook.budget.release(reading)


def _decide(
    body: bytearray, content_type: str, event: str, delivery: str, hook: Webhook, context: dict[str, str]
) -> _Answer | events.Decision:
    if not event:
        return _answer(400, DeliveryOutcome.INVALID, reason="missing X-GitHub-Event")
    if content_type != "application/json":
        return _answer(415, DeliveryOutcome.INVALID, reason="content type must be application/json")
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return _answer(400, DeliveryOutcome.INVALID, reason="body is not JSON")
    context["action"], context["repository"] = events.summary(payload)
    return events.decide(event, delivery, payload, hook.policy, datetime.now(UTC))


async def _execute(hook: Webhook, decision: events.Decision) -> _Answer:
    if isinstance(decision, events.Pong):
        return _answer(200, DeliveryOutcome.ACCEPTED, reason="pong")
    if isinstance(decision, events.Ignore):
        return _answer(202, DeliveryOutcome.IGNORED, reason=decision.reason)
    if isinstance(decision, events.InvalidDelivery):
        return _answer(400, DeliveryOutcome.INVALID, reason=decision.reason)
    repository_id = decision.repository_id
    if not hook.limiter.allow(str(repository_id)):
        answer = _answer(429, DeliveryOutcome.RATE_LIMITED, reason="too many deliveries for this repository")
        answer.headers["Retry-After"] = str(max(1, round(1 / hook.limiter.rate)))
        return answer
    try:
        if isinstance(decision, events.Create):
            return await _create(hook, decision)
        if isinstance(decision, events.Rerun):
            return await _rerun(hook, decision)
        marked = await cancel_pull_request(
            hook.jobs, decision.repository_id, decision.pr_number, decision.cancel, hook.timeout
        )
    except Invalid:
        return _answer(400, DeliveryOutcome.INVALID, reason="rejected by the API server")
    except KubeError as exc:
        log.warning("Kubernetes API call failed: %s", exc)
        return _answer(503, DeliveryOutcome.ERROR, reason="Kubernetes API unavailable; redeliver later")
    hook.metrics.cancel_requests.inc(len(marked))
    return _answer(200, DeliveryOutcome.ACCEPTED, reason="cancellation requested", reviewjobs=marked)


async def _rerun(hook: Webhook, decision: events.Rerun) -> _Answer:
    """GitHub's Re-run: a forced review of that head, of the pull request its ReviewJobs name."""
    template = events.rerun_template(decision, await _rerun_candidates(hook, decision))
    if template is None:
        return _answer(
            202,
            DeliveryOutcome.IGNORED,
            reason="no ReviewJob of this head is left to re-run; comment `/review force` on the pull request",
        )
    return await _create(hook, events.rerun_of(template, decision))


async def _rerun_candidates(hook: Webhook, decision: events.Rerun) -> list[ReviewJob]:
    """The ReviewJob the check run was created for (its external id), else this head's ReviewJobs
    (of the payload's pull requests, when it names any)."""
    if decision.external_id and _NAME.fullmatch(decision.external_id):
        try:
            return [ReviewJob.model_validate(await hook.jobs.get(decision.external_id, hook.timeout))]
        except (NotFound, ValidationError):
            pass  # gone after its TTL: this head's other ReviewJobs may still say which PR it is
    if decision.pr_numbers:
        selector = pull_request_selector(decision.repository_id, decision.pr_numbers[0])
    else:
        selector = head_selector(decision.repository_id, decision.head_sha)
    found = []
    for manifest in await hook.jobs.list(selector, hook.timeout):
        try:
            found.append(ReviewJob.model_validate(manifest))
        except ValidationError:
            continue
    return found


async def _create(hook: Webhook, decision: events.Create) -> _Answer:
    name = decision.job.metadata.name
    trigger = decision.job.spec.trigger
    # A question is its own comment's (its name says so): never answered by, nor counted as, a review.
    is_command = trigger.event is TriggerEvent.ISSUE_COMMENT and decision.job.spec.kind is JobKind.REVIEW
    if is_command or trigger.force:
        repeated = await _repeated_command(hook, decision)
        if repeated is not None:
            return repeated
    try:
        await hook.jobs.create(decision.job.to_manifest(), hook.timeout)
    except AlreadyExists:
        if not await _replaced_cancelled(hook, decision):
            return _answer(200, DeliveryOutcome.DUPLICATE, reviewjob=name)
        return _answer(201, DeliveryOutcome.ACCEPTED, reviewjob=name, reason="reviewed again after a cancel")
    return _answer(201, DeliveryOutcome.ACCEPTED, reviewjob=name)


async def _replaced_cancelled(hook: Webhook, decision: events.Create) -> bool:
    """A review of a head whose earlier ReviewJob ended Cancelled: that one is deleted (only if it is
    still the object read) and this one created in its place. False: a true duplicate, or another
    delivery replaced it first."""
    job = decision.job
    try:
        existing = ReviewJob.model_validate(await hook.jobs.get(job.metadata.name, hook.timeout))
    except (NotFound, ValidationError):
        return False
    if not events.replaces_cancelled(existing, job.spec.trigger.delivery_id):
        return False
    uid, version = existing.metadata.uid or "", existing.metadata.resource_version or ""
    try:
        await hook.jobs.delete(job.metadata.name, uid, version, hook.timeout)
        await hook.jobs.create(job.to_manifest(), hook.timeout)
    except KubeError as exc:
        if isinstance(exc, AlreadyExists | Conflict | NotFound) or exc.status in (403, 422):
            return False  # another delivery was first, or this install does not let the webhook delete
        raise  # the API server failed: 503, and a redelivery finishes the job
    return True

"""`POST /webhook/github`: verify, decide, execute, answer honestly, log one line.

Order matters: the body is read under the size cap, the signature is checked over the raw bytes
before anything is parsed, and 2xx is answered only after the API server recorded the ReviewJob.
Every failure the sender can cause is a 4xx; only the API server's failures give 503.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from review_operator.k8s.errors import AlreadyExists, ApiUnavailable, Invalid, KubeError
from review_operator.metrics import DeliveryOutcome, WebhookEvent
from review_operator.webhook import events
from review_operator.webhook.cancel import cancel_pull_request
from review_operator.webhook.signature import verify
from review_operator.webhook.state import WEBHOOK, Webhook

log = logging.getLogger("review_operator.webhook")
Outcome = DeliveryOutcome


@dataclass
class _Answer:
    status: int
    outcome: DeliveryOutcome
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


def _answer(status: int, outcome: DeliveryOutcome, **body: Any) -> _Answer:
    return _Answer(status, outcome, {"result": outcome.value, **body})


async def handle_delivery(request: web.Request) -> web.StreamResponse:
    hook = request.app[WEBHOOK]
    started = time.perf_counter()
    event = request.headers.get("X-GitHub-Event", "")
    delivery = request.headers.get("X-GitHub-Delivery", "")
    context = {"action": "", "repository": ""}
    answer = _answer(500, Outcome.ERROR, reason="internal error")
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
        }
        log.info("delivery", extra={"fields": fields})
    return web.json_response(answer.body, status=answer.status, headers=answer.headers)


async def _process(
    hook: Webhook, request: web.Request, event: str, delivery: str, context: dict[str, str]
) -> _Answer:
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _answer(413, Outcome.INVALID, reason="body too large")
    if not verify(body, request.headers.get("X-Hub-Signature-256"), hook.secrets.current()):
        return _answer(401, Outcome.UNAUTHORIZED)
    if not event:
        return _answer(400, Outcome.INVALID, reason="missing X-GitHub-Event")
    if request.content_type != "application/json":
        return _answer(415, Outcome.INVALID, reason="content type must be application/json")
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return _answer(400, Outcome.INVALID, reason="body is not JSON")
    context["action"], context["repository"] = events.summary(payload)
    decision = events.decide(event, delivery, payload, hook.policy, datetime.now(UTC))
    return await _execute(hook, decision)


async def _execute(hook: Webhook, decision: events.Decision) -> _Answer:
    if isinstance(decision, events.Pong):
        return _answer(200, Outcome.ACCEPTED, reason="pong")
    if isinstance(decision, events.Ignore):
        return _answer(202, Outcome.IGNORED, reason=decision.reason)
    if isinstance(decision, events.Invalid):
        return _answer(400, Outcome.INVALID, reason=decision.reason)
    repository_id = decision.repository_id
    if not hook.limiter.allow(str(repository_id)):
        answer = _answer(429, Outcome.RATE_LIMITED, reason="too many deliveries for this repository")
        answer.headers["Retry-After"] = str(max(1, round(1 / hook.limiter.rate)))
        return answer
    try:
        if isinstance(decision, events.Create):
            return await _create(hook, decision)
        marked = await hook.call(
            cancel_pull_request, decision.repository_id, decision.pr_number, decision.cancel
        )
    except Invalid:
        return _answer(400, Outcome.INVALID, reason="rejected by the API server")
    except (ApiUnavailable, KubeError, TimeoutError):
        return _answer(503, Outcome.ERROR, reason="Kubernetes API unavailable; redeliver later")
    hook.metrics.cancel_requests.inc(len(marked))
    return _answer(200, Outcome.ACCEPTED, reason="cancellation requested", reviewjobs=marked)


async def _create(hook: Webhook, decision: events.Create) -> _Answer:
    name = decision.job.metadata.name
    try:
        await hook.creates.create(decision.job.to_manifest(), hook.timeout)
    except AlreadyExists:
        return _answer(200, Outcome.DUPLICATE, reviewjob=name)
    return _answer(201, Outcome.ACCEPTED, reviewjob=name)

"""Per-app state shared by the handlers."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from review_operator.config import WebhookSettings
from review_operator.k8s.aio import AsyncReviewJobs
from review_operator.metrics import WebhookMetrics
from review_operator.webhook.events import Policy
from review_operator.webhook.intake import Budget
from review_operator.webhook.ratelimit import RateLimiter
from review_operator.webhook.secrets import SecretSource


@dataclass
class Webhook:
    """Everything a request handler needs; one per app, nothing global."""

    settings: WebhookSettings
    secrets: SecretSource
    budget: Budget
    policy: Policy
    limiter: RateLimiter
    metrics: WebhookMetrics
    jobs: AsyncReviewJobs  # every API call, on the event loop, each bounded by `timeout`

    @property
    def namespace(self) -> str:
        return self.settings.namespace

    @property
    def timeout(self) -> float:
        return self.settings.webhook_api_timeout_seconds


WEBHOOK: web.AppKey[Webhook] = web.AppKey("webhook", Webhook)

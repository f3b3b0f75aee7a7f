"""Per-app state shared by the handlers, and the bounded way they call the Kubernetes API."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web
from kubernetes import client

from review_operator.config import WebhookSettings
from review_operator.k8s.aio import AsyncReviewJobs
from review_operator.metrics import WebhookMetrics
from review_operator.webhook.events import Policy
from review_operator.webhook.intake import Budget
from review_operator.webhook.ratelimit import RateLimiter
from review_operator.webhook.secrets import SecretSource

T = TypeVar("T")


@dataclass
class Webhook:
    """Everything a request handler needs; one per app, nothing global."""

    settings: WebhookSettings
    api: client.ApiClient
    secrets: SecretSource
    budget: Budget
    policy: Policy
    limiter: RateLimiter
    metrics: WebhookMetrics
    executor: ThreadPoolExecutor
    creates: AsyncReviewJobs  # the hot path (one create per delivery) on the event loop itself

    @property
    def namespace(self) -> str:
        return self.settings.namespace

    @property
    def timeout(self) -> float:
        return self.settings.webhook_api_timeout_seconds

    async def call(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Runs a blocking Kubernetes call in a worker thread, bounded by the API timeout.

        The client's own timeout covers connect and read; the outer one also covers waiting for a
        free worker, so a hung API server answers 503 in bounded time instead of piling up.
        """
        loop = asyncio.get_running_loop()
        job = functools.partial(fn, self.api, self.namespace, *args, timeout=self.timeout, **kwargs)
        return await asyncio.wait_for(loop.run_in_executor(self.executor, job), self.timeout)


WEBHOOK: web.AppKey[Webhook] = web.AppKey("webhook", Webhook)

"""The aiohttp application factory and the small routes (health, readiness, metrics)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from review_operator.config import WebhookSettings
from review_operator.k8s.aio import AsyncReviewJobs
from review_operator.k8s.errors import KubeError
from review_operator.metrics import WebhookMetrics
from review_operator.webhook.events import Policy
from review_operator.webhook.handler import handle_delivery
from review_operator.webhook.intake import Budget
from review_operator.webhook.ratelimit import RateLimiter
from review_operator.webhook.secrets import SecretSource
from review_operator.webhook.state import WEBHOOK, Webhook

WEBHOOK_PATH = "/webhook/github"


def create_app(
    settings: WebhookSettings,
    jobs: AsyncReviewJobs,
    registry: CollectorRegistry | None = None,
    limiter: RateLimiter | None = None,
) -> web.Application:
    """The webhook app. Raises ValueError without a secret: unsigned deliveries are never accepted."""
    secrets = SecretSource(settings)
    if not secrets.current():
        raise ValueError("no webhook secret: set REVIEWOP_WEBHOOK_SECRET or REVIEWOP_WEBHOOK_SECRET_FILE")
    app = web.Application(client_max_size=settings.webhook_max_body_bytes)
    app[WEBHOOK] = Webhook(
        settings=settings,
        secrets=secrets,
        budget=Budget(settings.webhook_body_budget_bytes),
        policy=Policy.from_settings(settings),
        limiter=limiter or RateLimiter(settings.webhook_rate_per_second, settings.webhook_rate_burst),
        metrics=WebhookMetrics(registry or CollectorRegistry()),
        jobs=jobs,
    )
    app.router.add_post(WEBHOOK_PATH, handle_delivery)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.cleanup_ctx.append(_client_lifetime)
    return app


async def _client_lifetime(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[WEBHOOK].jobs.close()


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready only when the API server answers a ReviewJob list (so RBAC and the CRD are checked too)."""
    hook = request.app[WEBHOOK]
    try:
        await hook.jobs.list("", hook.timeout, limit=1)
    except KubeError:
        return web.json_response({"status": "unavailable"}, status=503)
    return web.json_response({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[WEBHOOK].metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

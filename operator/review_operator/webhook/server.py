"""`review-operator webhook`: configure, build the app, serve until SIGTERM."""

from __future__ import annotations

import logging

from aiohttp import web

from review_operator.config import WebhookSettings
from review_operator.k8s.aio import AsyncReviewJobs
from review_operator.k8s.client import load_configuration
from review_operator.k8s.errors import ConfigError
from review_operator.logs import configure_logging
from review_operator.webhook.app import create_app

log = logging.getLogger("review_operator.webhook")


def build(settings: WebhookSettings) -> web.Application:
    """The app; raises ValueError, OSError or ConfigError on a configuration problem (secret first)."""
    if not settings.secrets():
        raise ValueError("no webhook secret: set REVIEWOP_WEBHOOK_SECRET or REVIEWOP_WEBHOOK_SECRET_FILE")
    jobs = AsyncReviewJobs(load_configuration(), settings.namespace, settings.webhook_api_workers)
    return create_app(settings, jobs)


def main() -> int:
    settings = WebhookSettings()
    configure_logging(settings.log_level, settings.log_format)
    try:
        app = build(settings)
    except (ValueError, OSError, ConfigError) as exc:
        log.error("cannot start: %s", exc)  # noqa: TRY400 (a configuration error; a traceback adds nothing)
        return 2
    log.info(
        "listening",
        extra={"fields": {"host": settings.webhook_host, "port": settings.webhook_port}},
    )
    # run_app turns SIGTERM into a graceful stop: in-flight deliveries finish before exit.
    web.run_app(
        app,
        host=settings.webhook_host,
        port=settings.webhook_port,
        access_log=None,
        print=None,
        shutdown_timeout=10,
    )
    return 0

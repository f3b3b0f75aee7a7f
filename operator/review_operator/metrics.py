"""The whole metric vocabulary: one class per process, built on an injected registry.

Label values are Enums and every child is created up front, so a series exists (at zero) before
its first event and no label can take an unbounded value (no repository, PR, SHA or ReviewJob
names). Tests create a fresh `CollectorRegistry` per app.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Webhook answers are expected in tens of milliseconds; GitHub gives up after 10 s.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class WebhookEvent(StrEnum):
    """`X-GitHub-Event` values worth a series; everything else counts as OTHER."""

    PING = "ping"
    PULL_REQUEST = "pull_request"
    ISSUE_COMMENT = "issue_comment"
    OTHER = "other"

    @classmethod
    def of(cls, header: str | None) -> WebhookEvent:
        try:
            return cls(header or "other")
        except ValueError:
            return cls.OTHER


class DeliveryOutcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    UNAUTHORIZED = "unauthorized"
    INVALID = "invalid"
    RATE_LIMITED = "rate_limited"
    ERROR = "error"


class WebhookMetrics:
    """Metrics of `review-operator webhook`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.deliveries = Counter(
            "reviewop_webhook_deliveries",
            "Webhook deliveries by event and outcome.",
            ["event", "outcome"],
            registry=registry,
        )
        self.latency = Histogram(
            "reviewop_webhook_delivery_duration_seconds",
            "Time from request to answer, by outcome.",
            ["outcome"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.cancel_requests = Counter(
            "reviewop_webhook_cancel_requests",
            "ReviewJobs marked for cancellation (PR closed or turned draft).",
            registry=registry,
        )
        self.in_flight = Gauge("reviewop_webhook_in_flight", "Deliveries being processed.", registry=registry)
        for outcome in DeliveryOutcome:
            self.latency.labels(outcome=outcome.value)
            for event in WebhookEvent:
                self.deliveries.labels(event=event.value, outcome=outcome.value)

    def observe(self, event: WebhookEvent, outcome: DeliveryOutcome, seconds: float) -> None:
        self.deliveries.labels(event=event.value, outcome=outcome.value).inc()
        self.latency.labels(outcome=outcome.value).observe(seconds)


"""Metric label sets cover what the controller reports: every reason (one enum feeds both), every
posting error."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from review_operator.api.models import CancelReason
from review_operator.api.reasons import Reason
from review_operator.github import GitHubNotFound
from review_operator.metrics import OTHER_REASON, ControllerMetrics, WebhookMetrics


def _labels(registry: CollectorRegistry, sample: str, label: str) -> set[str]:
    return {s.labels[label] for metric in registry.collect() for s in metric.samples if s.name == sample}


def test_every_controller_reason_has_completed_and_retry_series() -> None:
    registry = CollectorRegistry()
    ControllerMetrics(registry)
    # A cancellation's status.reason is spec.cancel.reason: those are controller reasons too.
    reasons = {r.value for r in Reason} | {c.value for c in CancelReason}
    assert reasons <= _labels(registry, "reviewop_reviews_completed_total", "reason")
    assert reasons <= _labels(registry, "reviewop_retries_total", "reason")


def test_cancel_reasons_are_reasons() -> None:
    assert {c.value for c in CancelReason} <= {r.value for r in Reason}


def test_unknown_reasons_are_counted_as_other() -> None:
    registry = CollectorRegistry()
    metrics = ControllerMetrics(registry)
    metrics.retried("SomethingNew")
    metrics.retried(Reason.EVICTED)
    assert registry.get_sample_value("reviewop_retries_total", {"reason": OTHER_REASON}) == 1
    assert registry.get_sample_value("reviewop_retries_total", {"reason": "Evicted"}) == 1


def test_a_github_404_keeps_its_posting_failure_series() -> None:
    registry = CollectorRegistry()
    # As the controller labels it: the error's class name, lowercased.
    ControllerMetrics(registry).posting_failed(type(GitHubNotFound("gone")).__name__.lower())
    assert registry.get_sample_value("reviewop_posting_failures_total", {"error": "notfound"}) == 1


def test_every_metric_is_named_in_the_readme() -> None:
    """The README's Metrics section (and the webhook's) is the list an operator reads: a new metric
    without a line there is a metric nobody knows to alert on."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    registry = CollectorRegistry()
    ControllerMetrics(registry)
    WebhookMetrics(registry)
    # prometheus_client names a counter's family without its `_total`; the README names the series.
    names = {m.name + ("_total" if m.type == "counter" else "") for m in registry.collect()}
    assert sorted(n for n in names if f"`{n}" not in readme) == []

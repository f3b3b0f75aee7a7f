"""The whole metric vocabulary: one class per process, built on an injected registry.

Label values are Enums and every child is created up front, so a series exists (at zero) before
its first event and no label can take an unbounded value (no repository, PR, SHA or ReviewJob
names). Tests create a fresh `CollectorRegistry` per app.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from review_operator.api.models import Phase, ReviewJob
from review_operator.api.reasons import Reason
from review_operator.api.result import ReviewResult

# Webhook answers are expected in tens of milliseconds; GitHub gives up after 10 s.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
OTHER_REASON = "Other"
# The controller labels a posting failure with the GitHub error's class name, lowercased. The 404
# error's class was renamed (NotFound -> GitHubNotFound, to keep class names unique); its series
# keeps the name dashboards know.
_POSTING_ERROR_RENAMES = {"githubnotfound": "notfound"}


class WebhookEvent(StrEnum):
    """`X-GitHub-Event` values worth a series; everything else counts as OTHER."""

    PING = "ping"
    PULL_REQUEST = "pull_request"
    ISSUE_COMMENT = "issue_comment"
    PULL_REQUEST_REVIEW_COMMENT = "pull_request_review_comment"
    CHECK_RUN = "check_run"
    CHECK_SUITE = "check_suite"
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
    TIMEOUT = "timeout"  # the body did not arrive in time (408)
    OVERLOADED = "overloaded"  # too many bodies being read at once (503 before reading)
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


class ReviewOutcome(StrEnum):
    """Final phases, as metric label values."""

    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    TIMED_OUT = "TimedOut"
    SUPERSEDED = "Superseded"
    CANCELLED = "Cancelled"


class ControllerMetrics:
    """The controller's metrics: phases, queue, starts and outcomes, timings, spend, retries, posting.

    Label values are bounded: phases and outcomes are enums, reasons are the controller's own
    closed set (anything else is counted as "Other"); no per-PR, per-SHA or per-ReviewJob labels.
    """

    PHASES = ("Pending", "Queued", "Running")
    PAUSE_CAUSES = ("daily_budget", "model_key")
    PROBE_OUTCOMES = ("ok", "rejected", "unreachable")  # controller.decide.breaker.ProbeOutcome
    BREAKER_STATES = ("closed", "open", "half_open")  # controller.decide.breaker.State
    # The controller's own reasons (one enum, so the label set cannot drift from what it sets), plus
    # "Other" for anything else, so a reason label never takes an unbounded value.
    REASONS: tuple[str, ...] = (*(r.value for r in Reason), OTHER_REASON)
    POSTING_ERRORS = (
        "unauthorized",
        "ratelimited",
        "transient",
        "githuberror",
        "notfound",
        "rejected",
        "other",
    )

    def __init__(self, registry: CollectorRegistry) -> None:
        self.jobs = Gauge(
            "reviewop_reviewjobs", "Non-final ReviewJobs by phase.", ["phase"], registry=registry
        )
        self.running = Gauge("reviewop_reviews_running", "Reviews holding a slot.", registry=registry)
        self.queue_depth = Gauge("reviewop_queue_depth", "Reviews waiting for a slot.", registry=registry)
        self.started_total = Counter(
            "reviewop_reviews_started_total", "Review attempts started.", ["kind"], registry=registry
        )
        self.completed_total = Counter(
            "reviewop_reviews_completed_total",
            "Reviews finished, by outcome and reason.",
            ["outcome", "reason"],
            registry=registry,
        )
        self.queue_wait = Histogram(
            "reviewop_queue_wait_seconds",
            "Time from queued to started.",
            registry=registry,
            buckets=(0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600),
        )
        self.run_time = Histogram(
            "reviewop_review_duration_seconds",
            "Time from first start to a final phase.",
            registry=registry,
            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600),
        )
        self.cost = Counter("reviewop_cost_usd_total", "Model spend in USD.", registry=registry)
        self.review_cost = Histogram(
            "reviewop_review_cost_usd",
            "Model spend of one review in USD.",
            registry=registry,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 25),
        )
        self.tokens = Counter("reviewop_tokens_total", "Model tokens.", ["kind"], registry=registry)
        self.retries = Counter("reviewop_retries_total", "Retries by reason.", ["reason"], registry=registry)
        self.posting_failures = Counter(
            "reviewop_posting_failures_total", "Failed GitHub posting attempts.", ["error"], registry=registry
        )
        self.daily_spend = Gauge(
            "reviewop_daily_spend_usd", "Model spend since 00:00 UTC, all attempts.", registry=registry
        )
        self.admission_paused = Gauge(
            "reviewop_admission_paused",
            "1 while reviews may not start, by cause: daily_budget (spent), model_key (the model API "
            "rejected the key: the breaker is open or half-open).",
            ["cause"],
            registry=registry,
        )
        self.model_probe_ok = Gauge(
            "reviewop_model_probe_ok",
            "1 if the last model probe (GET /v1/models with the review key) passed; 0 if it failed, "
            "and before the first probe or with the probe off (see reviewop_model_probes_total).",
            registry=registry,
        )
        self.model_probe_last_success = Gauge(
            "reviewop_model_probe_last_success_timestamp_seconds",
            "Unix time of the last model probe that passed.",
            registry=registry,
        )
        self.model_probes = Counter(
            "reviewop_model_probes_total",
            "Model probes by outcome: ok, rejected (401/403), unreachable (timeouts, 5xx, other).",
            ["outcome"],
            registry=registry,
        )
        self.model_breaker = Gauge(
            "reviewop_model_breaker_state",
            "1 for the model-key breaker's current state (closed, open, half_open).",
            ["state"],
            registry=registry,
        )
        self.pass_seconds = Histogram(
            "reviewop_reconcile_seconds",
            "Reconcile pass time by stage: observe (the LISTs) and the whole pass.",
            ["stage"],
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        for phase in self.PHASES:
            self.jobs.labels(phase)
        for cause in self.PAUSE_CAUSES:
            self.admission_paused.labels(cause)
        for probe_outcome in self.PROBE_OUTCOMES:
            self.model_probes.labels(probe_outcome)
        self.breaker_state("closed")
        for stage in ("observe", "pass"):
            self.pass_seconds.labels(stage)
        self.check_run_failures = Counter(
            "reviewop_check_run_failures_total",
            "Failed check-run updates (queued, in progress, an ending; best effort, never retried).",
            ["error"],
            registry=registry,
        )
        self.review_threads = Counter(
            "reviewop_review_threads_total",
            "Our earlier review threads at each post: resolved (no longer reported) or carried (still open).",
            ["outcome"],
            registry=registry,
        )
        self.review_thread_failures = Counter(
            "reviewop_review_thread_failures_total",
            "Posted reviews whose earlier threads could not be read or resolved (the summary says why).",
            registry=registry,
        )
        for outcome in ("resolved", "carried"):
            self.review_threads.labels(outcome)
        for kind in ("first", "retry"):
            self.started_total.labels(kind)
        for outcome in ReviewOutcome:
            for reason in self.REASONS:
                self.completed_total.labels(outcome.value, reason)
        for kind in ("input", "output", "cache_read", "cache_creation"):
            self.tokens.labels(kind)
        for reason in self.REASONS:
            self.retries.labels(reason)
        for error in self.POSTING_ERRORS:
            self.posting_failures.labels(error)
            self.check_run_failures.labels(error)

    def breaker_state(self, state: str) -> None:
        for each in self.BREAKER_STATES:
            self.model_breaker.labels(each).set(int(each == state))

    def _reason(self, reason: str) -> str:
        return reason if reason in self.REASONS else OTHER_REASON

    def observe_jobs(self, phases: Iterable[Phase]) -> None:
        counts = {p: 0 for p in self.PHASES}
        for phase in phases:
            if phase.value in counts:
                counts[phase.value] += 1
        for label, count in counts.items():
            self.jobs.labels(label).set(count)

    def slots(self, holding: int, waiting: int) -> None:
        """Reviews holding a slot and waiting for one, as the engine's ledger counts them after each
        read and each write (a pass alone would leave them stale between passes)."""
        self.running.set(holding)
        self.queue_depth.set(waiting)

    def started(self, queue_wait_s: float, retry: bool) -> None:
        self.started_total.labels("retry" if retry else "first").inc()
        if not retry:
            self.queue_wait.observe(max(0.0, queue_wait_s))

    def retried(self, reason: str) -> None:
        self.retries.labels(self._reason(reason)).inc()

    def posting_failed(self, error: str) -> None:
        error = _POSTING_ERROR_RENAMES.get(error, error)
        self.posting_failures.labels(error if error in self.POSTING_ERRORS else "other").inc()

    def check_run_failed(self, error: str) -> None:
        error = _POSTING_ERROR_RENAMES.get(error, error)
        self.check_run_failures.labels(error if error in self.POSTING_ERRORS else "other").inc()

    def threads_settled(self, resolved: int, carried: int, failed: bool) -> None:
        """A posted review's earlier threads: how many it resolved and carried, and whether some
        could not be read or resolved."""
        self.review_threads.labels("resolved").inc(resolved)
        self.review_threads.labels("carried").inc(carried)
        if failed:
            self.review_thread_failures.inc()

    def spent(self, result: ReviewResult) -> None:
        """One attempt's spend, counted once when it is recorded (retried attempts included)."""
        self.cost.inc(result.cost_usd)
        for kind in ("input", "output", "cache_read", "cache_creation"):
            self.tokens.labels(kind).inc(getattr(result.tokens, kind))

    def finished(
        self, phase: Phase, reason: str, result: ReviewResult | None, job: ReviewJob, now: datetime
    ) -> None:
        outcome = phase.value
        if outcome in {o.value for o in ReviewOutcome}:
            self.completed_total.labels(outcome, self._reason(reason)).inc()
        started = job.status.start_time
        if started is not None:
            self.run_time.observe(max(0.0, (now - started).total_seconds()))
        if job.status.spend.attempts:
            self.review_cost.observe(job.status.spend.total_cost_usd)  # every attempt of the review

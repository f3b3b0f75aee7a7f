"""Typed configuration, one pydantic-settings class per process.

Every setting is read from a `REVIEWOP_*` environment variable (the chart maps each value 1:1 to
one of them) and documented where it is declared; the README's configuration table lists them all.
Secrets are `SecretStr` so they never show up in a repr or a log line.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Limits shared by the repository configuration (`api.repo_config`) and the runner that applies it.
REPO_INSTRUCTIONS_MAX_CHARS = 4000
REPO_GLOBS_MAX = 50
REPO_GLOB_MAX_CHARS = 256
# A language name or tag: "English", "Brazilian Portuguese", "pt-BR", "Chinese (Simplified)", "日本語".
LANGUAGE_PATTERN = r"^\w[\w ()-]{0,39}$"
# The Messages API refuses a thinking budget below 1024 tokens. The Claude Code CLI clamps a larger
# budget to its output limit (32000 tokens) minus one, and that clamped value is its own default.
THINKING_MIN_TOKENS = 1024
THINKING_MAX_TOKENS = 31999
# A question (`/ask`, a reply in our review thread) and each comment of its thread shown to the model.
ANSWER_TEXT_MAX_CHARS = 4000
THREAD_MAX_COMMENTS = 12


class CommonSettings(BaseSettings):
    """Settings every long-running process shares."""

    model_config = SettingsConfigDict(env_prefix="REVIEWOP_", extra="ignore", frozen=True)

    namespace: Annotated[
        str,
        Field(description="Namespace holding ReviewJobs, review pods and per-review Secrets."),
    ] = "review-operator"
    log_level: Annotated[
        str,
        Field(
            description="Log level: DEBUG, INFO, WARNING or ERROR.", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$"
        ),
    ] = "INFO"
    log_format: Annotated[
        str,
        Field(description="Log format: `json` (one object per line) or `text`.", pattern=r"^(json|text)$"),
    ] = "json"


class GitHubSettings(BaseSettings):
    """How the controller and the checkout init container reach GitHub (see `review_operator.github`).

    Prefer a GitHub App (`app_id` + `private_key_file`): every review then gets tokens limited to one
    repository and the minimal permissions, valid for at most an hour. `token` (a personal access
    token) is a fallback for local use: it is long-lived and carries all of its owner's rights.
    """

    model_config = SettingsConfigDict(env_prefix="REVIEWOP_GITHUB_", extra="ignore", frozen=True)

    api_url: Annotated[
        str,
        Field(
            description="REST API base URL: https://api.github.com, or `https://HOST/api/v3` for "
            "GitHub Enterprise Server (and a local double in tests).",
            pattern=r"^https?://",
        ),
    ] = "https://api.github.com"
    app_id: Annotated[int | None, Field(description="GitHub App id (the App's numeric id).", ge=1)] = None
    private_key_file: Annotated[
        str | None,
        Field(description="Path of the GitHub App's PEM private key (a mounted Secret)."),
    ] = None
    token: Annotated[
        SecretStr | None,
        Field(
            description="Personal access token used when no App is configured. Less safe: not scoped "
            "per review, long-lived; use only for local runs."
        ),
    ] = None
    review_event: Annotated[
        Literal["COMMENT", "REQUEST_CHANGES"],
        Field(
            description="COMMENT (default): every review is a comment. REQUEST_CHANGES: a review with a "
            "finding at or above `request_changes_severity` requests changes, any other is a comment. "
            "The bot never approves (APPROVE is refused): a model reading untrusted code cannot vouch "
            "for it.",
        ),
    ] = "COMMENT"
    request_changes_severity: Annotated[
        str,
        Field(
            description="With review_event REQUEST_CHANGES: the lowest finding severity that requests "
            "changes (critical, high, medium, low or nit).",
            pattern=r"^(critical|high|medium|low|nit)$",
        ),
    ] = "high"
    check_runs: Annotated[
        bool,
        Field(
            description="Also report each review as a check run named review-operator: queued, in "
            "progress while its pod runs, then completed (the App then needs `checks: write`, and its "
            "webhook the Check run and Check suite events for GitHub's Re-run)."
        ),
    ] = False
    check_details_url: Annotated[
        str | None,
        Field(
            description="With check runs: the check run's details link, a template with `{namespace}` "
            "and `{name}` (the ReviewJob's), e.g. a dashboard; unset: GitHub links the App's page.",
            pattern=r"^https?://",
        ),
    ] = None
    check_action_required_severity: Annotated[
        str,
        Field(
            description="With check runs: the lowest finding severity whose presence concludes the run "
            "`action_required` (critical, high, medium, low or nit; `never`: never). Other findings "
            "conclude it `neutral`, none `success`; a review that failed is `neutral` (our failure is "
            "never the code's `failure`).",
            pattern=r"^(critical|high|medium|low|nit|never)$",
        ),
    ] = "high"
    request_timeout_seconds: Annotated[
        float, Field(description="Timeout of one GitHub API request, in seconds.", gt=0, le=300)
    ] = 30.0
    max_attempts: Annotated[
        int,
        Field(description="Attempts per posting step on 5xx, dropped connections or rate limits.", ge=1),
    ] = 5
    max_retry_after_seconds: Annotated[
        float,
        Field(
            description="Longest retry-after the poster waits in-process; a longer one is returned to "
            "the controller as RateLimited so it can requeue instead of blocking.",
            ge=0,
        ),
    ] = 120.0
    retry_backoff_seconds: Annotated[
        float,
        Field(description="Base of the capped, jittered exponential backoff after 5xx or drops.", ge=0),
    ] = 1.0
    content_per_minute: Annotated[
        int, Field(description="Content-creating requests per minute (GitHub allows about 80).", ge=1)
    ] = 80
    content_per_hour: Annotated[
        int, Field(description="Content-creating requests per hour (GitHub allows about 500).", ge=1)
    ] = 500

    @field_validator("check_details_url")
    @classmethod
    def _details_template(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(value) if f is not None}
        except ValueError as exc:
            raise ValueError(f"not a template: {exc}") from None
        if not fields <= {"namespace", "name"}:
            raise ValueError("only {namespace} and {name} may be filled in")
        return value


class ThreadComment(BaseModel):
    """One comment of a review thread, as the runner shows it to the model (untrusted text)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    author: Annotated[str, Field(description="Login of its author.", max_length=64)]
    body: Annotated[
        str, Field(description="Its text, token shapes scrubbed.", max_length=ANSWER_TEXT_MAX_CHARS)
    ]
    ours: Annotated[bool, Field(description="Written by this App (our finding, our earlier answers).")] = (
        False
    )


class RunnerSettings(BaseSettings):
    """The in-pod review runner (`review-operator runner`); command-line arguments override these."""

    model_config = SettingsConfigDict(env_prefix="REVIEWOP_RUNNER_", extra="ignore", frozen=True)

    repo: Annotated[str, Field(description="Repository under review, `owner/name`.")] = ""
    pr_number: Annotated[int, Field(description="Pull request number.", ge=0)] = 0
    head_sha: Annotated[str, Field(description="Head commit under review.")] = ""
    base_sha: Annotated[str, Field(description="Base commit; the diff is `git diff base...head`.")] = ""
    since_sha: Annotated[
        str,
        Field(
            description="Incremental review: the head of the last review posted on the PR (an ancestor of "
            "head); the diff is then `git diff since head`. Empty: a full review.",
            pattern=r"^(?:[0-9a-f]{40})?$",
        ),
    ] = ""
    pr_title: Annotated[str, Field(description="PR title (untrusted: shown to the model as data only).")] = ""
    pr_body: Annotated[str, Field(description="PR body (untrusted: shown to the model as data only).")] = ""
    checkout: Annotated[
        Path, Field(description="Git checkout left by the `checkout` init container; the agent's only root.")
    ] = Path("/workspace/repo")
    work_dir: Annotated[
        Path, Field(description="Scratch space outside the checkout: diff, PR metadata, CLI config dir.")
    ] = Path("/workspace/run")
    model: Annotated[str, Field(description="Claude model id (or provider-specific id).")] = (
        "claude-sonnet-4-5"
    )
    max_turns: Annotated[int, Field(description="Agent turn limit.", ge=1)] = 30
    max_budget_usd: Annotated[float, Field(description="Spend limit per review in USD.", gt=0)] = 2.0
    max_thinking_tokens: Annotated[
        int | None,
        Field(
            description="Extended thinking budget per model turn, in tokens; unset: the CLI's default.",
            ge=THINKING_MIN_TOKENS,
            le=THINKING_MAX_TOKENS,
        ),
    ] = None
    timeout_seconds: Annotated[
        float, Field(description="Wall-clock limit of the agent run; keep it below the pod deadline.", gt=0)
    ] = 900.0
    max_retries: Annotated[
        int, Field(description="CLAUDE_CODE_MAX_RETRIES for API errors; retries must fit the timeout.", ge=0)
    ] = 3
    cli_path: Annotated[
        str | None, Field(description="Claude Code CLI to run instead of the bundled one.")
    ] = None
    termination_message_path: Annotated[
        Path, Field(description="Where the encoded result is written (the container termination message).")
    ] = Path("/dev/termination-log")
    min_severity: Annotated[
        str,
        Field(
            description="Findings below this severity are dropped.",
            pattern=r"^(critical|high|medium|low|nit)$",
        ),
    ] = "low"
    min_confidence: Annotated[
        float, Field(description="Findings below this confidence are dropped.", ge=0, le=1)
    ] = 0.5
    max_findings: Annotated[int, Field(description="At most this many findings are kept.", ge=0)] = 20
    max_files: Annotated[int, Field(description="At most this many changed files are reviewed.", ge=1)] = 300
    max_diff_lines: Annotated[
        int, Field(description="At most this many changed lines are reviewed.", ge=1)
    ] = 20000
    skip_globs: Annotated[
        list[str], Field(description="Extra path globs never reviewed (lockfiles etc. are always skipped).")
    ] = []
    repo_instructions: Annotated[
        str,
        Field(
            description="The repository's review instructions (`instructions` of its "
            "`.github/review-operator.yaml`, read from the base branch), appended to the system prompt "
            "as the repository's policy.",
            max_length=REPO_INSTRUCTIONS_MAX_CHARS,
        ),
    ] = ""
    include_globs: Annotated[
        list[str],
        Field(
            description="The repository's `include` globs: when any are given, only matching files are "
            "reviewed (glob rules in `review_operator.api.globs`).",
            max_length=REPO_GLOBS_MAX,
        ),
    ] = []
    ignore_globs: Annotated[
        list[str],
        Field(
            description="The repository's `ignore` globs: matching files are left out of the diff the "
            "agent sees and listed as skipped (ignore wins over include).",
            max_length=REPO_GLOBS_MAX,
        ),
    ] = []
    review_language: Annotated[
        str,
        Field(
            description="Language of the summary and the findings (`language` of the repository's "
            "configuration); empty: the model's default (English).",
            pattern=rf"^$|{LANGUAGE_PATTERN}",
        ),
    ] = ""
    secret_files: Annotated[
        list[Path], Field(description="Mounted secret files whose contents are scrubbed from every output.")
    ] = []
    denied_paths: Annotated[
        list[Path], Field(description="Paths the tools may never touch, even if under the checkout.")
    ] = [Path("/proc"), Path("/sys"), Path("/var/run/secrets"), Path("/run/secrets"), Path("/etc")]
    anthropic_api_key: Annotated[
        SecretStr | None,
        Field(description="Model key; when unset the CLI uses ANTHROPIC_API_KEY or its provider switches."),
    ] = None
    mode: Annotated[
        Literal["review", "answer"],
        Field(description="`review`: review the pull request; `answer`: answer `question` about it."),
    ] = "review"
    question: Annotated[
        str,
        Field(
            description="Answer mode: the question (untrusted text from a trusted commenter).",
            max_length=ANSWER_TEXT_MAX_CHARS,
        ),
    ] = ""
    thread: Annotated[
        list[ThreadComment],
        Field(
            description="Answer mode, a reply in a review thread: the thread before the question, first "
            "comment (our finding) first (JSON).",
            max_length=THREAD_MAX_COMMENTS,
        ),
    ] = []
    thread_path: Annotated[
        str, Field(description="Answer mode: the file the review thread is on.", max_length=1024)
    ] = ""
    thread_line: Annotated[int, Field(description="Answer mode: the line the review thread is on.", ge=0)] = 0

    @field_serializer("timeout_seconds", when_used="json")
    def _whole_seconds(self, value: float) -> float | int:
        # The controller's limits are whole seconds: the pod's environment says `900`, not `900.0`.
        return int(value) if value.is_integer() else value


class ControllerSettings(CommonSettings):
    """The controller (`review-operator controller`): admission, review pods, retries, posting, GC.

    Timeouts form a chain that is checked at start-up: the runner's agent timeout plus a grace
    period must end before the pod's `activeDeadlineSeconds`, which must end before the
    controller's own running deadline. A broken chain stops the controller with a clear message.
    """

    max_concurrent: Annotated[
        int, Field(description="Reviews running at once, cluster-wide.", ge=1, le=1000)
    ] = 5
    max_concurrent_per_repo: Annotated[
        int, Field(description="Reviews running at once for one repository.", ge=1, le=1000)
    ] = 2
    max_starts_per_minute: Annotated[
        int, Field(description="Reviews started per minute (model rate limits); 0 means no cap.", ge=0)
    ] = 0
    image: Annotated[str, Field(description="Image of review pods (runs `checkout` and `runner`).")] = (
        "ghcr.io/review-operator/review-operator:0.1.0"
    )
    image_pull_policy: Annotated[
        str, Field(description="imagePullPolicy of review pods.", pattern=r"^(Always|IfNotPresent|Never)$")
    ] = "IfNotPresent"
    model: Annotated[str, Field(description="Default Claude model; a ReviewJob may override it.")] = (
        "claude-sonnet-4-5"
    )
    max_turns: Annotated[int, Field(description="Default agent turn limit.", ge=1, le=200)] = 30
    max_budget_usd: Annotated[
        float, Field(description="Default spend limit per attempt, USD.", gt=0, le=100)
    ] = 2.0
    agent_timeout_seconds: Annotated[
        int, Field(description="Default wall-clock limit of the agent run inside the pod.", ge=30)
    ] = 600
    max_thinking_tokens: Annotated[
        int,
        Field(
            description="Extended thinking budget per model turn, in tokens (1024, the API's minimum, to "
            "31999); 0: the Claude Code CLI's default, which is the most. Thinking is billed as output.",
            ge=0,
            le=THINKING_MAX_TOKENS,
        ),
    ] = 0
    ask_max_budget_usd: Annotated[
        float,
        Field(
            description="Spend limit of one attempt at answering a question (`/ask`, a reply in one of our "
            "review threads), USD; the lower of this and the review's limit applies.",
            gt=0,
            le=100,
        ),
    ] = 0.5
    daily_budget_usd: Annotated[
        float,
        Field(
            description="Hard cap on model spend per UTC day, over every attempt of every review; once "
            "reached no review starts until the next UTC day (queued ones show DailyBudgetReached). "
            "0: no cap (the chart's spend alert still warns).",
            ge=0,
        ),
    ] = 0.0
    override_max_turns: Annotated[
        int, Field(description="Highest turn limit a ReviewJob's overrides may ask for.", ge=1, le=200)
    ] = 60
    override_max_budget_usd: Annotated[
        float,
        Field(description="Highest spend limit a ReviewJob's overrides may ask for, USD.", gt=0, le=100),
    ] = 5.0
    override_models: Annotated[
        list[str],
        Field(
            description="Models a ReviewJob's overrides may choose (JSON list) besides the default model; "
            "any other model falls back to the default. Overrides may shorten the agent timeout, never "
            "lengthen it."
        ),
    ] = ["claude-haiku-4-5", "claude-sonnet-4-5"]
    checkout_timeout_seconds: Annotated[
        int,
        Field(
            description="Limit of the checkout init container (fetching the PR's commits) inside the pod.",
            ge=10,
        ),
    ] = 120
    termination_grace_seconds: Annotated[
        int,
        Field(description="Pod terminationGracePeriodSeconds: time the runner has to write a result.", ge=5),
    ] = 30
    pod_deadline_seconds: Annotated[
        int,
        Field(
            description="Review pod activeDeadlineSeconds "
            "(must exceed checkout timeout + agent timeout + grace).",
            ge=60,
        ),
    ] = 900
    running_deadline_seconds: Annotated[
        int,
        Field(
            description="Controller's limit for one attempt, from when a node starts its pod (time waiting "
            "for a node counts against the pending timeout instead); must exceed the pod deadline."
        ),
    ] = 1200
    pending_timeout_seconds: Annotated[
        int,
        Field(
            description="How long a review pod may stay unschedulable "
            "(room for a cluster autoscaler to add a node), or stay uncreated before its slot is released."
        ),
    ] = 900
    max_attempts: Annotated[
        int, Field(description="Attempts for retryable failures (eviction, 429/529).", ge=1)
    ] = 3
    retry_deadline_seconds: Annotated[
        int,
        Field(
            description="No new attempt starts later than this after the review was created, whatever "
            "the attempts left: a review retried through a long outage ends instead of starting hours late.",
            ge=60,
        ),
    ] = 3600
    retry_base_seconds: Annotated[
        float, Field(description="First retry delay; doubles per attempt.", ge=0)
    ] = 30.0
    retry_max_seconds: Annotated[float, Field(description="Cap of the retry delay.", ge=0)] = 600.0
    posting_give_up_seconds: Annotated[
        int,
        Field(
            description="How long a finished review keeps trying to post through GitHub rate limits and "
            "outages (from the first failure) before it ends PostingFailed; it holds no slot meanwhile.",
            ge=1,
        ),
    ] = 14400
    cpu_request: Annotated[str, Field(description="Review container CPU request.")] = "250m"
    cpu_limit: Annotated[str, Field(description="Review container CPU limit.")] = "2"
    memory_request: Annotated[str, Field(description="Review container memory request.")] = "512Mi"
    memory_limit: Annotated[
        str, Field(description="Review container memory limit (the CLI alone peaks near 260 MB RSS).")
    ] = "1Gi"
    ephemeral_storage_request: Annotated[str, Field(description="Review pod ephemeral-storage request.")] = (
        "1Gi"
    )
    ephemeral_storage_limit: Annotated[str, Field(description="Review pod ephemeral-storage limit.")] = "4Gi"
    workspace_size_limit: Annotated[str, Field(description="sizeLimit of the workspace emptyDir.")] = "3Gi"
    node_selector: Annotated[
        dict[str, str], Field(description="nodeSelector of review pods (JSON), e.g. a dedicated pool.")
    ] = {}
    tolerations: Annotated[list[dict[str, Any]], Field(description="Tolerations of review pods (JSON).")] = []
    affinity: Annotated[dict[str, Any], Field(description="Affinity of review pods (JSON).")] = {}
    priority_class_name: Annotated[str, Field(description="priorityClassName of review pods.")] = ""
    review_service_account: Annotated[
        str,
        Field(description="ServiceAccount of review pods (one with no rights; its token is never mounted)."),
    ] = ""
    model_secret_name: Annotated[
        str, Field(description="Secret holding the model credential, exposed to the review container only.")
    ] = "review-operator-model"  # noqa: S105 - a Secret's name, not its value
    model_secret_key: Annotated[str, Field(description="Key in that Secret.")] = "ANTHROPIC_API_KEY"  # noqa: S105
    review_env: Annotated[
        dict[str, str],
        Field(
            description="Extra non-secret environment for the review container (JSON), e.g. "
            "ANTHROPIC_BASE_URL or CLAUDE_CODE_USE_BEDROCK."
        ),
    ] = {}
    model_probe_interval_seconds: Annotated[
        int,
        Field(
            description="Seconds between the controller's model probes (GET {ANTHROPIC_BASE_URL}/v1/models "
            "with the review pods' key: no spend); a rejected key (401/403) stops admissions until a probe "
            "passes. 0: no probe (then a review ending Unauthorized stops admissions for the cool-down).",
            ge=0,
        ),
    ] = 300
    model_key_file: Annotated[
        Path | None,
        Field(
            description="The model key as a mounted file (the chart mounts the model Secret's key here when "
            "the probe is on); re-read when it changes. Unset: no probe."
        ),
    ] = None
    model_breaker_cooldown_seconds: Annotated[
        int,
        Field(
            description="Without a probe: after a review ends Unauthorized, how long reviews wait before one "
            "is admitted as a trial (it succeeding resumes the rest).",
            ge=1,
        ),
    ] = 600
    pod_annotation_passthrough: Annotated[
        list[str],
        Field(description="ReviewJob annotation prefixes copied onto review pods (e.g. simulation hints)."),
    ] = []
    finished_ttl_seconds: Annotated[
        int, Field(description="Finished ReviewJobs are deleted this long after completion.", ge=60)
    ] = 7 * 24 * 3600
    resync_seconds: Annotated[
        float,
        Field(
            description="Longest gap between two reconcile passes; timeouts and backoffs wake a pass "
            "when due, so this only bounds how long a missed watch event can go unnoticed.",
            gt=0,
        ),
    ] = 60.0
    post_reviews: Annotated[
        bool, Field(description="Post reviews to GitHub; false records results in status only.")
    ] = True
    incremental_reviews: Annotated[
        bool,
        Field(
            description="A push to a PR that already has our review is reviewed incrementally: only the "
            "commits since that review's head (a force-push that dropped it, or `/review full`, gets a full "
            "review). false: every review is of the whole PR."
        ),
    ] = True
    health_port: Annotated[int, Field(description="Port of /healthz (kopf liveness).", ge=0, le=65535)] = 8080
    metrics_port: Annotated[int, Field(description="Port of /metrics.", ge=0, le=65535)] = 9090
    lease_name: Annotated[str, Field(description="Lease that elects the one active controller replica.")] = (
        "review-operator-controller"
    )
    lease_duration_seconds: Annotated[
        int, Field(description="Lease duration: how long a replica waits for a silent leader.", ge=3, le=300)
    ] = 15

    @field_validator("max_thinking_tokens")
    @classmethod
    def _thinking_off_or_a_real_budget(cls, value: int) -> int:
        if 0 < value < THINKING_MIN_TOKENS:
            raise ValueError(f"must be 0 (the CLI's default) or at least {THINKING_MIN_TOKENS}")
        return value

    def timeout_chain_errors(self) -> list[str]:
        """Why the timeout chain is broken, if it is (empty when it holds), naming the leg. Every
        leg runs on the pod's clock: checkout, then the agent, then the grace to write a result
        must fit the pod's deadline, which the controller's running deadline must outlast."""
        errors = []
        legs = self.checkout_timeout_seconds + self.agent_timeout_seconds + self.termination_grace_seconds
        if legs >= self.pod_deadline_seconds:
            errors.append(
                f"checkout timeout ({self.checkout_timeout_seconds} s) + agent timeout "
                f"({self.agent_timeout_seconds} s) + grace ({self.termination_grace_seconds} s) = {legs} s "
                f"must be below the pod deadline ({self.pod_deadline_seconds} s)"
            )
        if self.pod_deadline_seconds >= self.running_deadline_seconds:
            errors.append(
                f"pod deadline ({self.pod_deadline_seconds} s) must be below the running deadline "
                f"({self.running_deadline_seconds} s)"
            )
        return errors


def _split_csv(value: object) -> object:
    """Comma-separated environment values (`A,B`) become lists; JSON-less on purpose."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class WebhookSettings(CommonSettings):
    """The webhook receiver (`review-operator webhook`): signed GitHub deliveries become ReviewJobs.

    At least one secret (`webhook_secret` or `webhook_secret_file`) is required: the receiver
    refuses to start without one rather than accept unsigned deliveries.
    """

    webhook_secret: Annotated[
        SecretStr | None,
        Field(
            description="GitHub webhook secret(s); comma-separated to accept several during a rotation.",
        ),
    ] = None
    webhook_secret_file: Annotated[
        Path | None,
        Field(description="File holding the secret(s) (a mounted Secret), one per line or comma-separated."),
    ] = None
    webhook_host: Annotated[str, Field(description="Address to listen on.")] = "0.0.0.0"  # noqa: S104
    webhook_port: Annotated[int, Field(description="Port to listen on.", ge=0, le=65535)] = 8080
    webhook_max_body_bytes: Annotated[
        int,
        Field(
            description="Largest accepted request body; larger → 413. GitHub caps deliveries at 25 MB, but "
            "pull_request and issue_comment deliveries are far smaller (GitHub's examples: at most 28 KB).",
            ge=1024,
        ),
    ] = 1024 * 1024
    webhook_body_timeout_seconds: Annotated[
        float,
        Field(
            description="Deadline for receiving a request body once its headers arrived; a slower sender "
            "gets 408 and is disconnected (GitHub itself gives up on a delivery after 10 s).",
            gt=0,
            le=300,
        ),
    ] = 10.0
    webhook_body_budget_bytes: Annotated[
        int,
        Field(
            description="Bytes of request bodies being read at once, over all connections (each body "
            "counts its Content-Length, or the body cap when it has none). When full, bodies that have "
            "been arriving for over a second, or silent for a quarter of one, are dropped (408) to make "
            "room; if that is not enough the new request gets 503 before its body is read. Bodies over "
            "64 KiB may fill three quarters of it. At least the body cap.",
            ge=1024,
        ),
    ] = 16 * 1024 * 1024
    webhook_force_interval_seconds: Annotated[
        int,
        Field(
            description="Least time between two `/review force` commands on one pull request (a forced "
            "review runs even for a head already reviewed, so it is paid again); sooner → 429. A plain "
            "`/review` while one is queued or running is answered with that ReviewJob.",
            ge=0,
        ),
    ] = 600
    webhook_github_app_id: Annotated[
        int | None,
        Field(
            description="The GitHub App's id (the chart sets it from github.config.appId): a check_run or "
            "check_suite `rerequested` delivery (GitHub's Re-run) counts only for that App's runs and "
            "suites. Unset: any App's run named review-operator whose external id names one of our "
            "ReviewJobs.",
            ge=1,
        ),
    ] = None
    webhook_trusted_associations: Annotated[
        list[str],
        NoDecode,
        Field(
            description="Comma-separated author associations that get automatic reviews and may use "
            "`/review`; others wait for a trusted `/review` comment."
        ),
    ] = ["OWNER", "MEMBER", "COLLABORATOR"]
    webhook_allowed_repositories: Annotated[
        list[str],
        NoDecode,
        Field(description="Comma-separated `owner/name` allow-list (case-insensitive); empty allows all."),
    ] = []
    webhook_review_drafts: Annotated[bool, Field(description="Also review draft pull requests.")] = False
    webhook_rate_per_second: Annotated[
        float,
        Field(
            description="Per-repository token-bucket refill rate (deliveries/s); 0 disables the limit.", ge=0
        ),
    ] = 5.0
    webhook_rate_burst: Annotated[
        int, Field(description="Per-repository token-bucket size (deliveries accepted at once).", ge=1)
    ] = 50
    webhook_api_timeout_seconds: Annotated[
        float,
        Field(description="Timeout of one Kubernetes API call; a slower API server gives 503.", gt=0, le=30),
    ] = 5.0
    webhook_api_workers: Annotated[
        int,
        Field(
            description="Connections to the Kubernetes API (every call of the webhook is on them).",
            ge=1,
            le=256,
        ),
    ] = 16

    _split = field_validator("webhook_trusted_associations", "webhook_allowed_repositories", mode="before")(
        _split_csv
    )

    @model_validator(mode="after")
    def _budget_holds_a_body(self) -> WebhookSettings:
        if self.webhook_body_budget_bytes < self.webhook_max_body_bytes:
            raise ValueError(
                "REVIEWOP_WEBHOOK_BODY_BUDGET_BYTES must be at least REVIEWOP_WEBHOOK_MAX_BODY_BYTES"
            )
        return self

    def environment_secrets(self) -> list[bytes]:
        """The secrets given in `webhook_secret` (fixed for the life of the process)."""
        if self.webhook_secret is None:
            return []
        return split_secrets(self.webhook_secret.get_secret_value())

    def secrets(self) -> list[bytes]:
        """Every accepted secret (environment and file, as they are now), in order."""
        raw = self.environment_secrets()
        if self.webhook_secret_file is not None:
            raw.extend(split_secrets(self.webhook_secret_file.read_text(encoding="utf-8")))
        return raw


def split_secrets(text: str) -> list[bytes]:
    """Secrets one per line or comma-separated; surrounding blanks and empty entries are ignored."""
    return [item.strip().encode() for item in text.replace("\n", ",").split(",") if item.strip()]

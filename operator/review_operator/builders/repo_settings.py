"""What a repository's `.github/review-operator.yaml` changes about one review, within the cluster's
limits. Pure functions: the controller parses the file (`api.repo_config`), calls
`effective_review_settings` and hands `runner_values()` to the review pod's RunnerSettings.

Precedence: a ReviewJob's own overrides, then the repository's file, then the controller's defaults;
whatever is chosen is capped by `builders.limits.cap_limits`, the same rule the overrides obey.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from review_operator.api.models import Overrides
from review_operator.api.repo_config import REPO_CONFIG_PATH, RepoConfig
from review_operator.api.result import Severity
from review_operator.builders.limits import ReviewLimits, cap_limits, model_allowed
from review_operator.config import ControllerSettings, GitHubSettings


@dataclass(frozen=True)
class RepoReviewSettings:
    """One review's settings after the repository's file was applied and capped."""

    limits: ReviewLimits
    # The lowest severity that makes the review REQUEST_CHANGES; None: the review is a comment.
    request_changes_severity: Severity | None
    instructions: str = ""
    include: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    language: str = ""
    # What the file asked for that the cluster does not allow (for the review's summary).
    problems: list[str] = field(default_factory=list)

    def runner_values(self) -> dict[str, Any]:
        """The RunnerSettings fields these settings fill (pass them to `builders.env.runner_settings`).

        Values only: nothing here is a credential."""
        return {
            "model": self.limits.model,
            "max_turns": self.limits.max_turns,
            "max_budget_usd": self.limits.max_budget_usd,
            "timeout_seconds": self.limits.timeout_seconds,
            "repo_instructions": self.instructions,
            "include_globs": list(self.include),
            "ignore_globs": list(self.ignore),
            "review_language": self.language,
        }


def _capped(key: str, asked: float | None, cap: float, what: str) -> list[str]:
    if asked is None or asked <= cap:
        return []
    return [f"`{REPO_CONFIG_PATH}`: `{key}`: {asked:g} is above {what} ({cap:g}); using {cap:g}"]


def _limit_problems(config: RepoConfig, settings: ControllerSettings, o: Overrides) -> list[str]:
    """What the file asked for beyond the cluster's limits; a limit the ReviewJob overrides is not
    taken from the file, so it is not reported."""
    problems = []
    if config.model is not None and o.model is None and not model_allowed(config.model, settings):
        allowed = ", ".join(dict.fromkeys([settings.model, *settings.override_models]))
        problems.append(
            f"`{REPO_CONFIG_PATH}`: `model`: {config.model} is not allowed in this cluster "
            f"(allowed: {allowed}); using {settings.model}"
        )
    maximum = "this cluster's maximum"
    if o.max_turns is None:
        problems += _capped("maxTurns", config.max_turns, settings.override_max_turns, maximum)
    if o.max_budget_usd is None:
        problems += _capped("maxBudgetUsd", config.max_budget_usd, settings.override_max_budget_usd, maximum)
    if o.timeout_seconds is None:
        problems += _capped(
            "timeoutSeconds",
            config.timeout_seconds,
            settings.agent_timeout_seconds,
            "this cluster's agent timeout",
        )
    return problems


def _request_changes(config: RepoConfig, github: GitHubSettings) -> tuple[Severity | None, list[str]]:
    asked = config.request_changes_severity
    if github.review_event != "REQUEST_CHANGES":
        if asked is None or asked == "never":
            return None, []
        return None, [
            f"`{REPO_CONFIG_PATH}`: `requestChangesSeverity`: this cluster posts comments only "
            "(REQUEST_CHANGES is switched off); ignored"
        ]
    if asked == "never":
        return None, []
    return Severity(asked or github.request_changes_severity), []


def effective_review_settings(
    config: RepoConfig,
    settings: ControllerSettings,
    github: GitHubSettings,
    *,
    overrides: Overrides | None = None,
) -> RepoReviewSettings:
    """The repository's choices over the cluster defaults, capped by the cluster's maxima.

    A model outside the allow-list falls back to the cluster's default; turns, budget and timeout above
    the maxima are cut to them. Each such correction is listed in `problems`. A ReviewJob override
    (`overrides`) wins over the file for the same limit."""
    o = overrides or Overrides()
    limits = cap_limits(
        settings,
        model=o.model or config.model,
        max_turns=o.max_turns or config.max_turns,
        max_budget_usd=o.max_budget_usd or config.max_budget_usd,
        timeout_seconds=o.timeout_seconds or config.timeout_seconds,
    )
    severity, severity_problems = _request_changes(config, github)
    return RepoReviewSettings(
        limits=limits,
        request_changes_severity=severity,
        instructions=config.instructions,
        include=tuple(config.include),
        ignore=tuple(config.ignore),
        language=config.language or "",
        problems=_limit_problems(config, settings, o) + severity_problems,
    )

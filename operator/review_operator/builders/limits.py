"""The one place where requested review limits meet the cluster's maxima. Pure functions.

A ReviewJob's overrides and a repository's `.github/review-operator.yaml` both ask for a model, turns,
a budget and a timeout; neither may buy a longer, more expensive or different-model review than the
operator allows, so both go through `cap_limits`.
"""

from __future__ import annotations

from dataclasses import dataclass

from review_operator.config import ControllerSettings


@dataclass(frozen=True)
class ReviewLimits:
    """The effective limits of one review: what was asked for, capped by the controller's maxima."""

    model: str
    max_turns: int
    max_budget_usd: float
    timeout_seconds: int


def model_allowed(model: str, settings: ControllerSettings) -> bool:
    """The default model and the `override_models` allow-list may be chosen; nothing else."""
    return model == settings.model or model in settings.override_models


def cap_limits(
    settings: ControllerSettings,
    *,
    model: str | None = None,
    max_turns: int | None = None,
    max_budget_usd: float | None = None,
    timeout_seconds: int | None = None,
) -> ReviewLimits:
    """Requested limits (None: not asked for) over the controller's defaults, capped by its maxima."""
    timeout = timeout_seconds or settings.agent_timeout_seconds
    # A request may shorten the agent run but never stretch it past the pod deadline.
    timeout = min(timeout, settings.agent_timeout_seconds)
    chosen = model if model is not None and model_allowed(model, settings) else settings.model
    turns = min(max_turns, settings.override_max_turns) if max_turns else settings.max_turns
    budget = settings.max_budget_usd
    if max_budget_usd:
        budget = min(max_budget_usd, settings.override_max_budget_usd)
    return ReviewLimits(model=chosen, max_turns=turns, max_budget_usd=budget, timeout_seconds=timeout)

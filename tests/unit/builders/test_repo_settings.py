"""A repository's file changes a review only within the cluster's limits (`builders.repo_settings`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from review_operator.api.models import Overrides
from review_operator.api.repo_config import RepoConfig
from review_operator.api.result import Severity
from review_operator.builders.env import runner_env, runner_settings
from review_operator.builders.limits import cap_limits
from review_operator.builders.pod import effective_limits
from review_operator.builders.repo_settings import effective_review_settings
from review_operator.config import ControllerSettings, GitHubSettings, RunnerSettings
from tests.factories import reviewjob

CLUSTER = ControllerSettings(
    model="claude-sonnet-4-5",
    override_models=["claude-haiku-4-5"],
    max_turns=30,
    override_max_turns=60,
    max_budget_usd=2.0,
    override_max_budget_usd=5.0,
    agent_timeout_seconds=600,
)
COMMENTS = GitHubSettings()
REQUEST_CHANGES = GitHubSettings(review_event="REQUEST_CHANGES", request_changes_severity="high")


def test_no_file_gives_the_cluster_defaults() -> None:
    s = effective_review_settings(RepoConfig(), CLUSTER, COMMENTS)
    assert (s.limits.model, s.limits.max_turns, s.limits.max_budget_usd, s.limits.timeout_seconds) == (
        "claude-sonnet-4-5",
        30,
        2.0,
        600,
    )
    assert s.problems == [] and s.request_changes_severity is None


def test_choices_within_the_limits_are_taken() -> None:
    config = RepoConfig(model="claude-haiku-4-5", max_turns=45, max_budget_usd=4, timeout_seconds=300)
    s = effective_review_settings(config, CLUSTER, COMMENTS)
    assert (s.limits.model, s.limits.max_turns, s.limits.max_budget_usd, s.limits.timeout_seconds) == (
        "claude-haiku-4-5",
        45,
        4.0,
        300,
    )
    assert s.problems == []


def test_a_model_outside_the_allow_list_falls_back_with_a_problem() -> None:
    s = effective_review_settings(RepoConfig(model="claude-opus-4-1"), CLUSTER, COMMENTS)
    assert s.limits.model == "claude-sonnet-4-5"
    assert s.problems == [
        "`.github/review-operator.yaml`: `model`: claude-opus-4-1 is not allowed in this cluster "
        "(allowed: claude-sonnet-4-5, claude-haiku-4-5); using claude-sonnet-4-5"
    ]


def test_limits_above_the_maxima_are_capped_with_problems() -> None:
    config = RepoConfig(max_turns=200, max_budget_usd=50, timeout_seconds=3600)
    s = effective_review_settings(config, CLUSTER, COMMENTS)
    assert (s.limits.max_turns, s.limits.max_budget_usd, s.limits.timeout_seconds) == (60, 5.0, 600)
    assert [p.split("`")[3] for p in s.problems] == ["maxTurns", "maxBudgetUsd", "timeoutSeconds"]
    assert "200 is above this cluster's maximum (60); using 60" in s.problems[0]


def test_a_reviewjob_override_wins_over_the_file() -> None:
    config = RepoConfig(model="claude-haiku-4-5", max_turns=45)
    s = effective_review_settings(config, CLUSTER, COMMENTS, overrides=Overrides(maxTurns=10))
    assert (s.limits.model, s.limits.max_turns) == ("claude-haiku-4-5", 10)
    # A capped file value the override replaces is not reported: it was not used.
    capped = RepoConfig(max_turns=200, max_budget_usd=50)
    s = effective_review_settings(capped, CLUSTER, COMMENTS, overrides=Overrides(maxTurns=10))
    assert s.limits.max_turns == 10
    assert [p.split("`")[3] for p in s.problems] == ["maxBudgetUsd"]


@pytest.mark.parametrize(
    ("asked", "github", "expected", "problems"),
    [
        (None, COMMENTS, None, 0),
        ("low", COMMENTS, None, 1),  # the cluster posts comments only
        ("never", COMMENTS, None, 0),
        (None, REQUEST_CHANGES, Severity.HIGH, 0),
        ("medium", REQUEST_CHANGES, Severity.MEDIUM, 0),
        ("never", REQUEST_CHANGES, None, 0),
    ],
)
def test_request_changes_threshold(
    asked: str | None, github: GitHubSettings, expected: Severity | None, problems: int
) -> None:
    s = effective_review_settings(RepoConfig(request_changes_severity=asked), CLUSTER, github)  # type: ignore[arg-type]
    assert s.request_changes_severity == expected
    assert len(s.problems) == problems


def test_effective_limits_of_overrides_are_unchanged_by_the_shared_cap() -> None:
    for overrides in (
        {},
        {"model": "claude-haiku-4-5", "maxTurns": 500 // 5, "maxBudgetUsd": 9, "timeoutSeconds": 60},
        {"model": "not-allowed", "maxTurns": 3, "timeoutSeconds": 6000},
    ):
        job = reviewjob("rj")
        job.spec.overrides = Overrides.model_validate(overrides)
        o = job.spec.overrides
        assert effective_limits(job, CLUSTER) == cap_limits(
            CLUSTER,
            model=o.model,
            max_turns=o.max_turns,
            max_budget_usd=o.max_budget_usd,
            timeout_seconds=o.timeout_seconds,
        )
    job.spec.overrides = Overrides(model="not-allowed", maxTurns=500 // 5)
    assert (effective_limits(job, CLUSTER).model, effective_limits(job, CLUSTER).max_turns) == (
        "claude-sonnet-4-5",
        60,
    )


def test_runner_values_reach_the_pod_environment_and_load_back(monkeypatch: pytest.MonkeyPatch) -> None:
    config = RepoConfig(
        instructions='Money is "Decimal".\nNo floats.',
        include=["src/**"],
        ignore=["src/gen/**"],
        language="pt-BR",
    )
    values = effective_review_settings(config, CLUSTER, COMMENTS).runner_values()
    settings = runner_settings(repo="o/r", checkout=Path("/workspace/repo"), **values)
    env = runner_env(settings)
    assert env["REVIEWOP_RUNNER_IGNORE_GLOBS"] == '["src/gen/**"]'
    assert env["REVIEWOP_RUNNER_REVIEW_LANGUAGE"] == "pt-BR"
    for name in [n for n in os.environ if n.startswith("REVIEWOP_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert RunnerSettings() == settings

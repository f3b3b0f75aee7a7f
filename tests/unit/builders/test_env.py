"""The review container's environment loads back into the very settings it was written from."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import SecretStr

from review_operator.builders.env import runner_env, runner_settings
from review_operator.builders.pod import build_review_pod, review_runner_settings
from review_operator.config import ControllerSettings, RunnerSettings
from tests.factories import reviewjob

SHA = "c" * 40


def _load(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> RunnerSettings:
    """RunnerSettings as the runner reads them, from exactly `env`."""
    with monkeypatch.context() as m:
        for name in [n for n in os.environ if n.startswith("REVIEWOP_")]:
            m.delenv(name)
        for name, value in env.items():
            m.setenv(name, value)
        return RunnerSettings()


def test_every_kind_of_runner_setting_round_trips_through_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = runner_settings(
        repo="octo-org/hello-world",
        pr_number=12,
        head_sha="a" * 40,
        base_sha="b" * 40,
        pr_title='Quote "this", and ünïcode',
        checkout=Path("/workspace/repo"),
        model="claude-haiku-4-5",
        max_turns=7,
        max_budget_usd=0.35,
        timeout_seconds=412.5,
        cli_path="/opt/claude",
        skip_globs=["*.snap", "vendor/**"],
        denied_paths=[Path("/etc"), Path("/proc")],
        min_confidence=0.75,
    )
    assert _load(runner_env(settings), monkeypatch) == settings


def test_the_review_pods_environment_round_trips(monkeypatch: pytest.MonkeyPatch) -> None:
    job = reviewjob("rj")
    job.spec.pull_request.title = "Fix: the thing"
    settings = ControllerSettings(review_env={"ANTHROPIC_BASE_URL": "http://model.example"})
    pod = build_review_pod(job, 1, SHA, settings, "u", False)
    env = {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"] if "value" in e}
    expected = review_runner_settings(job, SHA, settings)
    assert _load(env, monkeypatch) == expected
    assert (expected.head_sha, expected.pr_title) == (SHA, "Fix: the thing")
    assert expected.timeout_seconds == settings.agent_timeout_seconds


def test_the_pull_request_description_reaches_the_review_container(monkeypatch: pytest.MonkeyPatch) -> None:
    job = reviewjob("rj")
    job.spec.pull_request.body = 'Multi-line\n"quoted" </pull_request_description> ünïcode'
    pod = build_review_pod(job, 1, SHA, ControllerSettings(), "u", False)
    env = {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"] if "value" in e}
    assert env["REVIEWOP_RUNNER_PR_BODY"] == job.spec.pull_request.body
    assert _load(env, monkeypatch).pr_body == job.spec.pull_request.body


def test_the_controllers_own_environment_does_not_leak_into_the_pod(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWOP_RUNNER_SKIP_GLOBS", '["*"]')
    monkeypatch.setenv("REVIEWOP_RUNNER_MODEL", "leaked")
    env = runner_env(review_runner_settings(reviewjob("rj"), SHA, ControllerSettings()))
    assert "REVIEWOP_RUNNER_SKIP_GLOBS" not in env
    assert env["REVIEWOP_RUNNER_MODEL"] == ControllerSettings().model


def test_a_secret_is_never_written_as_a_plain_env_value() -> None:
    with pytest.raises(TypeError, match="secret"):
        runner_env(runner_settings(anthropic_api_key=SecretStr("sk-ant-example")))


def test_an_incremental_scope_reaches_the_checkout_and_the_runner_and_a_full_one_does_not() -> None:
    """Issue 20 item 2: the checkout fetches the earlier head and the runner diffs since..head; a
    command's base (its spec has none) comes from the scope."""
    from review_operator.api.models import ReviewScope, ScopeMode

    def envs(scope: ReviewScope | None) -> tuple[dict[str, str], dict[str, str]]:
        pod = build_review_pod(
            reviewjob(), 1, SHA, ControllerSettings(), "https://api.github.com", True, scope=scope
        )
        init, review = pod["spec"]["initContainers"][0], pod["spec"]["containers"][0]
        return (
            {e["name"]: e["value"] for e in init["env"]},
            {e["name"]: e.get("value", "") for e in review["env"]},
        )

    since, base = "e" * 40, "f" * 40
    incremental = ReviewScope(mode=ScopeMode.INCREMENTAL, since=since, base_sha=base, reason="Incremental")
    checkout, runner = envs(incremental)
    assert checkout["REVIEWOP_CHECKOUT_SINCE_SHA"] == since and runner["REVIEWOP_RUNNER_SINCE_SHA"] == since
    for full in (None, ReviewScope(mode=ScopeMode.FULL, base_sha=base, reason="ForcePushed")):
        checkout, runner = envs(full)
        assert "REVIEWOP_CHECKOUT_SINCE_SHA" not in checkout and "REVIEWOP_RUNNER_SINCE_SHA" not in runner
    # A command's ReviewJob records no base: the scope's (GitHub's answer) is used; a push's wins.
    assert reviewjob().spec.pull_request.base_sha is None
    assert envs(incremental)[0]["REVIEWOP_CHECKOUT_BASE_SHA"] == base
    job = reviewjob()
    pull = job.spec.pull_request.model_copy(update={"base_sha": "d" * 40})
    push = job.model_copy(update={"spec": job.spec.model_copy(update={"pull_request": pull})})
    pod = build_review_pod(
        push, 1, SHA, ControllerSettings(), "https://api.github.com", True, scope=incremental
    )
    init_env = {e["name"]: e["value"] for e in pod["spec"]["initContainers"][0]["env"]}
    assert init_env["REVIEWOP_CHECKOUT_BASE_SHA"] == "d" * 40

"""The third cost knob: a thinking budget per model turn, from the controller to the SDK options."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from review_operator.builders.pod import build_review_pod, review_runner_settings
from review_operator.config import ControllerSettings, RunnerSettings
from review_operator.runner.agent import build_options
from tests.factories import reviewjob

SHA = "c" * 40


def _options(settings: RunnerSettings, tmp_path: Path) -> Any:
    return build_options(
        settings,
        system_prompt="s",
        context_dir=tmp_path,
        config_dir=tmp_path,
        hooks=(lambda *a: None, lambda *a: None),
        stderr=lambda _: None,
        environ={},
    )


def test_a_thinking_budget_reaches_the_sdk_options(tmp_path: Path) -> None:
    opts = _options(RunnerSettings(checkout=tmp_path, max_thinking_tokens=4096), tmp_path)
    assert opts.thinking == {"type": "enabled", "budget_tokens": 4096}
    assert opts.max_thinking_tokens is None  # the deprecated field stays unset


def test_without_a_budget_the_cli_keeps_its_default(tmp_path: Path) -> None:
    opts = _options(RunnerSettings(checkout=tmp_path), tmp_path)
    assert opts.thinking is None and opts.max_thinking_tokens is None


def test_the_controllers_budget_reaches_the_review_pod() -> None:
    settings = ControllerSettings(max_thinking_tokens=8000)
    assert review_runner_settings(reviewjob("rj"), SHA, settings).max_thinking_tokens == 8000
    pod = build_review_pod(reviewjob("rj"), 1, SHA, settings, "u", False)
    env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
    assert env["REVIEWOP_RUNNER_MAX_THINKING_TOKENS"] == "8000"


def test_off_by_default_and_then_absent_from_the_pod() -> None:
    settings = ControllerSettings()
    assert settings.max_thinking_tokens == 0
    assert review_runner_settings(reviewjob("rj"), SHA, settings).max_thinking_tokens is None
    pod = build_review_pod(reviewjob("rj"), 1, SHA, settings, "u", False)
    assert "REVIEWOP_RUNNER_MAX_THINKING_TOKENS" not in {
        e["name"] for e in pod["spec"]["containers"][0]["env"]
    }


@pytest.mark.parametrize("value", [1, 1023, 32000, -1])
def test_a_budget_the_api_would_refuse_is_refused_at_start(value: int) -> None:
    with pytest.raises(ValidationError, match="max_thinking_tokens"):
        ControllerSettings(max_thinking_tokens=value)

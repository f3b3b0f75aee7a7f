"""A review image without the Claude Code CLI fails as `CliMissing`, at once: no retry can heal it."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from pathlib import Path

from review_operator.api.models import Phase
from review_operator.api.reasons import Reason
from review_operator.api.result import ResultOutcome, ReviewResult, encode_result
from review_operator.config import ControllerSettings, RunnerSettings
from review_operator.controller.decide.classify import Kind, classify_pod
from review_operator.controller.decide.machine import decide
from review_operator.controller.decide.steps import Finish, PodSeen
from review_operator.runner.agent import RunState, build_options, run_agent
from review_operator.runner.outcome import EXIT_CODES
from tests.factories import T0, reviewjob


def _pod(outcome: ResultOutcome) -> dict[str, object]:
    message = encode_result(ReviewResult(outcome=outcome, error="Claude Code CLI not found"))
    state = {"terminated": {"exitCode": EXIT_CODES[outcome], "reason": "Error", "message": message}}
    return {
        "metadata": {"name": "rj-a1"},
        "status": {"phase": "Failed", "containerStatuses": [{"name": "review", "state": state}]},
    }


def test_a_missing_cli_is_its_own_final_failure() -> None:
    verdict = classify_pod(_pod(ResultOutcome.CLI_MISSING))
    assert (verdict.kind, verdict.reason, verdict.phase) == (Kind.FINAL, Reason.CLI_MISSING, Phase.FAILED)
    assert "Claude Code CLI" in verdict.message


def test_a_missing_cli_is_never_retried_even_with_attempts_left() -> None:
    job = reviewjob("rj", Phase.RUNNING, attempts=1, podName="rj-a1", startTime=T0.isoformat())
    step = decide(
        PodSeen(job, _pod(ResultOutcome.CLI_MISSING)),
        T0 + timedelta(seconds=5),
        ControllerSettings(max_attempts=5),
        random.Random(0),
    )
    assert isinstance(step, Finish)
    assert (step.phase, step.reason) == (Phase.FAILED, Reason.CLI_MISSING.value)


def test_the_runner_reports_a_missing_cli_as_cli_missing(tmp_path: Path) -> None:
    settings = RunnerSettings(checkout=tmp_path, cli_path=str(tmp_path / "no-such-claude"))
    options = build_options(
        settings,
        system_prompt="s",
        context_dir=tmp_path,
        config_dir=tmp_path,
        hooks=(lambda *a: None, lambda *a: None),
        stderr=lambda _: None,
        environ={},
    )
    state = RunState()
    asyncio.run(run_agent("p", options, state, lambda _: None))
    assert state.stopped is not None and state.stopped.outcome is ResultOutcome.CLI_MISSING
